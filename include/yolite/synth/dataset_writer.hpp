// synth/dataset_writer.hpp -- render a whole synthetic data set in the tutorial's layout.
//
//   OUT/images_raw/00000000.jpg ...     8-digit names numbered across the whole set
//   OUT/coco_instances.json             COCO: image ids from 0, annotation ids from 1,
//                                       category ids 1..nc in class order, bbox = tight box
//                                       of the visible pixels, segmentation = convex hull of
//                                       them, area = their pixel count, iscrowd 0;
//                                       file_name is relative to images_raw/ ("00000000.jpg")
//   OUT/test_image.jpg                  a 1280x720 "real-life" scene: bottles of several
//                                       classes standing on a table in front of a wall
//
// Images are ordered class by class (per_class images of class 1, then class 2, ...); each
// shows 1..max_objects objects of its class (or of random classes with `mixed`) at the image
// size of its class. Image i is drawn from Rng(seed).split(i) and rendered by whichever
// OpenMP thread gets it, so the same seed gives byte-identical files for any thread count.
// Everything is written into a staging folder first and moved into OUT at the end.
//
// Several processes (SynthOptions::comm, e.g. `mpirun -np 4 yolite synth`) share the work:
// each renders a contiguous part of the images into rank 0's staging folder (one file system
// for all of them), rank 0 gathers the annotations and writes the rest. The files are the same
// bytes as one process writes with the same seed.
//
//   synth::SynthOptions o;  o.out = "bottles";  o.per_class = 100;  o.seed = 1;
//   synth::SynthSummary s = synth::write_dataset(synth::builtin_classes(), o);
#pragma once
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/error.hpp"
#include "../dist/comm.hpp"
#include "../core/parallel.hpp"
#include "../core/rng.hpp"
#include "../data/fs.hpp"
#include "../data/image_io.hpp"
#include "../viz/draw.hpp"
#include "../viz/grid.hpp"
#include "render.hpp"
#include "scene.hpp"

namespace yolite::synth {

struct SynthOptions {
  std::filesystem::path out;
  int per_class = 100;
  std::vector<int> sizes;        // empty: each class's own image_size; else cycled over the classes
  uint64_t seed = 0;
  int max_objects = 3;
  bool mixed = false;            // objects of random classes instead of the image's class
  bool exist_ok = false;         // allow writing into a non-empty OUT
  bool test_image = true;
  std::filesystem::path contact_sheet;  // "": none; else a 4x4 sheet of labelled samples
  SceneOptions scene;
  dist::Comm* comm = nullptr;    // the processes sharing the work (nullptr: this one alone)
};

struct SynthSummary {
  int images = 0, annotations = 0, hidden = 0;  // hidden: objects with no label (no visible pixel, or under min_visible)
  double seconds = 0;
};

// Eight-digit file name of image i.
inline std::string image_file_name(int64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08lld.jpg", static_cast<long long>(i));
  return buf;
}

// Checks the options and the classes; throws naming the offending setting.
inline void validate(const std::vector<ClassSpec>& classes, const SynthOptions& o) {
  YOLITE_CHECK(!classes.empty(), "synth: no classes to render");
  YOLITE_CHECK(o.per_class >= 0, "synth: --per-class must be >= 0, got ", o.per_class);
  YOLITE_CHECK(o.max_objects >= 1 && o.max_objects <= 64, "synth: --max-objects must be 1..64, got ", o.max_objects);
  for (int s : o.sizes) YOLITE_CHECK(s >= 32 && s <= 8192, "synth: image size ", s, " is out of range (32..8192)");
  for (auto& c : classes)
    YOLITE_CHECK(c.image_size >= 32 && c.image_size <= 8192, "synth: class '", c.name, "' has image size ",
                 c.image_size, " (expected 32..8192)");
  YOLITE_CHECK(!o.out.empty(), "synth: no output folder (--out)");
  YOLITE_CHECK(o.scene.min_size > 0 && o.scene.min_size <= o.scene.max_size && o.scene.max_size <= 2.0f,
               "synth: object size range ", o.scene.min_size, "..", o.scene.max_size, " is invalid");
  YOLITE_CHECK(o.scene.closeup_probability >= 0 && o.scene.closeup_probability <= 1,
               "synth: --closeup must be in 0..1, got ", o.scene.closeup_probability);
  YOLITE_CHECK(o.scene.clear_probability >= 0 && o.scene.clear_probability <= 1,
               "synth: --clear must be in 0..1, got ", o.scene.clear_probability);
  YOLITE_CHECK(o.scene.lying_probability >= 0 && o.scene.lying_probability <= 1,
               "synth: --lying must be in 0..1, got ", o.scene.lying_probability);
  YOLITE_CHECK(o.scene.closeup_framed >= 0 && o.scene.closeup_framed <= 1,
               "synth: --closeup-framed must be in 0..1, got ", o.scene.closeup_framed);
  YOLITE_CHECK(o.scene.closeup_min > 0 && o.scene.closeup_min <= o.scene.closeup_max && o.scene.closeup_max <= 2.0f,
               "synth: close-up size range ", o.scene.closeup_min, "..", o.scene.closeup_max, " is invalid");
  YOLITE_CHECK(o.scene.refraction >= 0 && o.scene.refraction <= 0.5f, "synth: --refraction must be in 0..0.5, got ",
               o.scene.refraction);
  YOLITE_CHECK(o.scene.photo_probability >= 0 && o.scene.photo_probability <= 1,
               "synth: --background-prob must be in 0..1, got ", o.scene.photo_probability);
  auto probability = [](float p, const char* flag) {
    YOLITE_CHECK(p >= 0 && p <= 1, "synth: ", flag, " must be in 0..1, got ", p);
  };
  probability(o.scene.ground_probability, "--ground");
  probability(o.scene.clutter3d_probability, "--clutter3d");
  probability(o.scene.shadow_probability, "--shadows");
  probability(o.scene.crush_probability, "--crushed");
  probability(o.scene.camera_fx_probability, "--camera-fx");
  probability(o.scene.text_label_probability, "--text-labels");
  probability(o.scene.bare_probability, "--bare");
  probability(o.scene.square_probability, "--square");
  probability(o.scene.reflection_probability, "--reflections");
  probability(o.scene.rows_probability, "--rows");
  probability(o.scene.studio_probability, "--studio");
  probability(o.scene.min_visible, "--min-visible");
  probability(o.scene.stretch, "--stretch");
  probability(o.scene.liquid_probability, "--liquid");
  YOLITE_CHECK(o.scene.text_label_probability == 0 || !o.scene.fonts.empty(),
               "synth: --text-labels needs a font: install fonts-dejavu-core or pass --fonts DIR");
  YOLITE_CHECK(o.scene.max_distractors >= 0 && o.scene.max_distractors <= 64, "synth: --distractors must be 0..64, got ",
               o.scene.max_distractors);
}

// The class and image size of image i, and the classes of its objects.
struct ImagePlan {
  int cls = 0, size = 300;
  std::vector<int> objects;
};
inline ImagePlan plan_image(const std::vector<ClassSpec>& classes, const SynthOptions& o, int64_t i, Rng& rng) {
  ImagePlan p;
  p.cls = int(i / std::max(o.per_class, 1));
  p.size = o.sizes.empty() ? classes[size_t(p.cls)].image_size : o.sizes[size_t(p.cls) % o.sizes.size()];
  int n = rng.randint(1, o.max_objects);
  for (int k = 0; k < n; ++k) p.objects.push_back(o.mixed ? int(rng.below(uint32_t(classes.size()))) : p.cls);
  return p;
}

// Draws boxes and class names of the annotations onto the image (contact sheets, `show`).
inline void draw_annotations(Image& img, const std::vector<Annotation>& anns, const std::vector<ClassSpec>& classes) {
  int thick = std::max(1, std::max(img.w, img.h) / 300);
  for (auto& a : anns) {
    auto b = a.bbox();
    viz::draw_box_label(img, b[0], b[1], b[0] + b[2], b[1] + b[3], classes[size_t(a.cls)].name,
                        viz::class_color(a.cls), thick, thick);
  }
}

// The 1280x720 test scene: a wall, a table edge, and 4..7 upright bottles of mixed classes.
inline Rendered render_test_scene(const std::vector<ClassSpec>& classes, Rng& rng, int w = 1280, int h = 720) {
  SceneOptions so;
  so.blur_probability = 0;
  Scene s = sample_setting(w, h, so, rng);
  s.fx.noise_sigma = 0.01f, s.fx.jpeg_quality = 92, s.fx.exposure = 1.0f;
  float fov = 50.0f * float(std::numbers::pi) / 180.0f;
  s.camera.focal = 0.5f * float(w) / std::tan(0.5f * fov);
  s.light.dir = normalize(Vec3{float(rng.uniform(-0.6, 0.6)), 0.8f, 0.6f});
  float pitch = float(rng.uniform(0.02, 0.08));  // the camera looks down at the table
  Mat3 tilt = rot_x(pitch);
  int n = rng.randint(4, 7);
  float cam_h = 0.6f;   // camera height above the table top; bottles are ~1 tall
  for (int k = 0; k < n; ++k) {
    SceneObject o;
    o.cls = int(rng.below(uint32_t(classes.size())));
    o.mesh = classes[size_t(o.cls)].make(rng);
    Bounds b = bounds(*o.mesh);
    float scale = float(rng.uniform(0.55, 0.8));
    float depth = float(rng.uniform(2.2, 3.4));
    float u = (0.1f + 0.8f * (float(k) + float(rng.uniform(0.2, 0.8))) / float(n)) * float(w);  // spread across
    Vec3 world{(u - 0.5f * float(w)) * depth / s.camera.focal, -cam_h - b.lo.y * scale, -depth};  // base on the table
    o.pose.rotation = tilt * rot_y(float(rng.uniform(0, 2 * std::numbers::pi)));
    o.pose.scale = scale;
    o.pose.translation = tilt * world;
    s.objects.push_back(std::move(o));
  }
  // Background: a wall above the table's far edge and a wooden top below it.
  Rng bg(s.seed);
  FrameBuffer fb(w, h);
  std::vector<float> wall, table;
  paint_background(wall, w, h, bg, rng.bernoulli(0.5) ? BackgroundKind::tiles : BackgroundKind::noise);
  paint_background(table, w, h, bg, BackgroundKind::wood);
  Vec3 far_edge = tilt * Vec3{0, -cam_h, -3.8f};
  int edge = std::clamp(int(s.camera.sy(far_edge)), 0, h);
  for (int y = 0; y < h; ++y)
    for (int xx = 0; xx < w; ++xx) {
      size_t i = (size_t(y) * size_t(w) + size_t(xx)) * 3;
      const auto& src = y < edge ? wall : table;
      float shade = y < edge ? 0.9f : 0.75f + 0.25f * float(y - edge) / float(std::max(1, h - edge));
      for (int c = 0; c < 3; ++c) fb.rgb[i + size_t(c)] = src[i + size_t(c)] * shade;
    }
  std::vector<DrawItem> items;
  for (size_t k = 0; k < s.objects.size(); ++k) items.push_back({s.objects[k].mesh.get(), s.objects[k].pose, uint16_t(k + 1)});
  render_meshes(fb, s.camera, s.light, items);
  Rendered r;
  r.image = develop(fb.rgb, w, h, s.fx, bg);
  r.annotations = annotate(fb.id, w, h, s.objects);
  r.ids = std::move(fb.id);
  r.jpeg_quality = s.fx.jpeg_quality;
  r.objects = int(s.objects.size());
  return r;
}

// Renders image i of the data set (exactly what write_dataset writes for it).
inline Rendered render_dataset_image(const std::vector<ClassSpec>& classes, const SynthOptions& o, int64_t i) {
  Rng rng = Rng(o.seed).split(uint64_t(i));
  ImagePlan p = plan_image(classes, o, i, rng);
  Scene s = sample_scene(classes, p.objects, p.size, p.size, o.scene, rng);
  return render_scene(s);
}

// COCO json of the rendered set (images in order, annotations numbered from 1).
inline nlohmann::ordered_json coco_json(const std::vector<ClassSpec>& classes, const std::vector<int>& sizes,
                                        const std::vector<std::vector<Annotation>>& anns, uint64_t seed) {
  using J = nlohmann::ordered_json;
  J j;
  j["info"] = {{"description", "yolite synthetic bottles"}, {"version", "1.0"}, {"seed", seed}};
  j["licenses"] = J::array();
  J images = J::array(), annotations = J::array(), categories = J::array();
  int64_t next_ann = 1;
  for (size_t i = 0; i < anns.size(); ++i) {
    images.push_back({{"id", i}, {"file_name", image_file_name(int64_t(i))}, {"width", sizes[i]}, {"height", sizes[i]}});
    for (auto& a : anns[i]) {
      auto b = a.bbox();
      J poly = J::array();
      for (float v : a.polygon) poly.push_back(int(v));
      annotations.push_back({{"id", next_ann++},
                             {"image_id", i},
                             {"category_id", classes[size_t(a.cls)].coco_id},
                             {"bbox", {int(b[0]), int(b[1]), int(b[2]), int(b[3])}},
                             {"area", a.area},
                             {"segmentation", J::array({poly})},
                             {"iscrowd", 0}});
    }
  }
  for (auto& c : classes) categories.push_back({{"id", c.coco_id}, {"name", c.name}, {"supercategory", c.builtin ? "bottle" : "object"}});
  j["images"] = std::move(images);
  j["annotations"] = std::move(annotations);
  j["categories"] = std::move(categories);
  return j;
}

namespace detail {
inline void check_output(const std::vector<ClassSpec>& classes, const SynthOptions& o) {
  validate(classes, o);
  for (size_t a = 0; a < classes.size(); ++a)
    for (size_t b = a + 1; b < classes.size(); ++b)
      YOLITE_CHECK(classes[a].coco_id != classes[b].coco_id, "synth: classes '", classes[a].name, "' and '",
                   classes[b].name, "' share COCO id ", classes[a].coco_id);
  namespace fs = std::filesystem;
  std::error_code ec;
  YOLITE_CHECK(!fs::exists(o.out, ec) || fs::is_directory(o.out, ec), o.out.string(), ": exists and is not a folder");
  YOLITE_CHECK(o.exist_ok || data::empty_or_missing(o.out), o.out.string(),
               ": output folder exists and is not empty (use --exist-ok to write into it)");
}

// One image's results as the ranks send them to each other.
inline void put_image(dist::Bytes& b, int size, int hidden, const std::vector<Annotation>& anns) {
  b.put(int32_t(size)).put(int32_t(hidden)).put(uint64_t(anns.size()));
  for (auto& a : anns) {
    b.put(std::array<int32_t, 7>{a.object, a.cls, a.x0, a.y0, a.x1, a.y1, a.area});
    b.put(a.polygon);
  }
}
inline void get_image(dist::Bytes& b, int& size, int& hidden, std::vector<Annotation>& anns) {
  size = b.get<int32_t>(), hidden = b.get<int32_t>();
  anns.resize(size_t(b.get<uint64_t>()));
  for (auto& a : anns) {
    auto v = b.get<std::array<int32_t, 7>>();
    a.object = v[0], a.cls = v[1], a.x0 = v[2], a.y0 = v[3], a.x1 = v[4], a.y1 = v[5], a.area = v[6];
    a.polygon = b.get_vector<float>();
  }
}

// The message of the exception being handled.
inline std::string what(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "unknown error";
  }
}
}  // namespace detail

// Renders and writes the whole set. progress(done, total) is called (from one thread at a
// time) as images finish; with several processes, on each for its own part.
inline SynthSummary write_dataset(const std::vector<ClassSpec>& classes, const SynthOptions& o,
                                  const std::function<void(int64_t, int64_t)>& progress = {}) {
  namespace fs = std::filesystem;
  dist::SelfComm self;
  dist::Comm& comm = o.comm ? *o.comm : self;
  auto t0 = std::chrono::steady_clock::now();
  // rank 0 checks the options and makes the staging folder; the others learn where it is
  std::optional<data::StagingDir> stage;
  std::string stage_path, err;
  if (comm.is_root()) {
    try {
      detail::check_output(classes, o);
      stage.emplace(o.out);
      data::make_dirs(stage->path() / "images_raw");
      stage_path = stage->path().string();
    } catch (...) {
      err = detail::what(std::current_exception());
    }
  }
  comm.check_all(err);
  comm.broadcast(stage_path);
  const fs::path dir = stage_path;
  const int64_t total = int64_t(o.per_class) * int64_t(classes.size());
  const dist::Range mine = dist::share(total, comm.rank(), comm.size());
  std::vector<std::vector<Annotation>> anns(static_cast<size_t>(total));
  std::vector<int> sizes(static_cast<size_t>(total));
  std::vector<int> hidden(static_cast<size_t>(total));
  // Contact-sheet samples: 16 images spread evenly over the set.
  std::vector<int64_t> sheet_idx;
  if (!o.contact_sheet.empty() && total > 0)
    for (int k = 0; k < std::min<int64_t>(16, total); ++k) sheet_idx.push_back(k * total / std::min<int64_t>(16, total));
  std::vector<Image> sheet(sheet_idx.size());
  std::atomic<int64_t> done{0};
  std::mutex mu;
  std::exception_ptr error;
  int64_t error_at = total;
  parallel_for(mine.begin, mine.end, [&](int64_t i) {
    try {
      Rendered r = render_dataset_image(classes, o, i);
      data::save_image(dir / "images_raw" / image_file_name(i), r.image, r.jpeg_quality);
      hidden[size_t(i)] = r.objects - int(r.annotations.size());
      sizes[size_t(i)] = r.image.w;
      auto it = std::find(sheet_idx.begin(), sheet_idx.end(), i);
      if (it != sheet_idx.end() && comm.is_root()) {
        draw_annotations(r.image, r.annotations, classes);
        sheet[size_t(it - sheet_idx.begin())] = std::move(r.image);
      }
      anns[size_t(i)] = std::move(r.annotations);
      int64_t d = ++done;
      if (progress) {
        std::lock_guard<std::mutex> lock(mu);
        progress(d, mine.end - mine.begin);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      if (i < error_at) error = std::current_exception(), error_at = i;
    }
  });
  // the first failed image stops every rank; then every part's annotations go to every rank
  comm.check_all(error ? detail::what(error) : std::string());
  if (comm.size() > 1) {
    dist::Bytes part;
    for (int64_t i = mine.begin; i < mine.end; ++i) detail::put_image(part, sizes[size_t(i)], hidden[size_t(i)], anns[size_t(i)]);
    std::vector<std::string> parts = comm.allgather(part.str());
    for (int r = 0; r < comm.size(); ++r) {
      if (r == comm.rank()) continue;
      dist::Bytes in(std::move(parts[size_t(r)]));
      const dist::Range theirs = dist::share(total, r, comm.size());
      for (int64_t i = theirs.begin; i < theirs.end; ++i)
        detail::get_image(in, sizes[size_t(i)], hidden[size_t(i)], anns[size_t(i)]);
      YOLITE_CHECK(in.done(), "synth: rank ", r, " sent more than its images");
    }
  }
  SynthSummary sum;
  sum.images = int(total);
  for (int64_t i = 0; i < total; ++i) sum.annotations += int(anns[size_t(i)].size()), sum.hidden += hidden[size_t(i)];
  // rank 0 writes the rest and publishes the folder; the others wait for it
  err.clear();
  if (comm.is_root()) {
    try {
      data::write_file_atomic(dir / "coco_instances.json", coco_json(classes, sizes, anns, o.seed).dump() + "\n");
      if (o.test_image) {
        Rng rng = Rng(o.seed).split(0xffffffffull);
        Rendered t = render_test_scene(classes, rng);
        data::save_image(dir / "test_image.jpg", t.image, t.jpeg_quality);
      }
      stage->commit();
      if (!sheet.empty()) {
        std::vector<std::string> titles;
        for (size_t k = 0; k < sheet_idx.size(); ++k) {
          const int64_t i = sheet_idx[k];
          if (sheet[k].empty()) {  // rendered by another rank: the same image again, here
            Rendered r = render_dataset_image(classes, o, i);
            draw_annotations(r.image, r.annotations, classes);
            sheet[k] = std::move(r.image);
          }
          titles.push_back(image_file_name(i) + " " + classes[size_t(i / std::max(o.per_class, 1))].name);
        }
        viz::GridOptions g;
        g.cols = 4, g.cell_w = g.cell_h = 256;
        data::save_image(o.contact_sheet, viz::make_grid(sheet, g, titles), 90);
      }
    } catch (...) {
      err = detail::what(std::current_exception());
    }
  }
  comm.check_all(err);
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return sum;
}

}  // namespace yolite::synth
