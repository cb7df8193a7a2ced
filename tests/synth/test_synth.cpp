// tests/synth -- the bottle renderer: exact rasterisation, annotations read off the id mask,
// user OBJ models, the data set layout, determinism across thread counts, and the sim-to-real
// knobs (photo backgrounds, close-ups, refraction) keeping every invariant.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <yolite/core/parallel.hpp>
#include <yolite/data/coco.hpp>
#include <yolite/data/fs.hpp>
#include <yolite/data/image_io.hpp>
#include <yolite/synth/dataset_writer.hpp>
#include <yolite/synth/obj_loader.hpp>
#include <yolite/synth/scene_file.hpp>

using namespace yolite;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag) {
    path = fs::temp_directory_path() / ("yolite_test_synth_" + tag + "_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// Extent and pixel count of id `id` in a mask, straight from the pixels.
struct Extent {
  int x0 = 1 << 30, y0 = 1 << 30, x1 = -1, y1 = -1, n = 0;
};
Extent mask_extent(const std::vector<uint16_t>& ids, int w, int h, uint16_t id) {
  Extent e;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      if (ids[size_t(y) * w + x] == id) {
        e.x0 = std::min(e.x0, x), e.y0 = std::min(e.y0, y), e.x1 = std::max(e.x1, x), e.y1 = std::max(e.y1, y);
        ++e.n;
      }
  return e;
}

// Checks every annotation against the mask, and that objects without one are not in it.
void check_annotations_match_mask(const synth::Rendered& r, size_t n_objects) {
  int w = r.image.w, h = r.image.h;
  std::set<int> annotated;
  for (auto& a : r.annotations) {
    annotated.insert(a.object);
    Extent e = mask_extent(r.ids, w, h, uint16_t(a.object + 1));
    REQUIRE(e.n > 0);
    CHECK(a.x0 == e.x0);
    CHECK(a.y0 == e.y0);
    CHECK(a.x1 == e.x1);
    CHECK(a.y1 == e.y1);
    CHECK(a.area == e.n);
    auto b = a.bbox();
    CHECK(b[2] == float(e.x1 - e.x0 + 1));
    CHECK(b[3] == float(e.y1 - e.y0 + 1));
    // the hull polygon spans exactly the box (pixel corners)
    REQUIRE(a.polygon.size() >= 6);
    float px0 = 1e9f, py0 = 1e9f, px1 = -1e9f, py1 = -1e9f;
    for (size_t i = 0; i < a.polygon.size(); i += 2)
      px0 = std::min(px0, a.polygon[i]), px1 = std::max(px1, a.polygon[i]), py0 = std::min(py0, a.polygon[i + 1]),
      py1 = std::max(py1, a.polygon[i + 1]);
    CHECK(px0 == b[0]);
    CHECK(py0 == b[1]);
    CHECK(px1 == b[0] + b[2]);
    CHECK(py1 == b[1] + b[3]);
  }
  for (size_t k = 0; k < n_objects; ++k)
    if (!annotated.count(int(k))) CHECK(mask_extent(r.ids, w, h, uint16_t(k + 1)).n == 0);
}

// Writes the data set of `o` with 1 thread into dir/t1 and with 2 into dir/t2, checks that every
// file is byte-identical and returns how many files there are.
int same_files_for_1_and_2_threads(const std::vector<synth::ClassSpec>& classes, synth::SynthOptions o,
                                   const fs::path& dir) {
  const int before = max_threads();
  o.out = dir / "t1";
  set_threads(1);
  synth::write_dataset(classes, o);
  o.out = dir / "t2";
  set_threads(2);
  synth::write_dataset(classes, o);
  set_threads(before);
  int files = 0;
  for (auto& e : fs::recursive_directory_iterator(dir / "t1")) {
    if (!e.is_regular_file()) continue;
    auto rel = fs::relative(e.path(), dir / "t1");
    REQUIRE(fs::exists(dir / "t2" / rel));
    CHECK_MESSAGE(data::read_file(e.path()) == data::read_file(dir / "t2" / rel), rel.string());
    ++files;
  }
  return files;
}

const char* kCubeObj = R"(# a unit cube, quads, with normals and a material library
mtllib cube.mtl
v -1 -1 -1
v  1 -1 -1
v  1  1 -1
v -1  1 -1
v -1 -1  1
v  1 -1  1
v  1  1  1
v -1  1  1
vn 0 0 -1
vn 0 0 1
vn 0 -1 0
vn 0 1 0
vn -1 0 0
vn 1 0 0
usemtl red
f 1//1 4//1 3//1 2//1
f 5//2 6//2 7//2 8//2
f 1//3 2//3 6//3 5//3
usemtl blue
f 4/1/4 8/1/4 7/1/4 3/1/4
f -8 -4 -1 -5
f 2 3 7 6
)";
const char* kCubeMtl = R"(newmtl red
Kd 0.9 0.1 0.1
Ns 10
newmtl blue
Kd 0.1 0.1 0.9
d 1.0
)";

}  // namespace

TEST_SUITE("synth") {
  TEST_CASE("rasteriser covers every pixel of a triangle fan exactly once") {
    // A 24-gon around an off-grid centre split into 24 triangles: shared edges must neither
    // leave cracks nor count a pixel twice (the top-left rule).
    const int W = 64, H = 48;
    std::vector<synth::detail::ScreenVert> v(25);
    auto fix = [](double p) { return int64_t(std::llround(p * synth::detail::kSub)); };
    v[0].fx = fix(31.3), v[0].fy = fix(23.7);
    for (int k = 0; k < 24; ++k) {
      double a = 2 * 3.14159265358979 * k / 24;
      v[size_t(k) + 1].fx = fix(31.3 + 27.0 * std::cos(a)), v[size_t(k) + 1].fy = fix(23.7 + 21.0 * std::sin(a));
    }
    std::vector<int> cover(W * H, 0);
    for (int k = 0; k < 24; ++k) {
      int a = k + 1, b = (k + 1) % 24 + 1;
      const auto& p = k % 2 ? v[0] : v[size_t(a)];  // mix windings
      const auto& q = k % 2 ? v[size_t(a)] : v[0];
      synth::detail::raster_triangle(p, q, v[size_t(b)], W, H, [&](int x, int y, float l0, float l1, float l2) {
        ++cover[size_t(y) * W + x];
        CHECK(l0 + l1 + l2 == doctest::Approx(1.0f));
      });
    }
    int inside = 0;
    for (int c : cover) {
      CHECK(c <= 1);
      inside += c;
    }
    // a pixel centre well inside the polygon is covered, one far outside is not
    CHECK(cover[size_t(23) * W + 31] == 1);
    CHECK(cover[0] == 0);
    CHECK(inside > 1500);  // ~ area of the 24-gon (pi*27*21 ~ 1781, less the facets)
    CHECK(inside < 1800);
  }

  TEST_CASE("lathe and built-in bottles are unit-height meshes centred on the origin") {
    for (int k = 0; k < 5; ++k) {
      Rng rng(k);
      synth::Mesh m = synth::make_bottle(synth::BottleKind(k), rng);
      CHECK(m.triangle_count() > 1000);
      CHECK(m.normal.size() == m.pos.size());
      CHECK(m.tri_material.size() == m.tris.size());
      synth::Bounds b = synth::bounds(m);
      CHECK(b.size().y == doctest::Approx(1.0f));
      CHECK(b.center().y == doctest::Approx(0.0f).epsilon(1e-4));
      CHECK(b.size().x < 0.6f);  // a bottle is taller than wide
      for (auto& n : m.normal) CHECK(synth::length(n) == doctest::Approx(1.0f).epsilon(1e-3));
    }
    CHECK_THROWS_AS(synth::lathe({{0, 0, 0}, {1, 0, 0}}, {}, 12), Error);                  // no materials
    CHECK_THROWS_AS(synth::lathe({{0, 0, 0}, {1, 0, 3}}, {synth::Material{}}, 12), Error);  // material 3 of 1
  }

  TEST_CASE("every annotation's box is the extent of its visible pixels in the id mask") {
    auto classes = synth::builtin_classes();
    int checked = 0, hidden = 0;
    for (int i = 0; i < 12; ++i) {
      Rng rng = Rng(11).split(uint64_t(i));
      std::vector<int> objs(size_t(1 + i % 4), i % 5);
      if (i % 3 == 0) objs = {0, 1, 2, 3};
      synth::Scene s = synth::sample_scene(classes, objs, 160, 128, {}, rng);
      synth::Rendered r = synth::render_scene(s);
      CHECK(r.image.w == 160);
      CHECK(r.image.h == 128);
      CHECK(r.ids.size() == size_t(160 * 128));
      check_annotations_match_mask(r, s.objects.size());
      checked += int(r.annotations.size());
      hidden += int(s.objects.size() - r.annotations.size());
    }
    CHECK(checked > 10);
    // an object behind another opaque one, both at the same place: fully hidden, no annotation
    Rng rng(5);
    synth::Scene s = synth::sample_setting(128, 128, {}, rng);
    auto box = std::make_shared<const synth::Mesh>([] {
      synth::Mesh m = synth::lathe({{0, 0, 0}, {1, 0, 0}, {1, 1, 0}, {0, 1, 0}}, {synth::Material{}}, 24);
      synth::normalize_mesh(m);
      return m;
    }());
    synth::SceneObject front{0, box, {}}, back{1, box, {}};
    front.pose.translation = {0, 0, -3};
    back.pose.translation = {0, 0, -6};
    back.pose.scale = 0.5f;  // smaller and farther: entirely behind the front one
    s.objects = {front, back};
    synth::Rendered r = synth::render_scene(s);
    REQUIRE(r.annotations.size() == 1);
    CHECK(r.annotations[0].object == 0);
    check_annotations_match_mask(r, 2);
  }

  TEST_CASE("OBJ + MTL reader: polygons, index forms, materials, errors with file:line") {
    TempDir dir("obj");
    data::write_file_atomic(dir.path / "cube.obj", kCubeObj);
    data::write_file_atomic(dir.path / "cube.mtl", kCubeMtl);
    synth::Mesh m = synth::load_obj(dir.path / "cube.obj");
    CHECK(m.triangle_count() == 12);
    REQUIRE(m.materials.size() == 2);
    CHECK(m.materials[0].name == "red");
    CHECK(m.materials[0].color.x == doctest::Approx(0.9f));
    CHECK(m.materials[0].shininess == doctest::Approx(10.0f));
    CHECK(m.materials[1].color.z == doctest::Approx(0.9f));
    synth::Bounds b = synth::bounds(m);
    CHECK(b.size().x == doctest::Approx(2.0f));
    synth::normalize_mesh(m);
    CHECK(synth::bounds(m).size().y == doctest::Approx(1.0f));

    // two faces meeting at a right angle: flat without a smoothing group, averaged with one
    const char* corner = "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nv 1 0 -1\nv 1 1 -1\nf 1 2 3 4\nf 2 5 6 3\n";
    data::write_file_atomic(dir.path / "flat.obj", corner);
    data::write_file_atomic(dir.path / "smooth.obj", std::string("s 1\n") + corner);
    synth::Mesh flat = synth::load_obj(dir.path / "flat.obj"), smooth = synth::load_obj(dir.path / "smooth.obj");
    CHECK(flat.vertex_count() == 8);
    CHECK(smooth.vertex_count() == 6);
    for (auto& n : flat.normal) CHECK(std::max({std::fabs(n.x), std::fabs(n.y), std::fabs(n.z)}) == doctest::Approx(1.0f));
    int diagonal = 0;
    for (auto& n : smooth.normal) diagonal += std::fabs(n.x) > 0.3f && std::fabs(n.z) > 0.3f;  // mixes both faces
    CHECK(diagonal == 2);  // the two vertices on the shared edge

    data::write_file_atomic(dir.path / "bad.obj", "v 0 0 0\nv 1 0 0\nf 1 2 3\n");
    try {
      synth::load_obj(dir.path / "bad.obj");
      FAIL("expected an error");
    } catch (const Error& e) {
      CHECK(std::string(e.what()).find("bad.obj:3") != std::string::npos);
    }
    data::write_file_atomic(dir.path / "bad2.obj", "v 0 0 x\n");
    CHECK_THROWS_WITH_AS(synth::load_obj(dir.path / "bad2.obj"), doctest::Contains("bad2.obj:1"), Error);
    CHECK_THROWS_AS(synth::load_obj(dir.path / "missing.obj"), Error);
  }

  TEST_CASE("a user OBJ model renders as its own class with boxes matching its mask") {
    TempDir dir("user");
    data::write_file_atomic(dir.path / "cube.obj", kCubeObj);
    data::write_file_atomic(dir.path / "cube.mtl", kCubeMtl);
    synth::Mesh m = synth::load_obj(dir.path / "cube.obj");
    synth::normalize_mesh(m);
    synth::ClassSpec user;
    user.name = "Red Cube";
    user.coco_id = 6;
    user.image_size = 96;
    user.models.push_back(std::make_shared<const synth::Mesh>(std::move(m)));
    auto classes = synth::builtin_classes();
    classes.push_back(user);
    synth::SynthOptions o;
    o.out = dir.path / "set";
    o.per_class = 2;
    o.sizes = {64};
    o.seed = 9;
    o.test_image = false;
    synth::write_dataset(classes, o);
    auto j = nlohmann::json::parse(data::read_file(o.out / "coco_instances.json"));
    REQUIRE(j["categories"].size() == 6);
    CHECK(j["categories"][5]["name"] == "Red Cube");
    CHECK(j["categories"][5]["id"] == 6);
    int cube_boxes = 0;
    for (auto& a : j["annotations"]) {
      int img = a["image_id"];
      CHECK((a["category_id"] == 6) == (img >= 10));  // images 10, 11 are the cube's
      cube_boxes += a["category_id"] == 6;
    }
    CHECK(cube_boxes >= 2);
    // the written boxes are those of the re-rendered masks, and red cube pixels are in them
    for (int64_t i = 10; i < 12; ++i) {
      synth::Rendered r = synth::render_dataset_image(classes, o, i);
      check_annotations_match_mask(r, 3);
      size_t k = 0;
      for (auto& a : j["annotations"])
        if (a["image_id"] == i) {
          REQUIRE(k < r.annotations.size());
          auto b = r.annotations[k++].bbox();
          CHECK(a["bbox"][0] == int(b[0]));
          CHECK(a["bbox"][1] == int(b[1]));
          CHECK(a["bbox"][2] == int(b[2]));
          CHECK(a["bbox"][3] == int(b[3]));
        }
      CHECK(k == r.annotations.size());
    }
  }

  TEST_CASE("data set layout: names, ids, sizes, categories; loads with data::read_coco") {
    TempDir dir("layout");
    synth::SynthOptions o;
    o.out = dir.path / "bottles";
    o.per_class = 2;
    o.seed = 1;
    o.contact_sheet = dir.path / "sheet.jpg";
    auto classes = synth::builtin_classes();
    auto sum = synth::write_dataset(classes, o);
    CHECK(sum.images == 10);
    CHECK(fs::exists(o.out / "test_image.jpg"));
    CHECK(fs::exists(o.contact_sheet));
    auto ts = data::image_size(o.out / "test_image.jpg");
    CHECK(ts.w == 1280);
    CHECK(ts.h == 720);
    auto j = nlohmann::json::parse(data::read_file(o.out / "coco_instances.json"));
    REQUIRE(j["images"].size() == 10);
    const int expect_side[5] = {512, 300, 300, 300, 512};  // Beer, Plastic, Soda, Water, Wine
    for (int i = 0; i < 10; ++i) {
      auto& im = j["images"][size_t(i)];
      CHECK(im["id"] == i);
      char name[16];
      std::snprintf(name, sizeof name, "%08d.jpg", i);
      CHECK(im["file_name"] == name);
      CHECK(im["width"] == expect_side[i / 2]);
      CHECK(im["height"] == expect_side[i / 2]);
      auto sz = data::image_size(o.out / "images_raw" / name);
      CHECK(sz.w == expect_side[i / 2]);
      CHECK(sz.h == expect_side[i / 2]);
    }
    REQUIRE(j["categories"].size() == 5);
    for (int c = 0; c < 5; ++c) {
      CHECK(j["categories"][size_t(c)]["id"] == c + 1);
      CHECK(j["categories"][size_t(c)]["name"] == synth::kBottleNames[size_t(c)]);
    }
    REQUIRE(j["annotations"].size() == size_t(sum.annotations));
    REQUIRE(sum.annotations >= 10);
    int64_t next = 1;
    for (auto& a : j["annotations"]) {
      CHECK(a["id"] == next++);
      int img = a["image_id"];
      CHECK(a["category_id"] == img / 2 + 1);  // one class per image
      CHECK(a["iscrowd"] == 0);
      CHECK(a["area"].get<int>() <= a["bbox"][2].get<int>() * a["bbox"][3].get<int>());
      CHECK(a["bbox"][0].get<int>() >= 0);
      CHECK(a["bbox"][0].get<int>() + a["bbox"][2].get<int>() <= expect_side[img / 2]);
    }
    // the project's COCO reader accepts it as is, images found on disk
    data::CocoReport rep;
    data::Coco coco = data::read_coco(o.out / "coco_instances.json", {.images_dir = o.out / "images_raw"}, &rep);
    CHECK(coco.images.size() == 10);
    CHECK(coco.annotations.size() == size_t(sum.annotations));
    CHECK(rep.defects == 0);
    CHECK(rep.clipped == 0);
    data::Dataset ds = data::coco_to_dataset(coco, o.out / "images_raw");
    CHECK(ds.nc() == 5);
    CHECK(ds.names[4] == "Wine Bottle");

    // refuses a non-empty folder unless exist_ok
    CHECK_THROWS_WITH_AS(synth::write_dataset(classes, o), doctest::Contains("not empty"), Error);
    o.exist_ok = true;
    o.per_class = 1;
    CHECK_NOTHROW(synth::write_dataset(classes, o));
  }

  TEST_CASE("sizes cycle over classes; impossible options are refused") {
    auto classes = synth::builtin_classes();
    synth::SynthOptions o;
    o.sizes = {64, 96};
    o.per_class = 1;
    Rng rng(0);
    CHECK(synth::plan_image(classes, o, 0, rng).size == 64);
    CHECK(synth::plan_image(classes, o, 1, rng).size == 96);
    CHECK(synth::plan_image(classes, o, 2, rng).size == 64);
    o.out = "unused";
    auto bad = o;
    bad.per_class = -1;
    CHECK_THROWS_WITH_AS(synth::validate(classes, bad), doctest::Contains("per-class"), Error);
    bad = o;
    bad.sizes = {16};
    CHECK_THROWS_WITH_AS(synth::validate(classes, bad), doctest::Contains("16"), Error);
    bad = o;
    bad.max_objects = 0;
    CHECK_THROWS_AS(synth::validate(classes, bad), Error);
    CHECK_THROWS_AS(synth::validate({}, o), Error);
  }

  TEST_CASE("same seed, 1 vs 2 threads: byte-identical images and json") {
    TempDir dir("det");
    auto classes = synth::builtin_classes();
    synth::SynthOptions o;
    o.per_class = 3;
    o.sizes = {96, 64};
    o.seed = 77;
    o.mixed = true;
    o.test_image = false;
    CHECK(same_files_for_1_and_2_threads(classes, o, dir.path) == 16);  // 15 images + json
    // a different seed gives different pictures
    synth::SynthOptions o2 = o;
    o2.seed = 78;
    CHECK(synth::render_dataset_image(classes, o2, 0).image.px != synth::render_dataset_image(classes, o, 0).image.px);
  }

  TEST_CASE("scene file: classes from built-ins and OBJ models, ranges, errors with file:line") {
    TempDir dir("scene");
    data::write_file_atomic(dir.path / "models" / "cube.obj", kCubeObj);
    data::write_file_atomic(dir.path / "models" / "cube.mtl", kCubeMtl);
    data::write_file_atomic(dir.path / "scene.yaml", R"(# test scene
max_objects: 2
min_size: 0.2
max_size: 0.5
jpeg: [80, 90]
classes:
  - name: Wine Bottle
    builtin: wine
  - name: Red Cube
    models: [models/cube.obj]
    size: 64
)");
    synth::SceneFile f = synth::read_scene_file(dir.path / "scene.yaml");
    REQUIRE(f.classes.size() == 2);
    CHECK(f.classes[0].coco_id == 1);
    CHECK(f.classes[0].builtin == synth::BottleKind::wine);
    CHECK(f.classes[0].image_size == 512);
    CHECK(f.classes[1].coco_id == 2);
    CHECK(f.classes[1].image_size == 64);
    REQUIRE(f.classes[1].models.size() == 1);
    CHECK(f.classes[1].models[0]->triangle_count() == 12);
    CHECK(f.max_objects == 2);
    CHECK(f.scene.min_size == doctest::Approx(0.2f));
    CHECK(f.scene.jpeg_max == 90);
    CHECK(synth::bottle_kind_from_name("Soda Bottle") == synth::BottleKind::soda);
    CHECK(!synth::bottle_kind_from_name("milk").has_value());

    data::write_file_atomic(dir.path / "bad.yaml", "classes:\n  - name: A\n    builtin: milk\n");
    CHECK_THROWS_WITH_AS(synth::read_scene_file(dir.path / "bad.yaml"), doctest::Contains("bad.yaml:3"), Error);
    data::write_file_atomic(dir.path / "bad2.yaml", "colour: red\nclasses:\n  - name: A\n    builtin: beer\n");
    CHECK_THROWS_WITH_AS(synth::read_scene_file(dir.path / "bad2.yaml"), doctest::Contains("unknown key 'colour'"), Error);
    data::write_file_atomic(dir.path / "bad3.yaml", "classes:\n  - name: A\n");
    CHECK_THROWS_AS(synth::read_scene_file(dir.path / "bad3.yaml"), Error);
  }
}

TEST_SUITE("synth") {
  TEST_CASE("backgrounds folder: usable photos found, the rest skipped by name, empty folders refused") {
    TempDir dir("photos");
    Image a(64, 48, 3), b(40, 90, 3), tiny(8, 8, 3);
    for (size_t i = 0; i < a.px.size(); ++i) a.px[i] = uint8_t(i * 13);
    for (size_t i = 0; i < b.px.size(); ++i) b.px[i] = uint8_t(200 - i % 50);
    data::save_image(dir.path / "p" / "a.jpg", a);
    data::save_image(dir.path / "p" / "sub" / "b.PNG", b);
    data::save_image(dir.path / "p" / "tiny.png", tiny);
    data::write_file_atomic(dir.path / "p" / "notes.txt", "not a photo");
    data::write_file_atomic(dir.path / "p" / "broken.jpg", "\xff\xd8\xff garbage");
    data::write_file_atomic(dir.path / "p" / "empty.png", "");
    std::vector<std::string> notes;
    auto f = synth::scan_photo_folder(dir.path / "p", [&](const std::string& m) { notes.push_back(m); });
    REQUIRE(f.files.size() == 2);
    CHECK(f.files[0].filename() == "a.jpg");
    CHECK(f.files[1].filename() == "b.PNG");
    REQUIRE(f.skipped.size() == 4);
    REQUIRE(notes.size() == 4);
    std::string all;
    for (auto& n : notes) all += n + "\n";
    for (const char* name : {"notes.txt", "broken.jpg", "empty.png", "tiny.png"})
      CHECK_MESSAGE(all.find(name) != std::string::npos, name);
    CHECK(all.find("not an image") != std::string::npos);
    CHECK(all.find("too small") != std::string::npos);

    fs::create_directories(dir.path / "none");
    data::write_file_atomic(dir.path / "none" / "readme.md", "x");
    CHECK_THROWS_WITH_AS(synth::scan_photo_folder(dir.path / "none"), doctest::Contains("no usable background photo"), Error);
    CHECK_THROWS_WITH_AS(synth::scan_photo_folder(dir.path / "missing"), doctest::Contains("missing"), Error);
    CHECK_THROWS_WITH_AS(synth::scan_photo_folder(dir.path / "p" / "a.jpg"), doctest::Contains("a.jpg"), Error);
  }

  TEST_CASE("photo backgrounds: the photo shows behind the objects, annotations still equal the mask") {
    TempDir dir("photo_render");
    Image red(120, 80, 3);
    for (int y = 0; y < 80; ++y)
      for (int x = 0; x < 120; ++x) red.at(x, y)[0] = 220, red.at(x, y)[1] = 30, red.at(x, y)[2] = uint8_t(x);
    data::save_image(dir.path / "red.png", red);
    auto classes = synth::builtin_classes();
    synth::SceneOptions so;
    so.photos = {dir.path / "red.png"};
    so.photo_probability = 1.0f;
    so.max_noise = 0, so.blur_probability = 0;
    int checked = 0;
    for (int i = 0; i < 8; ++i) {
      Rng rng = Rng(21).split(uint64_t(i));
      synth::Scene s = synth::sample_scene(classes, {i % 5, (i + 2) % 5}, 96, 96, so, rng);
      REQUIRE(s.photo == so.photos[0]);
      synth::Rendered r = synth::render_scene(s);
      check_annotations_match_mask(r, s.objects.size());
      checked += int(r.annotations.size());
      // background pixels carry the photo's colours (exposure scales them a little)
      double red_sum = 0, green_sum = 0;
      int n = 0;
      for (int y = 0; y < 96; ++y)
        for (int x = 0; x < 96; ++x)
          if (r.ids[size_t(y) * 96 + size_t(x)] == 0) red_sum += r.image.at(x, y)[0], green_sum += r.image.at(x, y)[1], ++n;
      REQUIRE(n > 0);
      CHECK(red_sum / n > 150);
      CHECK(green_sum / n < 60);
    }
    CHECK(checked > 4);
    // without photos the random stream is untouched: the same scene as before the option existed
    Rng r1 = Rng(3).split(1), r2 = Rng(3).split(1);
    synth::SceneOptions none;
    synth::SceneOptions prob_only;
    prob_only.photo_probability = 0.3f;
    auto s1 = synth::sample_scene(classes, {0}, 64, 64, none, r1), s2 = synth::sample_scene(classes, {0}, 64, 64, prob_only, r2);
    CHECK(synth::render_scene(s1).image.px == synth::render_scene(s2).image.px);
  }

  TEST_CASE("photo backgrounds: same seed, 1 vs 2 threads, byte-identical data sets") {
    TempDir dir("photo_det");
    Image p(100, 70, 3);
    for (size_t i = 0; i < p.px.size(); ++i) p.px[i] = uint8_t((i * 7) % 251);
    data::save_image(dir.path / "bg" / "p.jpg", p);
    data::save_image(dir.path / "bg" / "q.png", p);
    auto classes = synth::builtin_classes();
    synth::SynthOptions o;
    o.per_class = 2;
    o.sizes = {80};
    o.seed = 5;
    o.test_image = false;
    o.scene.photos = synth::scan_photo_folder(dir.path / "bg").files;
    o.scene.photo_probability = 0.6f;
    CHECK(same_files_for_1_and_2_threads(classes, o, dir.path) == 11);  // 10 images + json
  }
}

TEST_SUITE("synth") {
  TEST_CASE("close-ups: a large first object, possibly cut by the frame; annotations equal the mask") {
    auto classes = synth::builtin_classes();
    synth::SceneOptions so;
    so.closeup_probability = 1.0f;
    int large = 0, cut = 0, n = 0;
    for (int i = 0; i < 24; ++i) {
      Rng rng = Rng(31).split(uint64_t(i));
      synth::Scene s = synth::sample_scene(classes, {i % 5, (i + 1) % 5}, 128, 96, so, rng);
      synth::Rendered r = synth::render_scene(s);
      check_annotations_match_mask(r, s.objects.size());
      for (auto& a : r.annotations)
        if (a.object == 0) {
          ++n;
          const int side = std::max(a.x1 - a.x0 + 1, a.y1 - a.y0 + 1);
          large += side >= 40;  // the close-up spans >= 0.5 x 96 px on its long side, minus occlusion
          cut += a.x0 == 0 || a.y0 == 0 || a.x1 == 127 || a.y1 == 95;
        }
    }
    CHECK(n >= 20);
    CHECK(large >= n * 3 / 4);
    CHECK(cut >= 3);  // some leave the frame
    // probability 0 leaves the random stream as it was
    Rng r1 = Rng(4).split(2), r2 = Rng(4).split(2);
    synth::SceneOptions zero;
    zero.closeup_min = 0.7f;
    auto s1 = synth::sample_scene(classes, {1, 2}, 64, 64, {}, r1), s2 = synth::sample_scene(classes, {1, 2}, 64, 64, zero, r2);
    CHECK(synth::render_scene(s1).image.px == synth::render_scene(s2).image.px);
  }
}

TEST_SUITE("synth") {
  TEST_CASE("refraction: only what is seen through clear bottles moves; the id mask is unchanged") {
    auto classes = synth::builtin_classes();
    int moved = 0;
    for (int i = 0; i < 6; ++i) {
      Rng rng = Rng(41).split(uint64_t(i));
      synth::SceneOptions so;
      so.max_noise = 0, so.blur_probability = 0;
      synth::Scene s = synth::sample_scene(classes, {3, 1}, 96, 96, so, rng);  // water + plastic: clear PET
      synth::Rendered plain = synth::render_scene(s);
      s.light.refraction_px = 6.0f;
      synth::Rendered bent = synth::render_scene(s);
      CHECK(bent.ids == plain.ids);
      CHECK(bent.annotations.size() == plain.annotations.size());
      check_annotations_match_mask(bent, s.objects.size());
      for (size_t p = 0; p < plain.ids.size(); ++p) {
        const bool same = plain.image.px[3 * p] == bent.image.px[3 * p] && plain.image.px[3 * p + 1] == bent.image.px[3 * p + 1] &&
                          plain.image.px[3 * p + 2] == bent.image.px[3 * p + 2];
        if (plain.ids[p] == 0) CHECK(same);  // the background itself never moves
        moved += !same;
      }
    }
    CHECK(moved > 100);
  }
}
