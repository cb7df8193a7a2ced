// synth/scene_file.hpp -- a small yaml file that lists the classes to render (built-in bottles
// and/or user OBJ models) and the randomisation ranges: `yolite synth --scene scene.yaml`.
//
//   # scene.yaml -- every key is optional except classes
//   max_objects: 3              # 1..N objects per image
//   min_size: 0.05              # smallest / largest object, fraction of the image side
//   max_size: 0.9
//   lying: 0.3                  # chance that an object is rolled up to lying on its side
//   blur: 0.3                   # chance of a blurred image
//   noise: 0.025                # largest sensor-noise sigma (0..1 units)
//   jpeg: [70, 95]              # JPEG quality range
//   closeup: 0.3                # chance that the first object is a close-up (may leave the frame)
//   closeup_size: [0.5, 1.1]    # its longest side, fraction of the image side
//   closeup_framed: 0.0         # share of close-ups showing one whole bottle inside the frame
//   refraction: 0.03            # background shift through clear bottles, fraction of the image side
//   ground: 0.4                 # chance of a natural ground (soil, gravel, grass, sand, paving, ...)
//   clutter3d: 0.2              # chance of a background of densely packed rendered props
//   distractors: 3              # 0..N unlabelled props (cans, cups, boxes, ...) per image
//   shadows: 0.6                # chance that the objects cast a soft shadow
//   crushed: 0.3                # chance that a PET bottle (plastic, soda, water) is dented or squashed
//   camera_fx: 0.5              # chance of a colour temperature / tint shift and motion blur
//   text_labels: 0.7            # chance that a built-in bottle's labels carry printed words
//   bare: 0.3                   # chance that a built-in bottle lost its labels (or all but a torn strip)
//   square: 0.3                 # chance that a plastic or water bottle has a square or oblong body
//   reflections: 0.7            # chance that glass and clear plastic reflect sky, ground and windows
//   rows: 0.15                  # chance of rows of one bottle side by side (packs, shelves, conveyors)
//   studio: 0.15                # chance of a white product-photo backdrop
//   min_visible: 0.3            # objects less visible than this share of their pixels get no label
//   clear: 0.5                  # chance that a plastic, soda or water bottle is colourless clear PET
//   fonts: /usr/share/fonts/truetype/dejavu   # .ttf/.otf folder for them (default: Debian's)
//   backgrounds: photos/        # a folder of photos as backgrounds (relative to this file)
//   background_prob: 0.8        # share of images on a photo with `backgrounds`
//   classes:                    # in order: COCO ids 1, 2, ...
//     - name: Wine Bottle
//       builtin: wine           # beer, plastic, soda, water or wine
//       size: 512               # image side for this class (default: the built-in's / 300)
//     - name: Green Bottle
//       models: [models/green.obj, models/green_tall.obj]   # relative to this file
//
// Errors name the file and line (data/yaml.hpp's positions).
//
//   synth::SceneFile f = synth::read_scene_file("scene.yaml");
//   f.classes;  f.scene;  f.max_objects;
#pragma once
#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../data/yaml.hpp"
#include "obj_loader.hpp"
#include "scene.hpp"

namespace yolite::synth {

struct SceneFile {
  std::vector<ClassSpec> classes;  // coco_id 1.. in file order
  SceneOptions scene;
  std::optional<int> max_objects;
  std::filesystem::path backgrounds;  // "" = none; scan it with scan_photo_folder
  std::filesystem::path fonts;        // "" = the default font folder; load it with load_fonts
  bool text_labels_given = false;     // the file sets text_labels itself
  bool lying_given = false;           // the file sets lying itself
};

inline SceneFile scene_file_from(const data::Yaml& y, const std::filesystem::path& base_dir) {
  SceneFile f;
  f.scene = realistic_scene_options();  // keys not in the file keep `yolite synth`'s defaults
  YOLITE_CHECK(y.is_map(), y.where(), "a scene file is a mapping with a 'classes' list");
  static constexpr const char* kKeys[] = {"max_objects", "min_size", "max_size", "lying", "blur", "noise", "jpeg",
                                          "closeup", "closeup_size", "closeup_framed", "refraction", "ground", "clutter3d", "distractors", "shadows",
                                          "crushed", "camera_fx", "text_labels", "bare", "square", "reflections", "rows", "studio", "min_visible", "clear", "stretch", "liquid", "fonts", "backgrounds", "background_prob", "classes"};
  for (auto& [k, v] : y.map())
    if (std::find_if(std::begin(kKeys), std::end(kKeys), [&](const char* s) { return k == s; }) == std::end(kKeys)) {
      std::string known;  // the list of the keys above, so the message never drifts from it
      for (const char* s : kKeys) known += (known.empty() ? "" : ", ") + std::string(s);
      fail(v.where(), "unknown key '", k, "' (expected ", known, ")");
    }
  if (auto* v = y.find("max_objects")) f.max_objects = int(v->integer());
  if (auto* v = y.find("min_size")) f.scene.min_size = float(v->num());
  if (auto* v = y.find("max_size")) f.scene.max_size = float(v->num());
  if (auto* v = y.find("lying")) f.scene.lying_probability = float(v->num()), f.lying_given = true;
  if (auto* v = y.find("blur")) f.scene.blur_probability = float(v->num());
  if (auto* v = y.find("noise")) f.scene.max_noise = float(v->num());
  if (auto* v = y.find("closeup")) f.scene.closeup_probability = float(v->num());
  if (auto* v = y.find("closeup_framed")) f.scene.closeup_framed = float(v->num());
  if (auto* v = y.find("refraction")) f.scene.refraction = float(v->num());
  if (auto* v = y.find("ground")) f.scene.ground_probability = float(v->num());
  if (auto* v = y.find("clutter3d")) f.scene.clutter3d_probability = float(v->num());
  if (auto* v = y.find("distractors")) f.scene.max_distractors = int(v->integer());
  if (auto* v = y.find("shadows")) f.scene.shadow_probability = float(v->num());
  if (auto* v = y.find("crushed")) f.scene.crush_probability = float(v->num());
  if (auto* v = y.find("camera_fx")) f.scene.camera_fx_probability = float(v->num());
  if (auto* v = y.find("bare")) f.scene.bare_probability = float(v->num());
  if (auto* v = y.find("square")) f.scene.square_probability = float(v->num());
  if (auto* v = y.find("reflections")) f.scene.reflection_probability = float(v->num());
  if (auto* v = y.find("rows")) f.scene.rows_probability = float(v->num());
  if (auto* v = y.find("studio")) f.scene.studio_probability = float(v->num());
  if (auto* v = y.find("min_visible")) f.scene.min_visible = float(v->num());
  if (auto* v = y.find("clear")) f.scene.clear_probability = float(v->num());
  if (auto* v = y.find("stretch")) f.scene.stretch = float(v->num());
  if (auto* v = y.find("liquid")) f.scene.liquid_probability = float(v->num());
  if (auto* v = y.find("text_labels")) f.scene.text_label_probability = float(v->num()), f.text_labels_given = true;
  if (auto* v = y.find("fonts")) {
    std::filesystem::path d = v->str();
    f.fonts = d.is_absolute() ? d : base_dir / d;
  }
  if (auto* v = y.find("closeup_size")) {
    const auto& q = v->items();
    YOLITE_CHECK(q.size() == 2, v->where(), "closeup_size: expected [min, max], got ", q.size(), " values");
    f.scene.closeup_min = float(q[0].num()), f.scene.closeup_max = float(q[1].num());
  }
  if (auto* v = y.find("backgrounds")) {
    std::filesystem::path b = v->str();
    f.backgrounds = b.is_absolute() ? b : base_dir / b;
  }
  if (auto* v = y.find("background_prob")) {
    f.scene.photo_probability = float(v->num());
    YOLITE_CHECK(f.scene.photo_probability >= 0 && f.scene.photo_probability <= 1, v->where(),
                 "background_prob: need 0..1");
  }
  if (auto* v = y.find("jpeg")) {
    const auto& q = v->items();
    YOLITE_CHECK(q.size() == 2, v->where(), "jpeg: expected [min, max], got ", q.size(), " values");
    f.scene.jpeg_min = int(q[0].integer()), f.scene.jpeg_max = int(q[1].integer());
    YOLITE_CHECK(f.scene.jpeg_min >= 1 && f.scene.jpeg_max <= 100 && f.scene.jpeg_min <= f.scene.jpeg_max, v->where(),
                 "jpeg: need 1 <= min <= max <= 100");
  }
  YOLITE_CHECK(f.scene.min_size > 0 && f.scene.min_size <= f.scene.max_size && f.scene.max_size <= 2, y.where(),
               "min_size/max_size: need 0 < min <= max <= 2");
  const data::Yaml& cl = y["classes"];
  YOLITE_CHECK(!cl.is_null(), y.where(), "no 'classes' list");
  for (const data::Yaml& c : cl.items()) {
    ClassSpec spec;
    spec.name = c["name"].str();
    YOLITE_CHECK(!spec.name.empty(), c.where(), "a class needs a name");
    for (auto& other : f.classes)
      YOLITE_CHECK(other.name != spec.name, c.where(), "class '", spec.name, "' is listed twice");
    spec.coco_id = int(f.classes.size()) + 1;
    if (auto* b = c.find("builtin")) {
      auto kind = bottle_kind_from_name(b->str());
      YOLITE_CHECK(kind.has_value(), b->where(), "builtin: unknown bottle '", b->str(),
                   "' (expected beer, plastic, soda, water or wine)");
      int k = int(*kind);
      spec.builtin = BottleKind(k);
      spec.image_size = kBottleImageSize[size_t(k)];
    }
    if (auto* m = c.find("models")) {
      YOLITE_CHECK(!spec.builtin, m->where(), "class '", spec.name, "': give 'builtin' or 'models', not both");
      std::vector<std::string> paths;
      if (m->is_list())
        for (auto& p : m->items()) paths.push_back(p.str());
      else
        paths.push_back(m->str());
      for (auto& p : paths) {
        std::filesystem::path path(p);
        if (path.is_relative()) path = base_dir / path;
        Mesh mesh = load_obj(path);
        normalize_mesh(mesh);
        spec.models.push_back(std::make_shared<const Mesh>(std::move(mesh)));
      }
    }
    YOLITE_CHECK(spec.builtin || !spec.models.empty(), c.where(), "class '", spec.name,
                 "' needs 'builtin: <kind>' or 'models: [file.obj, ...]'");
    if (auto* s = c.find("size")) spec.image_size = int(s->integer());
    YOLITE_CHECK(spec.image_size >= 32 && spec.image_size <= 8192, c.where(), "class '", spec.name, "': size ",
                 spec.image_size, " out of range (32..8192)");
    f.classes.push_back(std::move(spec));
  }
  YOLITE_CHECK(!f.classes.empty(), cl.where(), "the 'classes' list is empty");
  return f;
}

inline SceneFile read_scene_file(const std::filesystem::path& path) {
  return scene_file_from(data::read_yaml(path), path.parent_path());
}

}  // namespace yolite::synth
