// yolite synth -- render a synthetic bottle data set in the tutorial's layout.
//
//   yolite synth --out bottles --per-class 5000 --seed 1 [--sizes 512,300] [--max-objects 3]
//                [--mixed] [--classes "Beer Bottle,Wine Bottle"] [--class "Green Bottle=models/green.obj"]
//                [--scene scene.yaml] [--contact-sheet sheet.jpg] [--exist-ok] [--threads N]
//                [--backgrounds photos/ [--background-prob 0.8]] [--closeup 0.7 [--closeup-size 0.6,1.2]
//                [--closeup-framed 0]] [--lying 0.3]
//                [--refraction 0.03] [--ground 0.4] [--clutter3d 0.2] [--distractors 3] [--shadows 0.6]
//                [--crushed 0.3] [--camera-fx 0.5] [--text-labels 0.7 [--fonts DIR]] [--bare 0.3]
//                [--square 0.3] [--reflections 0.7] [--rows 0.15] [--studio 0.15] [--min-visible 0.3] [--clear 0.5] [--stretch 0] [--liquid 0]
//                [--plain]
// Without flags every realism knob is on at synth::realistic_scene_options(); --plain turns
// off those not given.
//
// Writes OUT/images_raw/00000000.jpg ..., OUT/coco_instances.json and OUT/test_image.jpg
// (see include/yolite/synth/dataset_writer.hpp). Classes: the five built-in bottles (COCO ids
// 1..5, images 512x512 for Beer and Wine, 300x300 for the others) unless --classes picks some
// (or "none") or --class adds user models; a --class alone renders only the user classes.
// --sizes cycles over the classes: "416" gives every class 416, "512,300" alternates.
// --scene reads the classes and random ranges from a yaml file (synth/scene_file.hpp).
// --backgrounds puts the objects over random crops of the photos in a folder on that share of
// the images (synth/photo_backgrounds.hpp); files that are not usable images are skipped with
// a message naming each.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <malloc.h>

#include <CLI/CLI.hpp>

#include <yolite/core/error.hpp>
#include <yolite/core/parallel.hpp>
#include <yolite/synth/dataset_writer.hpp>
#include <yolite/synth/obj_loader.hpp>
#include <yolite/synth/scene_file.hpp>

#include "command.hpp"
#include "ranks.hpp"

namespace {

std::string trim(std::string s) {
  auto sp = [](unsigned char c) { return std::isspace(c); };
  while (!s.empty() && sp(s.back())) s.pop_back();
  size_t i = 0;
  while (i < s.size() && sp(s[i])) ++i;
  return s.substr(i);
}
std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    size_t e = s.find(sep, pos);
    out.push_back(trim(s.substr(pos, e == std::string::npos ? std::string::npos : e - pos)));
    if (e == std::string::npos) break;
    pos = e + 1;
  }
  return out;
}

// Built-in classes chosen by name ("Beer Bottle" or "beer"), case-insensitive.
std::vector<yolite::synth::ClassSpec> pick_builtins(const std::string& list) {
  auto all = yolite::synth::builtin_classes();
  if (lower(trim(list)) == "all") return all;
  std::vector<yolite::synth::ClassSpec> out;
  if (lower(trim(list)) == "none") return out;
  for (auto& want : split(list, ',')) {
    if (want.empty()) continue;
    auto it = std::find_if(all.begin(), all.end(), [&](auto& c) {
      return lower(c.name) == lower(want) || lower(c.name) == lower(want) + " bottle";
    });
    if (it == all.end())
      yolite::fail("--classes: unknown class '", want,
                   "' (expected Beer, Plastic, Soda, Water, Wine Bottle, 'all' or 'none')");
    out.push_back(*it);
  }
  return out;
}

// Redrawn at most ~10 times a second (the caller serialises the calls).
struct ProgressBar {
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now(), last = t0;
  void operator()(int64_t done, int64_t total) {
    auto now = std::chrono::steady_clock::now();
    if (done != total && std::chrono::duration<double>(now - last).count() < 0.1) return;
    last = now;
    double s = std::chrono::duration<double>(now - t0).count();
    int width = 30, fill = int(double(width) * double(done) / double(std::max<int64_t>(total, 1)));
    std::fprintf(stderr, "\r  [%s%s] %lld/%lld images  %.0f img/s ", std::string(size_t(fill), '#').c_str(),
                 std::string(size_t(width - fill), '.').c_str(), static_cast<long long>(done),
                 static_cast<long long>(total), s > 0 ? double(done) / s : 0.0);
    if (done == total) std::fprintf(stderr, "\n");
  }
};

int run_synth(int argc, char** argv) {
  // Each rendered image allocates and frees a few MB of frame buffers; keep them in the heap
  // instead of mapping and unmapping (and page-faulting) fresh memory every image.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  CLI::App app{"render a synthetic bottle data set (images_raw/ + coco_instances.json + test_image.jpg)", "yolite synth"};
  std::string out, sizes_arg, classes_arg, sheet, scene_file, backgrounds;
  const yolite::synth::SceneOptions preset = yolite::synth::realistic_scene_options();
  float background_prob = 0.8f, closeup = preset.closeup_probability, refraction = preset.refraction;
  float closeup_framed = preset.closeup_framed, lying = preset.lying_probability, clear = preset.clear_probability;
  float stretch = preset.stretch, liquid = preset.liquid_probability;
  float ground = preset.ground_probability, clutter3d = preset.clutter3d_probability, shadows = preset.shadow_probability;
  float crushed = preset.crush_probability, camera_fx = preset.camera_fx_probability;
  float text_labels = preset.text_label_probability, bare = preset.bare_probability;
  float square = preset.square_probability, reflections = preset.reflection_probability;
  float rows = preset.rows_probability, studio = preset.studio_probability, min_visible = preset.min_visible;
  std::string fonts;
  int distractors = preset.max_distractors;
  bool plain = false;
  std::string closeup_size;
  std::vector<std::string> user_classes;
  int per_class = 100, max_objects = 3, threads = 0;
  uint64_t seed = 0;
  bool mixed = false, exist_ok = false, no_test = false;
  float min_size = 0.05f, max_size = 0.9f;
  app.add_option("--out", out, "output folder")->required();
  app.add_option("--per-class", per_class, "images per class (default 100)");
  app.add_option("--sizes", sizes_arg, "image sides, cycled over the classes, e.g. 512,300 (default: per class)");
  app.add_option("--seed", seed, "random seed (same seed -> same files)");
  app.add_option("--max-objects", max_objects, "1..N objects per image (default 3)");
  app.add_flag("--mixed", mixed, "objects of random classes in each image");
  app.add_option("--classes", classes_arg, "built-in classes: comma list of names, 'all' or 'none'");
  app.add_option("--class", user_classes, "a user class: \"Name=model.obj[;other.obj...]\" (repeatable)");
  app.add_option("--scene", scene_file, "yaml file listing classes (built-in or OBJ models) and random ranges");
  app.add_option("--contact-sheet", sheet, "also write a 4x4 sheet of labelled samples (.jpg/.png)");
  app.add_option("--min-size", min_size, "smallest object, fraction of the image side (default 0.05)");
  app.add_option("--max-size", max_size, "largest object, fraction of the image side (default 0.9)");
  app.add_option("--lying", lying, "chance that a bottle is rolled up to lying on its side (default 0.3)");
  app.add_flag("--plain", plain, "the plain renderer: every realism knob below that is not given is off");
  app.add_option("--closeup", closeup, "chance that an image's first object is a close-up (default 0.7)");
  app.add_option("--closeup-size", closeup_size, "close-up size range, fraction of the image side (default 0.6,1.2)");
  app.add_option("--closeup-framed", closeup_framed, "share of close-ups showing one whole bottle inside the frame (default 0)");
  app.add_option("--refraction", refraction, "background shift through clear bottles, fraction of the image side (default 0.04)");
  app.add_option("--ground", ground, "chance of a natural ground background: soil, gravel, grass, sand, ... (default 0.5)");
  app.add_option("--clutter3d", clutter3d, "chance of a background of densely packed rendered props (default 0.25)");
  app.add_option("--distractors", distractors, "0..N unlabelled props (cans, cups, boxes, ...) per image (default 3)");
  app.add_option("--shadows", shadows, "chance that the objects cast a soft shadow (default 0.6)");
  app.add_option("--crushed", crushed, "chance that a PET bottle is dented or squashed (default 0.4)");
  app.add_option("--camera-fx", camera_fx, "chance of a colour temperature shift and motion blur (default 0.5)");
  app.add_option("--text-labels", text_labels, "chance that a bottle's labels carry printed words and logos (default 0.7)");
  app.add_option("--bare", bare, "chance that a bottle has lost its labels or all but a torn strip (default 0.3)");
  app.add_option("--square", square, "chance that a plastic or water bottle has a square or oblong body (default 0.3)");
  app.add_option("--reflections", reflections, "chance that glass and clear plastic reflect sky, ground and windows (default 0.7)");
  app.add_option("--rows", rows, "chance of rows of one bottle side by side: packs, shelves, conveyors (default 0.15)");
  app.add_option("--studio", studio, "chance of a white product-photo backdrop (default 0.15)");
  app.add_option("--clear", clear, "chance that a plastic, soda or water bottle is colourless clear PET (default 0.5)");
  app.add_option("--stretch", stretch, "images look like photos up to 1+S times wider or taller, stretched to their size (default 0)");
  app.add_option("--liquid", liquid, "chance that a see-through PET bottle is filled with water or a drink (default 0)");
  app.add_option("--min-visible", min_visible, "objects less visible than this share of their pixels get no label (default 0.3)");
  app.add_option("--fonts", fonts, "folder of .ttf/.otf fonts for --text-labels (default: Debian's DejaVu)");
  app.add_option("--backgrounds", backgrounds, "folder of photos (without the objects) to use as backgrounds");
  app.add_option("--background-prob", background_prob, "share of images on a photo background with --backgrounds (default 0.8)");
  app.add_flag("--exist-ok", exist_ok, "write into a non-empty output folder");
  app.add_flag("--no-test-image", no_test, "skip test_image.jpg");
  app.add_option("--threads", threads, "OpenMP threads (default: all)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  namespace synth = yolite::synth;
  std::vector<synth::ClassSpec> classes;
  synth::SynthOptions o;
  std::filesystem::path font_dir_from_file;
  bool text_labels_from_file = false, lying_from_file = false;
  if (!scene_file.empty()) {
    synth::SceneFile f = synth::read_scene_file(scene_file);
    classes = f.classes;
    o.scene = f.scene;
    if (backgrounds.empty() && !f.backgrounds.empty()) backgrounds = f.backgrounds.string();
    font_dir_from_file = f.fonts;
    text_labels_from_file = f.text_labels_given;
    lying_from_file = f.lying_given;
    if (!app.count("--background-prob")) background_prob = f.scene.photo_probability;
    if (f.max_objects && app.count("--max-objects") == 0) max_objects = *f.max_objects;
    if (!classes_arg.empty()) yolite::fail("--classes cannot be combined with --scene (list the classes in the file)");
  } else if (!classes_arg.empty() || user_classes.empty()) {
    classes = pick_builtins(classes_arg.empty() ? "all" : classes_arg);
  }
  for (auto& spec : user_classes) {
    size_t eq = spec.find('=');
    if (eq == std::string::npos || trim(spec.substr(0, eq)).empty() || trim(spec.substr(eq + 1)).empty())
      yolite::fail("--class '", spec, "': expected \"Name=model.obj\"");
    synth::ClassSpec c;
    c.name = trim(spec.substr(0, eq));
    c.image_size = 300;
    for (auto& path : split(spec.substr(eq + 1), ';')) {
      if (path.empty()) continue;
      synth::Mesh m = synth::load_obj(path);
      synth::normalize_mesh(m);
      c.models.push_back(std::make_shared<const synth::Mesh>(std::move(m)));
    }
    for (auto& other : classes)
      if (other.name == c.name) yolite::fail("--class '", spec, "': class name '", c.name, "' is used twice");
    classes.push_back(std::move(c));
  }
  if (classes.empty()) yolite::fail("no classes to render (--classes none and no --class)");
  for (size_t i = 0; i < classes.size(); ++i) classes[i].coco_id = int(i) + 1;
  o.out = out, o.per_class = per_class, o.seed = seed, o.max_objects = max_objects, o.mixed = mixed;
  o.exist_ok = exist_ok, o.test_image = !no_test, o.contact_sheet = sheet;
  if (app.count("--min-size") || scene_file.empty()) o.scene.min_size = min_size;
  if (app.count("--max-size") || scene_file.empty()) o.scene.max_size = max_size;
  if (!sizes_arg.empty())
    for (auto& s : split(sizes_arg, ',')) {
      try {
        size_t used = 0;
        int v = std::stoi(s, &used);
        if (used != s.size()) throw std::invalid_argument(s);
        o.sizes.push_back(v);
      } catch (const std::exception&) {
        yolite::fail("--sizes: '", s, "' is not a whole number");
      }
    }
  if (threads < 0) yolite::fail("--threads must be >= 0, got ", threads);
  if (o.scene.min_size <= 0 || o.scene.max_size < o.scene.min_size || o.scene.max_size > 2)
    yolite::fail("--min-size/--max-size: need 0 < min <= max <= 2, got ", o.scene.min_size, " and ", o.scene.max_size);
  if (app.count("--background-prob") && backgrounds.empty()) yolite::fail("--background-prob needs --backgrounds DIR");
  o.scene.photo_probability = background_prob;
  if (app.count("--closeup") || scene_file.empty()) o.scene.closeup_probability = closeup;
  if (app.count("--closeup-framed") || scene_file.empty()) o.scene.closeup_framed = closeup_framed;
  if (app.count("--lying") || scene_file.empty()) o.scene.lying_probability = lying;
  if (app.count("--refraction") || scene_file.empty()) o.scene.refraction = refraction;
  if (app.count("--ground") || scene_file.empty()) o.scene.ground_probability = ground;
  if (app.count("--clutter3d") || scene_file.empty()) o.scene.clutter3d_probability = clutter3d;
  if (app.count("--distractors") || scene_file.empty()) o.scene.max_distractors = distractors;
  if (app.count("--shadows") || scene_file.empty()) o.scene.shadow_probability = shadows;
  if (app.count("--crushed") || scene_file.empty()) o.scene.crush_probability = crushed;
  if (app.count("--camera-fx") || scene_file.empty()) o.scene.camera_fx_probability = camera_fx;
  if (app.count("--text-labels") || scene_file.empty()) o.scene.text_label_probability = text_labels;
  if (app.count("--bare") || scene_file.empty()) o.scene.bare_probability = bare;
  if (app.count("--square") || scene_file.empty()) o.scene.square_probability = square;
  if (app.count("--reflections") || scene_file.empty()) o.scene.reflection_probability = reflections;
  if (app.count("--rows") || scene_file.empty()) o.scene.rows_probability = rows;
  if (app.count("--studio") || scene_file.empty()) o.scene.studio_probability = studio;
  if (app.count("--min-visible") || scene_file.empty()) o.scene.min_visible = min_visible;
  if (app.count("--clear") || scene_file.empty()) o.scene.clear_probability = clear;
  if (app.count("--stretch") || scene_file.empty()) o.scene.stretch = stretch;
  if (app.count("--liquid") || scene_file.empty()) o.scene.liquid_probability = liquid;
  if (plain) {  // the plain renderer: knobs not given on the command line are off (scene file included)
    if (!app.count("--closeup")) o.scene.closeup_probability = 0;
    if (!app.count("--closeup-framed")) o.scene.closeup_framed = 0;
    if (!app.count("--lying") && !lying_from_file) o.scene.lying_probability = synth::SceneOptions{}.lying_probability;
    if (!app.count("--refraction")) o.scene.refraction = 0;
    if (!app.count("--ground")) o.scene.ground_probability = 0;
    if (!app.count("--clutter3d")) o.scene.clutter3d_probability = 0;
    if (!app.count("--distractors")) o.scene.max_distractors = 0;
    if (!app.count("--shadows")) o.scene.shadow_probability = 0;
    if (!app.count("--crushed")) o.scene.crush_probability = 0;
    if (!app.count("--camera-fx")) o.scene.camera_fx_probability = 0;
    if (!app.count("--text-labels")) o.scene.text_label_probability = 0;
    if (!app.count("--bare")) o.scene.bare_probability = 0;
    if (!app.count("--square")) o.scene.square_probability = 0;
    if (!app.count("--reflections")) o.scene.reflection_probability = 0;
    if (!app.count("--rows")) o.scene.rows_probability = 0;
    if (!app.count("--studio")) o.scene.studio_probability = 0;
    if (!app.count("--min-visible")) o.scene.min_visible = 0;
    if (!app.count("--clear")) o.scene.clear_probability = 0;
    if (!app.count("--stretch")) o.scene.stretch = 0;
    if (!app.count("--liquid")) o.scene.liquid_probability = 0;
  }
  if (o.scene.text_label_probability > 0) {
    std::filesystem::path dir = !fonts.empty() ? std::filesystem::path(fonts) : font_dir_from_file;
    if (dir.empty()) dir = synth::default_font_dir();
    if (dir.empty() && (app.count("--text-labels") || text_labels_from_file)) {
      yolite::fail("--text-labels: no font folder found (install fonts-dejavu-core or pass --fonts DIR)");
    } else if (dir.empty()) {  // the default asked for printed labels: go on without them
      std::printf("synth: no system fonts found (install fonts-dejavu-core or pass --fonts DIR): labels without text\n");
      o.scene.text_label_probability = 0;
    } else {
      o.scene.fonts = synth::load_fonts(dir);
    }
  }
  if (scene_file.empty() && !plain)  // the defaults' close-up range (--plain keeps SceneOptions' own)
    o.scene.closeup_min = preset.closeup_min, o.scene.closeup_max = preset.closeup_max;
  if (!closeup_size.empty()) {
    auto parts = split(closeup_size, ',');
    if (parts.size() != 2) yolite::fail("--closeup-size: expected MIN,MAX, got '", closeup_size, "'");
    try {
      o.scene.closeup_min = std::stof(parts[0]), o.scene.closeup_max = std::stof(parts[1]);
    } catch (const std::exception&) {
      yolite::fail("--closeup-size: '", closeup_size, "' is not two numbers");
    }
  }
  synth::validate(classes, o);  // before any output: bad values fail with nothing written
  if (!backgrounds.empty()) {
    auto folder = synth::scan_photo_folder(backgrounds, [](const std::string& m) { std::printf("%s\n", m.c_str()); });
    o.scene.photos = folder.files;
    std::printf("backgrounds: %zu photos from %s (%zu files skipped), on %.0f%% of the images\n", folder.files.size(),
                backgrounds.c_str(), folder.skipped.size(), 100.0 * double(background_prob));
  }
  if (!exist_ok && !yolite::data::empty_or_missing(out))
    yolite::fail(out, ": output folder exists and is not empty (use --exist-ok to write into it)");
  yolite::set_threads(threads);
  o.comm = yolite::cli::ranks();  // mpirun -np N: each rank renders a part (rank 0 writes the rest)
  const bool say = yolite::cli::is_writer();
  if (say) {
    std::printf("yolite synth: %lld images (%zu classes x %d) into %s, seed %llu, %d threads%s\n",
                static_cast<long long>(int64_t(per_class) * int64_t(classes.size())), classes.size(), per_class,
                out.c_str(), static_cast<unsigned long long>(seed), yolite::max_threads(),
                o.comm ? (" x " + std::to_string(o.comm->size()) + " ranks").c_str() : "");
    for (size_t i = 0; i < classes.size(); ++i) {
      int side = o.sizes.empty() ? classes[i].image_size : o.sizes[i % o.sizes.size()];
      std::printf("  %d  %-16s %dx%d%s\n", classes[i].coco_id, classes[i].name.c_str(), side, side,
                  classes[i].builtin ? "" : "  (user model)");
    }
    std::fflush(stdout);
  }
  ProgressBar bar;
  auto sum = synth::write_dataset(classes, o, [&](int64_t d, int64_t t) {
    if (say) bar(d, t);  // rank 0's part
  });
  if (!say) return 0;
  std::printf("wrote %d images, %d annotations (%d objects hidden or too little visible: no label) in %.1f s -> %s/coco_instances.json\n",
              sum.images, sum.annotations, sum.hidden, sum.seconds, out.c_str());
  if (!sheet.empty()) std::printf("contact sheet: %s\n", sheet.c_str());
  return 0;
}

}  // namespace

YOLITE_RANKED_COMMAND(synth, "render a synthetic bottle data set (COCO json + images)", run_synth);
