// tests/synth -- the bottle renderer: exact rasterisation, annotations read off the id mask,
// user OBJ models, the data set layout, determinism across thread counts, and the sim-to-real
// knobs (photo backgrounds, close-ups, refraction) keeping every invariant.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
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
vt 0.5 0.5
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
  TEST_CASE("framed close-ups: one whole, large bottle inside the frame; annotations equal the mask") {
    auto classes = synth::builtin_classes();
    synth::SceneOptions so;
    so.closeup_probability = 1.0f, so.closeup_framed = 1.0f;
    so.closeup_min = 0.8f, so.closeup_max = 1.4f;  // often too large to fit: shrunk to the margins
    int n = 0, inside = 0, large = 0;
    for (int i = 0; i < 24; ++i) {
      Rng rng = Rng(37).split(uint64_t(i));
      const int w = i % 2 ? 128 : 96, h = i % 2 ? 96 : 128;
      synth::Scene s = synth::sample_scene(classes, {i % 5, (i + 1) % 5, (i + 2) % 5}, w, h, so, rng);
      REQUIRE(s.objects.size() == 1);  // the bottle alone: the other planned objects are left out
      synth::Rendered r = synth::render_scene(s);
      check_annotations_match_mask(r, s.objects.size());
      REQUIRE(r.annotations.size() == 1);
      const auto& a = r.annotations[0];
      ++n;
      // the margin is >= 1% of the side; perspective may still carry the near end a pixel further
      inside += a.x0 >= 1 && a.y0 >= 1 && a.x1 <= w - 2 && a.y1 <= h - 2;
      large += std::max(double(a.x1 - a.x0 + 1) / w, double(a.y1 - a.y0 + 1) / h) >= 0.6;
    }
    CHECK(n == 24);
    CHECK(inside >= 22);
    CHECK(large >= 18);
    // without close-ups the knob draws nothing from the random stream
    Rng r1 = Rng(8).split(3), r2 = Rng(8).split(3);
    synth::SceneOptions a, b;
    b.closeup_framed = 1.0f;
    auto s1 = synth::sample_scene(classes, {1, 2}, 64, 64, a, r1), s2 = synth::sample_scene(classes, {1, 2}, 64, 64, b, r2);
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

namespace {

// Mean and standard deviation of all channels of an image (0..255).
void image_stats(const Image& img, double& mean, double& sd) {
  double s = 0, s2 = 0;
  for (uint8_t v : img.px) s += v, s2 += double(v) * v;
  const double n = double(img.px.size());
  mean = s / n, sd = std::sqrt(std::max(0.0, s2 / n - mean * mean));
}

synth::SceneOptions clean_options() {  // no noise, blur or JPEG-range effects in the pixels
  synth::SceneOptions so;
  so.max_noise = 0, so.blur_probability = 0;
  return so;
}

// n random 96x96 scenes of the built-in classes drawn with `so`: every annotation must be the
// extent of its object's visible pixels in the id mask.
void check_scenes_match_masks(const synth::SceneOptions& so, const std::vector<int>& objects, uint64_t seed, int n) {
  auto classes = synth::builtin_classes();
  for (int i = 0; i < n; ++i) {
    Rng rng = Rng(seed).split(uint64_t(i));
    synth::Scene s = synth::sample_scene(classes, objects, 96, 96, so, rng);
    check_annotations_match_mask(synth::render_scene(s), s.objects.size());
  }
}

}  // namespace

TEST_SUITE("synth") {
  TEST_CASE("natural grounds: every kind is textured, in range and the same for the same seed") {
    for (int k = 0; k < int(synth::GroundKind::count); ++k) {
      const std::string name = synth::kGroundNames[k];
      CAPTURE(name);
      for (int seed = 0; seed < 3; ++seed) {
        std::vector<float> a, b;
        Rng r1(uint64_t(100 + seed)), r2(uint64_t(100 + seed));
        synth::paint_ground(a, 120, 90, r1, synth::GroundKind(k));
        synth::paint_ground(b, 120, 90, r2, synth::GroundKind(k));
        REQUIRE(a.size() == size_t(120 * 90 * 3));
        CHECK(a == b);
        double s = 0, s2 = 0;
        bool ok = true;
        for (float v : a) ok = ok && std::isfinite(v) && v >= 0.0f && v <= 1.0f, s += v, s2 += double(v) * v;
        CHECK(ok);
        const double mean = s / double(a.size()), sd = std::sqrt(s2 / double(a.size()) - mean * mean);
        CHECK(sd > 0.01);  // not a flat colour
      }
    }
  }

  TEST_CASE("rendered clutter backgrounds: busy, deterministic, and the annotations still equal the mask") {
    std::vector<float> a, b;
    Rng r1(7), r2(7);
    synth::paint_clutter3d(a, 96, 96, r1);
    synth::paint_clutter3d(b, 96, 96, r2);
    CHECK(a == b);
    auto classes = synth::builtin_classes();
    synth::SceneOptions so = clean_options();
    so.clutter3d_probability = 1.0f;
    for (int i = 0; i < 5; ++i) {
      Rng rng = Rng(61).split(uint64_t(i));
      synth::Scene s = synth::sample_scene(classes, {i % 5, (i + 2) % 5}, 96, 80, so, rng);
      CHECK(s.clutter3d);
      synth::Rendered r = synth::render_scene(s);
      check_annotations_match_mask(r, s.objects.size());
      double mean, sd;
      image_stats(r.image, mean, sd);
      CHECK(sd > 10);
    }
  }

  TEST_CASE("distractors hide the bottles behind them; annotations equal what stays visible") {
    auto classes = synth::builtin_classes();
    synth::SceneOptions so = clean_options();
    so.max_distractors = 8;
    int hidden = 0, with = 0;
    for (int i = 0; i < 16; ++i) {
      Rng rng = Rng(71).split(uint64_t(i));
      synth::Scene s = synth::sample_scene(classes, {i % 5, (i + 1) % 5, (i + 3) % 5}, 96, 96, so, rng);
      with += !s.distractors.empty();
      for (auto& d : s.distractors) CHECK(d.cls == -1);
      synth::Rendered r = synth::render_scene(s);
      check_annotations_match_mask(r, s.objects.size());
      synth::Scene bare = s;
      bare.distractors.clear();
      synth::Rendered rb = synth::render_scene(bare);
      for (size_t p = 0; p < r.ids.size(); ++p) {
        // a bottle pixel with distractors was a pixel of the same bottle without them
        if (r.ids[p] != 0) CHECK(rb.ids[p] == r.ids[p]);
        hidden += rb.ids[p] != 0 && r.ids[p] == 0;
      }
    }
    CHECK(with >= 10);
    CHECK(hidden > 50);  // some bottle pixels are covered by distractors
  }

  TEST_CASE("rows of one bottle: several copies of the image's class, the boxes still their visible pixels") {
    auto classes = synth::builtin_classes();
    synth::SceneOptions so = clean_options();
    so.rows_probability = 1.0f;
    so.shadow_probability = 1.0f, so.max_distractors = 2;  // shadows and props over rows, too
    int many = 0, partly_hidden = 0;
    for (int i = 0; i < 10; ++i) {
      Rng rng = Rng(91).split(uint64_t(i));
      synth::Scene s = synth::sample_scene(classes, {i % 5}, 96, 96, so, rng);
      REQUIRE(!s.objects.empty());
      for (auto& o : s.objects) {
        CHECK(o.cls == i % 5);
        CHECK(o.mesh == s.objects.front().mesh);  // one product: the same mesh
      }
      CHECK(s.objects.size() <= 14);
      many += s.objects.size() >= 3;
      synth::Rendered r = synth::render_scene(s);
      check_annotations_match_mask(r, s.objects.size());
      CHECK(r.objects == int(s.objects.size()));
      // copies overlap: some annotation is smaller than the copy's full projected extent
      for (size_t k = 0; k < s.objects.size(); ++k) {
        synth::Scene alone = s;
        alone.objects = {s.objects[k]};
        alone.distractors.clear();
        synth::Rendered ra = synth::render_scene(alone);
        long own = 0, seen = 0;
        for (size_t p = 0; p < ra.ids.size(); ++p) own += ra.ids[p] != 0, seen += r.ids[p] == uint16_t(k + 1);
        CHECK(seen <= own);
        partly_hidden += seen < own;
      }
    }
    CHECK(many >= 8);
    CHECK(partly_hidden >= 10);
    // the data set's summary counts a row's copies as objects
    TempDir dir("rows");
    synth::SynthOptions o;
    o.out = dir.path / "set";
    o.per_class = 2, o.sizes = {64}, o.seed = 3, o.test_image = false;
    o.scene.rows_probability = 1.0f;
    synth::SynthSummary sum = synth::write_dataset(classes, o);
    CHECK(sum.images == 10);
    CHECK(sum.hidden >= 0);
    CHECK(sum.annotations >= 3 * sum.images);
    // off: exactly the planned objects
    Rng a(5);
    synth::Scene s0 = synth::sample_scene(classes, {1, 1}, 96, 96, clean_options(), a);
    CHECK(s0.objects.size() == 2);
  }

  TEST_CASE("min_visible: objects mostly hidden get no label and leave the id mask; the image is unchanged") {
    auto classes = synth::builtin_classes();
    synth::SceneOptions so = clean_options();
    so.rows_probability = 0.7f, so.max_distractors = 8;
    int dropped = 0, kept_partly = 0;
    for (int i = 0; i < 24; ++i) {
      Rng rng = Rng(103).split(uint64_t(i));
      synth::Scene s = synth::sample_scene(classes, {i % 5, (i + 2) % 5, (i + 4) % 5}, 96, 96, so, rng);
      CHECK(s.min_visible == 0.0f);
      synth::Rendered all = synth::render_scene(s);
      s.min_visible = 0.5f;
      synth::Rendered r = synth::render_scene(s);
      CHECK(r.image.px == all.image.px);
      check_annotations_match_mask(r, s.objects.size());
      std::set<int> annotated;
      for (auto& a : r.annotations) annotated.insert(a.object);
      for (size_t k = 0; k < s.objects.size(); ++k) {
        synth::Scene alone = s;
        alone.objects = {s.objects[k]};
        alone.distractors.clear();
        alone.min_visible = 0;
        synth::Rendered ra = synth::render_scene(alone);
        const auto id = uint16_t(k + 1);
        const long own = long(std::count(ra.ids.begin(), ra.ids.end(), uint16_t(1)));
        const long seen = long(std::count(all.ids.begin(), all.ids.end(), id));
        const long left = long(std::count(r.ids.begin(), r.ids.end(), id));
        if (seen == 0) continue;
        if (2 * seen < own) {
          CHECK(left == 0);
          CHECK(annotated.count(int(k)) == 0);
          ++dropped;
        } else {
          CHECK(left == seen);
          CHECK(annotated.count(int(k)) == 1);
          kept_partly += seen < own;
        }
      }
    }
    CHECK(dropped >= 5);
    CHECK(kept_partly >= 5);
  }

  TEST_CASE("studio backdrops: light, nearly grey, deterministic; the annotations still equal the mask") {
    for (int seed = 0; seed < 6; ++seed) {
      std::vector<float> a, b;
      Rng r1(uint64_t(300 + seed)), r2(uint64_t(300 + seed));
      synth::paint_studio(a, 80, 60, r1);
      synth::paint_studio(b, 80, 60, r2);
      REQUIRE(a.size() == size_t(80 * 60 * 3));
      CHECK(a == b);
      double sum = 0, chroma = 0;
      for (size_t i = 0; i < a.size(); i += 3) {
        sum += a[i] + a[i + 1] + a[i + 2];
        chroma += std::max({a[i], a[i + 1], a[i + 2]}) - std::min({a[i], a[i + 1], a[i + 2]});
      }
      CHECK(sum / double(a.size()) > 0.45);           // light paper
      CHECK(chroma / double(a.size() / 3) < 0.1);    // nearly grey
    }
    auto classes = synth::builtin_classes();
    synth::SceneOptions so = clean_options();
    so.studio_probability = 1.0f, so.ground_probability = 1.0f, so.clutter3d_probability = 1.0f;
    for (int i = 0; i < 5; ++i) {
      Rng rng = Rng(97).split(uint64_t(i));
      synth::Scene s = synth::sample_scene(classes, {i % 5, (i + 1) % 5}, 96, 96, so, rng);
      CHECK(s.studio);  // it wins over the other backgrounds
      CHECK_FALSE(s.ground);
      CHECK_FALSE(s.clutter3d);
      check_annotations_match_mask(synth::render_scene(s), s.objects.size());
    }
  }

  TEST_CASE("shadows darken what is behind the objects and never touch the id mask") {
    auto classes = synth::builtin_classes();
    int darker = 0;
    for (int i = 0; i < 6; ++i) {
      Rng rng = Rng(81).split(uint64_t(i));
      synth::SceneOptions so = clean_options();
      so.max_distractors = 2;
      synth::Scene s = synth::sample_scene(classes, {i % 5, (i + 3) % 5}, 96, 96, so, rng);
      synth::Rendered plain = synth::render_scene(s);
      s.shadow = synth::Shadow{0.6f, 5, 4, 2};
      synth::Rendered shaded = synth::render_scene(s);
      CHECK(shaded.ids == plain.ids);
      check_annotations_match_mask(shaded, s.objects.size());
      bool never_brighter = true;
      for (size_t v = 0; v < plain.image.px.size(); ++v) {
        never_brighter = never_brighter && shaded.image.px[v] <= plain.image.px[v];
        darker += shaded.image.px[v] + 8 < plain.image.px[v];
      }
      CHECK(never_brighter);
    }
    CHECK(darker > 200);
    // the shadow lands where it is sent: a lone opaque square, offset right and down
    std::vector<float> rgb(20 * 20 * 3, 1.0f), cover(20 * 20, 0.0f);
    for (int y = 5; y < 10; ++y)
      for (int x = 5; x < 10; ++x) cover[size_t(y * 20 + x)] = 1.0f;
    synth::cast_shadow(rgb, 20, 20, cover, synth::Shadow{0.5f, 3, 2, 0});
    CHECK(rgb[size_t((7 * 20 + 12) * 3)] == doctest::Approx(0.5f));  // (12, 7) = (9 + 3, 5 + 2)
    CHECK(rgb[size_t((6 * 20 + 6) * 3)] == doctest::Approx(1.0f));   // (6, 6) is not under the shifted square
  }

  TEST_CASE("crushed bottles: dented and squashed, still closed, unit normals; annotations equal the mask") {
    for (int kind : {1, 2, 3}) {
      Rng rng(uint64_t(90 + kind));
      synth::Mesh m = synth::make_bottle(synth::BottleKind(kind), rng);
      synth::Mesh c = m;
      Rng crng(5);
      synth::crush(c, crng, 1.0f);
      REQUIRE(c.pos.size() == m.pos.size());
      double moved = 0;
      std::map<std::array<float, 3>, std::array<float, 3>> where;  // vertices at one place move together
      bool closed = true, unit = true;
      for (size_t v = 0; v < m.pos.size(); ++v) {
        moved = std::max(moved, double(synth::length(c.pos[v] - m.pos[v])));
        std::array<float, 3> from{m.pos[v].x, m.pos[v].y, m.pos[v].z}, to{c.pos[v].x, c.pos[v].y, c.pos[v].z};
        auto [it, fresh] = where.emplace(from, to);
        closed = closed && (fresh || it->second == to);
        unit = unit && std::fabs(synth::length(c.normal[v]) - 1.0f) < 1e-3f;
      }
      CHECK(closed);
      CHECK(unit);
      CHECK(moved > 0.03);
    }
    synth::SceneOptions so = clean_options();
    so.crush_probability = 1.0f;
    check_scenes_match_masks(so, {1, 2, 3}, 91, 4);
  }

  TEST_CASE("label-less bottles: labels taken off whole or torn to a strip; the rest of the mesh untouched") {
    int whole = 0, torn = 0;
    for (int seed = 0; seed < 12; ++seed) {
      Rng rng(uint64_t(300 + seed));
      const synth::Mesh m = synth::make_bottle(synth::BottleKind::water, rng);
      synth::Mesh t = m;
      Rng trng(static_cast<uint64_t>(seed));
      synth::tear_labels(t, trng);
      bool same_pos = t.pos.size() == m.pos.size();
      for (size_t v = 0; same_pos && v < m.pos.size(); ++v)
        same_pos = t.pos[v].x == m.pos[v].x && t.pos[v].y == m.pos[v].y && t.pos[v].z == m.pos[v].z;
      CHECK(same_pos);
      CHECK(t.tris == m.tris);
      size_t label = 0, left = 0;
      for (size_t i = 0; i < m.tris.size(); ++i) {
        const bool was = m.materials[m.tri_material[i]].name == "label";
        label += was;
        if (!was) {
          CHECK(t.tri_material[i] == m.tri_material[i]);
          continue;
        }
        if (t.tri_material[i] == 0) continue;
        CHECK(t.tri_material[i] == m.tri_material[i]);
        ++left;
      }
      REQUIRE(label > 0);
      if (left == 0) {
        ++whole;
      } else {
        ++torn;
        CHECK(left < label * 62 / 100);  // a strip of at most 60% of the way round (+ the triangles it cuts)
        CHECK(left > label * 13 / 100);
      }
    }
    CHECK(whole > 0);
    CHECK(torn > 0);
    // in scenes: the boxes stay the visible pixels
    synth::SceneOptions so = clean_options();
    so.bare_probability = 1.0f;
    check_scenes_match_masks(so, {2, 3, 4}, 93, 3);
  }

  TEST_CASE("clear plastic: PET and HDPE bodies become faint and colourless; glass bottles and labels stay") {
    auto classes = synth::builtin_classes();  // beer, plastic, soda, water, wine
    synth::SceneOptions so = clean_options();
    so.clear_probability = 1.0f;
    for (int k = 0; k < 5; ++k) {
      Rng a = Rng(61).split(uint64_t(k)), b = a;
      auto plain = synth::make_object_mesh(classes[size_t(k)], clean_options(), a);
      auto clear = synth::make_object_mesh(classes[size_t(k)], so, b);
      REQUIRE(plain->materials.size() == clear->materials.size());
      const synth::Material &p0 = plain->materials[0], &c0 = clear->materials[0];
      if (k == 0 || k == 4) {  // glass keeps its colour, and nothing is drawn from the stream
        CHECK(c0.color.x == p0.color.x);
        CHECK(c0.opacity == p0.opacity);
        CHECK(a.next_u64() == b.next_u64());
        continue;
      }
      CHECK(c0.opacity <= 0.25f);
      const float hi = std::max({c0.color.x, c0.color.y, c0.color.z}), lo = std::min({c0.color.x, c0.color.y, c0.color.z});
      CHECK(hi - lo <= 0.1f * hi + 1e-6f);  // saturation <= 0.1
      bool same_shape = clear->pos.size() == plain->pos.size();
      for (size_t v = 0; same_shape && v < plain->pos.size(); ++v)
        same_shape = clear->pos[v].x == plain->pos[v].x && clear->pos[v].y == plain->pos[v].y && clear->pos[v].z == plain->pos[v].z;
      CHECK(same_shape);  // the shape is untouched
      for (size_t m = 1; m < plain->materials.size(); ++m) CHECK(clear->materials[m].name == plain->materials[m].name);
    }
    check_scenes_match_masks(so, {1, 2, 3}, 95, 3);
  }

  TEST_CASE("liquid: see-through bodies filled to a level, below it opaque, tinted, lensing; glass untouched") {
    auto classes = synth::builtin_classes();  // beer, plastic, soda, water, wine
    synth::SceneOptions so = clean_options();
    so.liquid_probability = 1.0f;
    int filled = 0;
    for (int k = 0; k < 5; ++k) {
      Rng a = Rng(71).split(uint64_t(k)), b = a;
      auto plain = synth::make_object_mesh(classes[size_t(k)], clean_options(), a);
      auto full = synth::make_object_mesh(classes[size_t(k)], so, b);
      if (k == 0 || k == 1 || k == 4) {  // glass and opaque HDPE: nothing changes, nothing is drawn
        CHECK(full->materials.size() == plain->materials.size());
        CHECK(full->tri_material == plain->tri_material);
        CHECK(a.next_u64() == b.next_u64());
        continue;
      }
      ++filled;
      REQUIRE(full->materials.size() == plain->materials.size() + 1);
      const synth::Material& body = plain->materials[0];
      const synth::Material& liquid = full->materials.back();
      CHECK(liquid.opacity > body.opacity);
      CHECK(liquid.opacity <= 0.8f);
      CHECK(liquid.lens >= 1.5f);
      CHECK(body.lens == 0.0f);
      REQUIRE(full->pos.size() == plain->pos.size());
      CHECK(full->tris == plain->tris);  // the shape is untouched
      // only body triangles change, and those that do lie below every body triangle that does not
      const auto id = uint16_t(full->materials.size() - 1);
      float top_filled = -1e9f, bottom_empty = 1e9f;
      int moved = 0, kept = 0;
      for (size_t t = 0; t < plain->tris.size(); ++t) {
        const auto& tri = plain->tris[t];
        const float cy = (plain->pos[tri[0]].y + plain->pos[tri[1]].y + plain->pos[tri[2]].y) / 3.0f;
        if (plain->tri_material[t] != 0) {
          CHECK(full->tri_material[t] == plain->tri_material[t]);
          continue;
        }
        if (full->tri_material[t] == id) {
          top_filled = std::max(top_filled, cy), ++moved;
        } else {
          CHECK(full->tri_material[t] == 0);
          bottom_empty = std::min(bottom_empty, cy), ++kept;
        }
      }
      CHECK(moved > 0);
      if (kept > 0) CHECK(top_filled < bottom_empty);
    }
    CHECK(filled == 2);
    // clear plastic is filled too; annotations still equal the mask
    so.clear_probability = 1.0f;
    Rng c = Rng(72).split(0);
    auto clear_full = synth::make_object_mesh(classes[1], so, c);
    CHECK(clear_full->materials.back().name == "liquid");
    check_scenes_match_masks(so, {1, 2, 3}, 73, 4);
    // the lens shifts what is seen through the liquid further than through the empty body
    Rng r1 = Rng(74).split(3);
    synth::SceneOptions lens_opts = clean_options();
    lens_opts.refraction = 0.05f;
    synth::Scene s = synth::sample_scene(classes, {3}, 96, 96, lens_opts, r1);
    synth::Rendered before = synth::render_scene(s);
    auto m = std::make_shared<synth::Mesh>(*s.objects[0].mesh);
    for (auto& mat : m->materials)
      if (mat.opacity < 1.0f) mat.lens = 3.0f;
    s.objects[0].mesh = m;
    synth::Rendered after = synth::render_scene(s);
    CHECK(after.ids == before.ids);
    CHECK(after.image.px != before.image.px);
  }

  TEST_CASE("square bodies: a rounded rectangle across the body, the neck stays round, unit normals") {
    Rng rng(77);
    const synth::Mesh m = synth::make_bottle(synth::BottleKind::plastic, rng);
    float rmax = 0;
    for (auto& p : m.pos) rmax = std::max(rmax, std::hypot(p.x, p.z));
    for (int seed = 0; seed < 6; ++seed) {
      synth::Mesh q = m;
      Rng srng(static_cast<uint64_t>(seed));
      synth::square_section(q, srng);
      REQUIRE(q.pos.size() == m.pos.size());
      float out_min = 1e9f, out_max = 0;  // distance from the axis of the body's vertices
      bool neck_same = true, unit = true;
      for (size_t v = 0; v < m.pos.size(); ++v) {
        const float r0 = std::hypot(m.pos[v].x, m.pos[v].z), r1 = std::hypot(q.pos[v].x, q.pos[v].z);
        CHECK(q.pos[v].y == m.pos[v].y);
        if (r0 < 0.5f * rmax) neck_same = neck_same && q.pos[v].x == m.pos[v].x && q.pos[v].z == m.pos[v].z;
        if (r0 > 0.99f * rmax) out_min = std::min(out_min, r1), out_max = std::max(out_max, r1);
        unit = unit && std::fabs(synth::length(q.normal[v]) - 1.0f) < 1e-3f;
      }
      CHECK(neck_same);
      CHECK(unit);
      CHECK(out_max > 1.1f * out_min);  // no longer round: corners stand out from the flats
    }
    synth::SceneOptions so = clean_options();
    so.square_probability = 1.0f;
    check_scenes_match_masks(so, {1, 3}, 94, 3);
  }

  TEST_CASE("reflections: clear bottles only get brighter where they reflect; the mask and the rest stay") {
    auto classes = synth::builtin_classes();
    Rng rng = Rng(96).split(2);
    synth::Scene s = synth::sample_scene(classes, {3, 2}, 96, 96, clean_options(), rng);
    s.fx.noise_sigma = 0, s.fx.blur = 0, s.fx.motion = 0, s.fx.jpeg_quality = 100;
    synth::Rendered plain = synth::render_scene(s);
    s.light.reflection = 1.5f;
    s.light.environment.windows = 1;
    s.light.environment.window[0] = {0.0f, 3.2f, -1.6f, 1.6f, 4.0f};  // everything is one bright window
    synth::Rendered shiny = synth::render_scene(s);
    CHECK(shiny.ids == plain.ids);
    long brighter = 0, darker = 0, background_changed = 0;
    for (size_t p = 0; p < plain.ids.size(); ++p)
      for (int c = 0; c < 3; ++c) {
        const int d = int(shiny.image.px[3 * p + size_t(c)]) - int(plain.image.px[3 * p + size_t(c)]);
        brighter += d > 2, darker += d < -2;
        if (plain.ids[p] == 0 && d != 0) ++background_changed;
      }
    CHECK(brighter > 20);
    CHECK(darker == 0);
    CHECK(background_changed == 0);
    // the environment: sky above, ground below, a window adds its radiance inside its rectangle
    synth::Environment env;
    env.sky = {1, 1, 1}, env.ground = {0.1f, 0.1f, 0.1f};
    CHECK(env(synth::Vec3{0, 1, 0}).x == doctest::Approx(1.0f));
    CHECK(env(synth::Vec3{0, -1, 0}).x == doctest::Approx(0.1f));
    env.windows = 1;
    env.window[0] = {0.5f, 0.2f, 0.1f, 0.6f, 3.0f};
    const synth::Vec3 in_window = synth::normalize({std::sin(0.5f), 0.34f, std::cos(0.5f)});
    const synth::Vec3 beside = synth::normalize({std::sin(-0.5f), 0.34f, std::cos(-0.5f)});
    CHECK(env(in_window).x - env(beside).x == doctest::Approx(3.0f));
  }

  TEST_CASE("camera effects change the colours, never the mask") {
    auto classes = synth::builtin_classes();
    Rng rng = Rng(95).split(1);
    synth::Scene s = synth::sample_scene(classes, {0, 3}, 96, 96, clean_options(), rng);
    synth::Rendered plain = synth::render_scene(s);
    s.fx.white_balance = {1.15f, 1.0f, 0.85f};
    s.fx.motion = 4, s.fx.motion_angle = 0.5f;
    synth::Rendered fx = synth::render_scene(s);
    CHECK(fx.ids == plain.ids);
    CHECK(fx.annotations.size() == plain.annotations.size());
    CHECK(fx.image.px != plain.image.px);
    long red = 0, blue = 0;  // warmer: more red, less blue
    for (size_t p = 0; p < plain.ids.size(); ++p)
      red += fx.image.px[3 * p] - plain.image.px[3 * p], blue += fx.image.px[3 * p + 2] - plain.image.px[3 * p + 2];
    CHECK(red > 0);
    CHECK(blue < 0);
  }

  TEST_CASE("stretched photos: the pixel aspect narrows or widens objects; annotations equal the mask") {
    // the camera: only x scales with the aspect, and unproject inverts the projection
    synth::Camera cam{100, 80, 50.0f};
    cam.aspect = 0.75f;
    const synth::Vec3 p{0.4f, -0.2f, -2.0f};
    CHECK(cam.sx(p) == doctest::Approx(50.0 + 50.0 * 0.75 * 0.4 / 2.0));
    CHECK(cam.sy(p) == doctest::Approx(40.0 + 50.0 * 0.2 / 2.0));
    const synth::Vec3 q = cam.unproject(cam.sx(p), cam.sy(p), 2.0f);
    CHECK(q.x == doctest::Approx(p.x).epsilon(1e-5));
    CHECK(q.y == doctest::Approx(p.y).epsilon(1e-5));
    // one object seen through a squeezing camera: as tall as before, about 0.6 as wide
    auto classes = synth::builtin_classes();
    int compared = 0;
    for (int i = 0; i < 30; ++i) {
      Rng rng = Rng(61).split(uint64_t(i));
      synth::Scene s = synth::sample_scene(classes, {i % 5}, 128, 128, clean_options(), rng);
      synth::Rendered wide = synth::render_scene(s);
      s.camera.aspect = 0.6f;
      synth::Rendered narrow = synth::render_scene(s);
      check_annotations_match_mask(narrow, s.objects.size());
      if (wide.annotations.size() != 1 || narrow.annotations.size() != 1) continue;
      const auto& a = wide.annotations[0];
      const auto& b = narrow.annotations[0];
      const bool inside = a.x0 > 0 && a.y0 > 0 && a.x1 < 127 && a.y1 < 127 && a.x1 - a.x0 >= 15;
      if (!inside) continue;
      ++compared;
      const double wa = a.x1 - a.x0 + 1, wb = b.x1 - b.x0 + 1;
      CHECK(wb / wa == doctest::Approx(0.6).epsilon(0.15));
      CHECK(std::abs((b.y1 - b.y0) - (a.y1 - a.y0)) <= 2);
    }
    CHECK(compared >= 4);
    // the knob: aspects spread log-uniformly over [1/1.5, 1.5]; annotations still equal the mask
    synth::SceneOptions so = clean_options();
    so.stretch = 0.5f;
    int narrower = 0, wider = 0;
    for (int i = 0; i < 40; ++i) {
      Rng rng = Rng(62).split(uint64_t(i));
      synth::Scene s = synth::sample_scene(classes, {i % 5, (i + 2) % 5}, 96, 96, so, rng);
      CHECK(s.camera.aspect >= 1.0f / 1.5f - 1e-5f);
      CHECK(s.camera.aspect <= 1.5f + 1e-5f);
      narrower += s.camera.aspect < 0.9f;
      wider += s.camera.aspect > 1.1f;
    }
    CHECK(narrower >= 8);
    CHECK(wider >= 8);
    check_scenes_match_masks(so, {0, 2, 4}, 63, 12);
    // 0 draws nothing from the random stream: the scene is what the options without it give
    Rng r1 = Rng(64).split(1), r2 = Rng(64).split(1);
    synth::SceneOptions off = clean_options();
    off.stretch = 0;
    auto s1 = synth::sample_scene(classes, {1, 3}, 64, 64, clean_options(), r1);
    auto s2 = synth::sample_scene(classes, {1, 3}, 64, 64, off, r2);
    CHECK(s2.camera.aspect == 1.0f);
    CHECK(synth::render_scene(s1).image.px == synth::render_scene(s2).image.px);
  }

  TEST_CASE("every realism knob at once: same seed, 1 vs 2 threads, byte-identical data sets") {
    TempDir dir("realism");
    auto classes = synth::builtin_classes();
    synth::SynthOptions o;
    o.per_class = 2;
    o.sizes = {80};
    o.seed = 9;
    o.test_image = false;
    o.scene.ground_probability = 0.5f, o.scene.clutter3d_probability = 0.5f, o.scene.max_distractors = 3;
    o.scene.shadow_probability = 0.7f, o.scene.crush_probability = 0.5f, o.scene.camera_fx_probability = 0.7f;
    o.scene.closeup_probability = 0.5f, o.scene.closeup_framed = 0.5f, o.scene.refraction = 0.04f;
    o.scene.bare_probability = 0.5f, o.scene.square_probability = 0.5f, o.scene.reflection_probability = 0.7f;
    o.scene.rows_probability = 0.3f, o.scene.studio_probability = 0.3f, o.scene.min_visible = 0.3f;
    o.scene.clear_probability = 0.4f, o.scene.lying_probability = 0.6f, o.scene.stretch = 0.4f;
    o.scene.liquid_probability = 0.5f;
    CHECK(same_files_for_1_and_2_threads(classes, o, dir.path) == 11);  // 10 images + json
    // out-of-range knobs are refused before anything is written
    synth::SynthOptions bad = o;
    bad.out = dir.path / "bad";
    bad.scene.shadow_probability = 1.5f;
    CHECK_THROWS_WITH_AS(synth::write_dataset(classes, bad), doctest::Contains("--shadows"), Error);
    bad.scene.shadow_probability = 0.5f, bad.scene.max_distractors = -1;
    CHECK_THROWS_WITH_AS(synth::write_dataset(classes, bad), doctest::Contains("--distractors"), Error);
    bad.scene.max_distractors = 3, bad.scene.reflection_probability = -0.1f;
    CHECK_THROWS_WITH_AS(synth::write_dataset(classes, bad), doctest::Contains("--reflections"), Error);
    bad.scene.reflection_probability = 0.7f, bad.scene.rows_probability = 2.0f;
    CHECK_THROWS_WITH_AS(synth::write_dataset(classes, bad), doctest::Contains("--rows"), Error);
    bad.scene.rows_probability = 0.3f, bad.scene.closeup_framed = 1.5f;
    CHECK_THROWS_WITH_AS(synth::write_dataset(classes, bad), doctest::Contains("--closeup-framed"), Error);
    bad.scene.closeup_framed = 0.5f, bad.scene.lying_probability = -0.2f;
    CHECK_THROWS_WITH_AS(synth::write_dataset(classes, bad), doctest::Contains("--lying"), Error);
    bad.scene.lying_probability = 0.3f, bad.scene.clear_probability = 1.2f;
    CHECK_THROWS_WITH_AS(synth::write_dataset(classes, bad), doctest::Contains("--clear"), Error);
    bad.scene.clear_probability = 0.4f, bad.scene.stretch = -0.5f;
    CHECK_THROWS_WITH_AS(synth::write_dataset(classes, bad), doctest::Contains("--stretch"), Error);
    bad.scene.stretch = 0.4f, bad.scene.liquid_probability = 1.5f;
    CHECK_THROWS_WITH_AS(synth::write_dataset(classes, bad), doctest::Contains("--liquid"), Error);
    CHECK_FALSE(fs::exists(dir.path / "bad"));
  }

  TEST_CASE("scene file: the realism keys") {
    TempDir dir("realism_yaml");
    {
      std::ofstream f(dir.path / "s.yaml");
      f << "ground: 0.4\nclutter3d: 0.2\ndistractors: 3\nshadows: 0.6\ncrushed: 0.3\ncamera_fx: 0.5\n"
           "bare: 0.25\nsquare: 0.35\nreflections: 0.45\nrows: 0.2\nstudio: 0.1\nmin_visible: 0.25\n"
           "closeup_framed: 0.6\nlying: 0.45\nclear: 0.35\nstretch: 0.3\nliquid: 0.45\n"
           "classes:\n  - name: Water Bottle\n    builtin: water\n";
    }
    auto f = synth::read_scene_file(dir.path / "s.yaml");
    CHECK(f.scene.ground_probability == doctest::Approx(0.4f));
    CHECK(f.scene.clutter3d_probability == doctest::Approx(0.2f));
    CHECK(f.scene.max_distractors == 3);
    CHECK(f.scene.shadow_probability == doctest::Approx(0.6f));
    CHECK(f.scene.crush_probability == doctest::Approx(0.3f));
    CHECK(f.scene.camera_fx_probability == doctest::Approx(0.5f));
    CHECK(f.scene.bare_probability == doctest::Approx(0.25f));
    CHECK(f.scene.square_probability == doctest::Approx(0.35f));
    CHECK(f.scene.reflection_probability == doctest::Approx(0.45f));
    CHECK(f.scene.rows_probability == doctest::Approx(0.2f));
    CHECK(f.scene.studio_probability == doctest::Approx(0.1f));
    CHECK(f.scene.min_visible == doctest::Approx(0.25f));
    CHECK(f.scene.closeup_framed == doctest::Approx(0.6f));
    CHECK(f.scene.lying_probability == doctest::Approx(0.45f));
    CHECK(f.lying_given);
    CHECK(f.scene.clear_probability == doctest::Approx(0.35f));
    CHECK(f.scene.stretch == doctest::Approx(0.3f));
    CHECK(f.scene.liquid_probability == doctest::Approx(0.45f));
  }
}

TEST_SUITE("synth") {
  TEST_CASE("fonts: text is drawn where asked, in the ink colour; non-fonts are refused by name") {
    const fs::path dir = synth::default_font_dir();
    REQUIRE_MESSAGE(!dir.empty(), "no system font folder (the test set-up installs fonts-dejavu-core)");
    auto fonts = synth::load_fonts(dir);
    REQUIRE(!fonts.empty());
    synth::Texture t;
    t.w = 200, t.h = 60;
    t.rgb.assign(size_t(t.w * t.h * 3), 1.0f);
    const float adv = synth::draw_text(t, *fonts[0], "HELLO", 10, 45, 40, {0, 0, 0});
    CHECK(adv > 60);
    CHECK(adv < 190);
    int ink = 0, x_lo = 1 << 30, x_hi = -1, y_lo = 1 << 30, y_hi = -1;
    for (int y = 0; y < t.h; ++y)
      for (int x = 0; x < t.w; ++x)
        if (t.rgb[size_t((y * t.w + x) * 3)] < 0.5f)
          ++ink, x_lo = std::min(x_lo, x), x_hi = std::max(x_hi, x), y_lo = std::min(y_lo, y), y_hi = std::max(y_hi, y);
    CHECK(ink > 200);
    CHECK(x_lo >= 10);
    CHECK(x_hi <= int(10 + adv) + 1);
    CHECK(y_hi <= 46);  // capitals sit on the baseline ...
    CHECK(y_lo >= 5);   // ... and are less than the pixel height tall
    // a word is pronounceable letters only
    Rng rng(3);
    for (int i = 0; i < 20; ++i) {
      std::string w = synth::random_word(rng);
      CHECK(!w.empty());
      for (char c : w) CHECK(std::islower(static_cast<unsigned char>(c)));
    }
    TempDir tmp("fonts");
    data::write_file_atomic(tmp.path / "empty.ttf", "");
    data::write_file_atomic(tmp.path / "text.ttf", "this is not a font, it is a sentence.");
    CHECK_THROWS_WITH_AS(synth::Font(tmp.path / "empty.ttf"), doctest::Contains("empty.ttf: not a font"), Error);
    CHECK_THROWS_WITH_AS(synth::Font(tmp.path / "text.ttf"), doctest::Contains("text.ttf: not a TrueType"), Error);
    CHECK_THROWS_WITH_AS(synth::load_fonts(tmp.path / "nope"), doctest::Contains("font folder not found"), Error);
  }

  TEST_CASE("printed labels: textured label bands, same seed same image, annotations equal the mask") {
    auto fonts = synth::load_fonts(synth::default_font_dir());
    auto classes = synth::builtin_classes();
    for (int kind = 0; kind < 5; ++kind) {
      Rng rng(uint64_t(200 + kind));
      synth::Mesh m = synth::make_bottle(synth::BottleKind(kind), rng);
      REQUIRE(m.uv.size() == m.pos.size());
      synth::Mesh printed = m;
      Rng lrng(1);
      synth::print_labels(printed, lrng, fonts);
      int textured = 0;
      for (auto& mat : printed.materials) textured += mat.texture != nullptr;
      CHECK(textured >= (kind == 3 || kind == 1 ? 1 : 0));  // water and plastic always have a label band
    }
    synth::SceneOptions so = clean_options();
    so.text_label_probability = 1.0f, so.fonts = fonts, so.closeup_probability = 1.0f;
    for (int i = 0; i < 4; ++i) {
      Rng r1 = Rng(210).split(uint64_t(i)), r2 = Rng(210).split(uint64_t(i));
      synth::Scene s = synth::sample_scene(classes, {i % 5}, 96, 96, so, r1);
      synth::Scene s2 = synth::sample_scene(classes, {i % 5}, 96, 96, so, r2);
      synth::Rendered a = synth::render_scene(s), b = synth::render_scene(s2);
      CHECK(a.image.px == b.image.px);
      check_annotations_match_mask(a, s.objects.size());
    }
    synth::SceneOptions no_font = so;
    no_font.fonts.clear();
    Rng r3(1);
    CHECK_THROWS_WITH_AS(synth::sample_scene(classes, {3}, 64, 64, no_font, r3), doctest::Contains("need a font"), Error);
  }
}

TEST_SUITE("synth") {
  TEST_CASE("OBJ textures: vt + map_Kd colour the surface; a missing texture is named with its MTL line") {
    TempDir dir("objtex");
    // a square facing the camera, its texture red on the left half and blue on the right
    data::write_file_atomic(dir.path / "sq.obj",
                            "mtllib sq.mtl\nv -1 -1 0\nv 1 -1 0\nv 1 1 0\nv -1 1 0\n"
                            "vt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\nusemtl art\nf 1/1 2/2 3/3 4/4\n");
    data::write_file_atomic(dir.path / "sq.mtl", "newmtl art\nKd 1 1 1\nmap_Kd -s 1 1 1 art.png\n");
    Image art(8, 8, 3);
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 8; ++x) {
        uint8_t* p = art.at(x, y);
        p[0] = x < 4 ? 230 : 10, p[1] = 10, p[2] = x < 4 ? 10 : 230;
      }
    data::save_image(dir.path / "art.png", art);
    synth::Mesh m = synth::load_obj(dir.path / "sq.obj");
    REQUIRE(m.uv.size() == m.pos.size());
    REQUIRE(m.materials.size() == 1);
    REQUIRE(m.materials[0].texture != nullptr);
    synth::Camera cam{64, 64, 64};
    synth::Light light;
    light.dir = {0, 0, 1}, light.ambient = {0.2f, 0.2f, 0.2f};
    synth::FrameBuffer fb(64, 64);
    synth::Pose pose;
    pose.translation = {0, 0, -3};
    synth::render_meshes(fb, cam, light, {{&m, pose, 1}});
    auto px = [&](int x, int y, int c) { return fb.rgb[(size_t(y) * 64 + size_t(x)) * 3 + size_t(c)]; };
    CHECK(fb.id[32 * 64 + 22] == 1);
    CHECK(px(22, 32, 0) > 3 * px(22, 32, 2));  // left of centre: red
    CHECK(px(42, 32, 2) > 3 * px(42, 32, 0));  // right: blue
    // no vt anywhere: no texture coordinates kept
    data::write_file_atomic(dir.path / "plain.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n");
    CHECK(synth::load_obj(dir.path / "plain.obj").uv.empty());
    data::write_file_atomic(dir.path / "bad.mtl", "newmtl a\nKd 1 1 1\nmap_Kd missing.png\n");
    CHECK_THROWS_WITH_AS(synth::load_mtl(dir.path / "bad.mtl"), doctest::Contains("bad.mtl:3: map_Kd:"), Error);
    data::write_file_atomic(dir.path / "badvt.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1/4 2/4 3/4\n");
    CHECK_THROWS_WITH_AS(synth::load_obj(dir.path / "badvt.obj"), doctest::Contains("badvt.obj:4: texture coordinate index 4"),
                         Error);
  }
}

TEST_SUITE("synth") {
  // Bit equality holds here: the fast versions add the same terms in the same order as the
  // reference loops (our builds use -ffp-contract=off, see docs/testing.md).
  TEST_CASE("fast kernels equal their reference loops bit for bit: fractal noise field, box blur") {
    for (int seed = 0; seed < 4; ++seed) {
      Rng rng(uint64_t(300 + seed));
      synth::detail::Fractal f(rng.randint(2, 8), rng.randint(1, 4), 0.75f, rng);
      const int w = 37 + seed * 11, h = 23 + seed * 7;
      const auto field = f.field(w, h);
      bool same = true;
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          same = same && field[size_t(y * w + x)] == f.at((float(x) + 0.5f) / float(w), (float(y) + 0.5f) / float(h));
      CHECK(same);
    }
    for (int r : {1, 2, 5}) {
      for (int w : {3, 9, 40}) {
        const int h = 7;
        std::vector<float> a(size_t(w * h * 3));
        Rng rng(uint64_t(r * 100 + w));
        for (auto& v : a) v = rng.uniformf();
        std::vector<float> ref = a, tmp(a.size());
        const float inv = 1.0f / float(2 * r + 1);
        for (int y = 0; y < h; ++y)
          for (int x = 0; x < w; ++x)
            for (int c = 0; c < 3; ++c) {
              float s = 0;
              for (int d = -r; d <= r; ++d) s += a[size_t((y * w + std::clamp(x + d, 0, w - 1)) * 3 + c)];
              tmp[size_t((y * w + x) * 3 + c)] = s * inv;
            }
        for (int y = 0; y < h; ++y)
          for (int x = 0; x < w; ++x)
            for (int c = 0; c < 3; ++c) {
              float s = 0;
              for (int d = -r; d <= r; ++d) s += tmp[size_t((std::clamp(y + d, 0, h - 1) * w + x) * 3 + c)];
              ref[size_t((y * w + x) * 3 + c)] = s * inv;
            }
        synth::detail::box_blur(a, w, h, r);
        CAPTURE(r);
        CAPTURE(w);
        CHECK(a == ref);
      }
    }
  }
}
