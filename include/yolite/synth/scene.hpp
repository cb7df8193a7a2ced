// synth/scene.hpp -- what one synthetic image shows, and how a random one is drawn.
//
// A ClassSpec is one object class: its name, COCO id, image size and where its meshes come
// from (a built-in bottle kind, or user models loaded from OBJ files). A Scene is everything
// render_scene() needs -- camera, light, background, the posed objects and the sensor
// effects -- so a scene can be built by hand, or drawn at random by sample_scene():
//
//   auto classes = synth::builtin_classes();                  // the five bottles, ids 1..5
//   Rng rng = Rng(42).split(image_index);
//   synth::Scene s = synth::sample_scene(classes, {0}, 300, 300, synth::SceneOptions{}, rng);
//   synth::Rendered r = synth::render_scene(s);                // render.hpp
//
// Randomised per object: orientation (spin about the bottle axis, tilt, roll up to lying on
// its side), size (5 % .. 90 % of the image side by default), position; per image: field of
// view, light direction / colour / ambient, background kind, noise, blur and JPEG quality.
// Optional (SceneOptions, all off by default): photo or natural-ground or rendered-clutter
// backgrounds, close-ups, refraction, dented bottles, distractors, shadows, camera colour
// and motion blur, label-less bottles, square bodies, reflections of the surroundings.
#pragma once
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <numbers>
#include <optional>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/rng.hpp"
#include "background.hpp"
#include "bottles.hpp"
#include "deform.hpp"
#include "grounds.hpp"
#include "labels.hpp"
#include "mesh.hpp"
#include "props.hpp"
#include "raster.hpp"
#include "shadows.hpp"

namespace yolite::synth {

struct ClassSpec {
  std::string name;
  int coco_id = 1;
  int image_size = 300;                              // square image side for images of this class
  std::optional<BottleKind> builtin;                 // a built-in bottle ...
  std::vector<std::shared_ptr<const Mesh>> models;   // ... or user models (one drawn per object)

  // A mesh for one object of this class: a fresh bottle instance or one of the user models.
  std::shared_ptr<const Mesh> make(Rng& rng) const {
    if (builtin) return std::make_shared<const Mesh>(make_bottle(*builtin, rng));
    YOLITE_CHECK(!models.empty(), "synth: class '", name, "' has no models");
    return models[rng.below(uint32_t(models.size()))];
  }
};

// The five built-in bottle classes with COCO ids 1..5 and their default image sizes.
inline std::vector<ClassSpec> builtin_classes() {
  std::vector<ClassSpec> out;
  for (int k = 0; k < 5; ++k) {
    ClassSpec c;
    c.name = kBottleNames[size_t(k)];
    c.coco_id = k + 1;
    c.image_size = kBottleImageSize[size_t(k)];
    c.builtin = BottleKind(k);
    out.push_back(std::move(c));
  }
  return out;
}

struct SceneObject {
  int cls = 0;  // index into the class list (-1 for an unlabelled distractor)
  std::shared_ptr<const Mesh> mesh;
  Pose pose;
};

// Sensor / file effects applied after rendering.
struct PostFx {
  float exposure = 1.0f;     // gain on the rendered colours
  int blur = 0;              // box blur radius in pixels (0 = none)
  float noise_sigma = 0.0f;  // additive noise, standard deviation in [0, 1] units
  int jpeg_quality = 95;
  Vec3 white_balance{1, 1, 1};  // per-channel gain: colour temperature and tint of the camera
  int motion = 0;               // motion blur: length of the smear in pixels (0 = none) ...
  float motion_angle = 0;       // ... and its direction (radians, image axes)
};

struct Scene {
  Camera camera;
  Light light;
  BackgroundKind background = BackgroundKind::gradient;
  std::optional<GroundKind> ground;  // set: a natural ground (grounds.hpp) instead of `background`
  bool clutter3d = false;            // true: rendered clutter (props.hpp) instead of `background`
  bool studio = false;               // true: a white product-photo backdrop instead of `background`
  std::filesystem::path photo;  // non-empty: a crop of this photo is the background instead
  uint64_t seed = 0;  // background and noise draw from Rng(seed)
  std::vector<SceneObject> objects;
  std::vector<SceneObject> distractors;  // unlabelled props, drawn with the background's id 0
  Shadow shadow;                         // strength 0 = none
  PostFx fx;
  // An object of which less than this share of its own pixels stays visible behind the others
  // (bottles, distractors) gets no annotation, and its pixels leave the id mask (0, as a
  // distractor's): a cap showing over a row, or a label band between two props, is not
  // labelled "a bottle". 0 = every object with a visible pixel is annotated.
  float min_visible = 0.0f;
};

struct SceneOptions {
  float min_size = 0.05f, max_size = 0.9f;  // longest projected side / shorter image side
  float lying_probability = 0.3f;           // chance of a roll of up to 90 degrees
  int jpeg_min = 70, jpeg_max = 95;
  float max_noise = 0.025f;
  float blur_probability = 0.3f;
  // Photos as backgrounds (synth/photo_backgrounds.hpp): with photo_probability, a random one
  // of `photos` replaces the procedural background. Empty: procedural only (and the random
  // stream, so the data set, is exactly what it was without the option).
  std::vector<std::filesystem::path> photos;
  float photo_probability = 0.8f;
  // Close-ups: with this probability the first object of an image is seen from near, its
  // longest side closeup_min..closeup_max of the shorter image side, and may be cut by the
  // frame (up to a quarter of its extent off-image) -- as bottles in hand-held photos are.
  // 0 draws nothing from the random stream (the data set is what it was without the option).
  float closeup_probability = 0.0f;
  float closeup_min = 0.5f, closeup_max = 1.1f;
  // Framed close-ups: this share of the close-ups shows its bottle whole, alone in the image and
  // inside the frame with a margin of 1-8% of the side (made smaller when it would not fit), as
  // in photos taken of one bottle; the others may leave the frame. 0 draws nothing from the
  // random stream.
  float closeup_framed = 0.0f;
  // Refraction through clear bottles: the background seen through them shifts by up to this
  // fraction of the image side (Light::refraction_px). 0 = plain see-through.
  float refraction = 0.0f;
  // Each of the following is off at 0 and then draws nothing from the random stream.
  float ground_probability = 0.0f;    // natural ground (soil, gravel, grass, ...) as the background
  float clutter3d_probability = 0.0f; // a background of densely packed rendered props
  int max_distractors = 0;            // 0..N unlabelled props per image, in front of or behind bottles
  float shadow_probability = 0.0f;    // the objects cast a soft shadow on the background
  float crush_probability = 0.0f;     // a PET bottle (plastic, soda, water) is dented or squashed
  float camera_fx_probability = 0.0f; // colour temperature / tint, and sometimes motion blur
  // Printed labels (labels.hpp): with this probability a built-in bottle's label bands carry
  // artwork with words in one of `fonts` (load_fonts); needs at least one font when > 0.
  float text_label_probability = 0.0f;
  std::vector<std::shared_ptr<const Font>> fonts;
  // Each of the following is off at 0 and then draws nothing from the random stream, too.
  float bare_probability = 0.0f;        // a built-in bottle has lost its labels, or all but a torn strip
  float square_probability = 0.0f;      // a plastic or water bottle has a square or oblong body (jugs)
  float reflection_probability = 0.0f;  // glass and clear plastic reflect a sky, a ground and windows
  // Rows of one product: with this probability the image shows copies of its first bottle
  // standing side by side in 1-3 rows, the front row near and cut by the frame, the rows
  // behind smaller and partly hidden -- packs, shelves, conveyors and product shots. Off at 0
  // (draws nothing from the random stream).
  float rows_probability = 0.0f;
  // A white or light grey studio backdrop (paint_studio) instead of the other backgrounds, as in
  // product photos. Off at 0 (draws nothing from the random stream).
  float studio_probability = 0.0f;
  // Scene::min_visible of the sampled scenes (0 = off; draws nothing from the random stream).
  float min_visible = 0.0f;
  // Clear plastic (clear_body): with this probability a Plastic Bottle's opaque HDPE body is
  // nearly colourless clear PET instead, and a Soda or Water Bottle's tinted PET loses most of
  // its tint -- most bottles in real photos are clear, and on a light ground little but their
  // label, cap and edges shows. Off at 0 (draws nothing from the random stream).
  float clear_probability = 0.0f;
  // Stretched photos: the image looks like a photo up to 1 + stretch times wider or taller than
  // it is high, resized to its w x h by stretching (as data-set tools export square images), so
  // objects look narrower or wider than they are: the camera's pixel aspect is drawn
  // log-uniformly from [1 / (1 + stretch), 1 + stretch]. Off at 0 (draws nothing from the random
  // stream).
  float stretch = 0.0f;
  // Liquid: with this probability a see-through bottle (clear or tinted PET, not glass) is
  // filled to a random level with water or a drink (fill_liquid): below the level its body is
  // more opaque, takes the drink's colour and bends the background like a lens. Off at 0 (draws
  // nothing from the random stream).
  float liquid_probability = 0.0f;
};

// The settings `yolite synth` renders with unless told otherwise (`--plain` turns them off):
// every realism knob on at the strength measured best for detectors that must work on real
// photos (docs/sim2real.md). Printed labels need fonts: set `fonts` (load_fonts) before use.
// SceneOptions{} itself stays the plain renderer.
inline SceneOptions realistic_scene_options() {
  SceneOptions o;
  o.closeup_probability = 0.7f;
  o.closeup_min = 0.6f, o.closeup_max = 1.2f;
  o.refraction = 0.04f;
  o.ground_probability = 0.5f;
  o.clutter3d_probability = 0.25f;
  o.max_distractors = 3;
  o.shadow_probability = 0.6f;
  o.crush_probability = 0.4f;
  o.camera_fx_probability = 0.5f;
  o.text_label_probability = 0.7f;
  o.bare_probability = 0.3f;
  o.square_probability = 0.3f;
  o.reflection_probability = 0.7f;
  o.rows_probability = 0.15f;
  o.studio_probability = 0.15f;
  o.min_visible = 0.3f;
  o.clear_probability = 0.5f;
  return o;
}

// Built-in bottles whose walls are thin plastic that dents.
inline bool crushable(const ClassSpec& c) {
  return c.builtin && (*c.builtin == BottleKind::plastic || *c.builtin == BottleKind::soda || *c.builtin == BottleKind::water);
}

// Half extents in x and y of the mesh's vertices after rotation (for framing).
inline void rotated_half_extents(const Mesh& m, const Mat3& r, float& hx, float& hy) {
  hx = hy = 0;
  for (auto& p : m.pos) {
    Vec3 q = r * p;
    hx = std::max(hx, std::fabs(q.x)), hy = std::max(hy, std::fabs(q.y));
  }
}

// Places `mesh` (centred on its origin) with rotation `rot` so its longest projected side is
// `size_px` pixels and its centre falls on pixel (u, v).
inline Pose frame_object(const Mesh& mesh, const Mat3& rot, const Camera& cam, float size_px, float u, float v) {
  float hx, hy;
  rotated_half_extents(mesh, rot, hx, hy);
  float ext = std::max({hx, hy, 1e-6f});
  float d = cam.focal * 2.0f * ext / std::max(size_px, 1.0f);
  d = std::max(d, radius_about_origin(mesh) * 1.05f + 0.01f);  // never through the camera
  Pose p;
  p.rotation = rot;
  p.translation = cam.unproject(u, v, d);
  return p;
}

// Turns a bottle body into nearly colourless clear PET: a faint grey, blue or green cast, 10-25%
// opaque, glossy (the renderer draws anything less than opaque as see-through, darker at the
// silhouette).
inline void clear_body(Material& body, Rng& rng) {
  body.name = "clear PET";
  body.color = hsv(float(rng.uniform(0.25, 0.62)), float(rng.uniform(0.0, 0.1)), float(rng.uniform(0.85, 0.98)));
  body.opacity = float(rng.uniform(0.1, 0.25));
  body.specular = float(rng.uniform(0.7, 1.0));
  body.shininess = float(rng.uniform(50.0, 90.0));
  body.texture = nullptr;
}

// Fills a see-through bottle body (material 0 of a built-in bottle) with liquid up to a random
// level: the body's triangles below it get a new material -- water (nearly colourless) or a drink
// (yellow to brown, orange, green), more opaque than the empty plastic, and a lens that shifts
// what is seen through it 2.5-5 times as far (a filled cylinder magnifies and flips what is
// behind it). The mesh's shape and every other material stay as they are.
inline void fill_liquid(Mesh& m, Rng& rng) {
  if (m.materials.empty() || m.materials.size() >= 65535) return;
  float lo = std::numeric_limits<float>::max(), hi = -lo;
  for (size_t t = 0; t < m.tris.size(); ++t)
    if (m.tri_material[t] == 0)
      for (uint32_t v : m.tris[t]) lo = std::min(lo, m.pos[v].y), hi = std::max(hi, m.pos[v].y);
  if (!(hi > lo)) return;
  const float level = lo + (hi - lo) * float(rng.uniform(0.25, 1.0));
  Material liquid = m.materials[0];
  liquid.name = "liquid";
  liquid.texture = nullptr;
  if (rng.bernoulli(0.6))  // water
    liquid.color = hsv(float(rng.uniform(0.5, 0.6)), float(rng.uniform(0.0, 0.12)), float(rng.uniform(0.8, 0.95)));
  else
    liquid.color = hsv(float(rng.uniform(0.02, 0.35)), float(rng.uniform(0.4, 0.9)), float(rng.uniform(0.35, 0.9)));
  liquid.opacity = std::min(0.8f, m.materials[0].opacity + float(rng.uniform(0.1, 0.35)));
  liquid.lens = float(rng.uniform(1.5, 4.0));
  const auto id = uint16_t(m.materials.size());
  m.materials.push_back(std::move(liquid));
  for (size_t t = 0; t < m.tris.size(); ++t) {
    if (m.tri_material[t] != 0) continue;
    const auto& tri = m.tris[t];
    if ((m.pos[tri[0]].y + m.pos[tri[1]].y + m.pos[tri[2]].y) / 3.0f < level) m.tri_material[t] = id;
  }
}

// One object of class `spec` with the scene's mesh edits drawn: square body, dents, torn
// labels, printed artwork, clear plastic, liquid.
inline std::shared_ptr<const Mesh> make_object_mesh(const ClassSpec& spec, const SceneOptions& opt, Rng& rng) {
  std::shared_ptr<const Mesh> mesh = spec.make(rng);
  auto edit = [&](auto&& change) {  // the mesh may be shared (user models): change a copy
    auto m = std::make_shared<Mesh>(*mesh);
    change(*m);
    mesh = std::move(m);
  };
  if (opt.square_probability > 0 && spec.builtin &&
      (*spec.builtin == BottleKind::plastic || *spec.builtin == BottleKind::water) && rng.bernoulli(opt.square_probability))
    edit([&](Mesh& m) { square_section(m, rng); });
  if (opt.crush_probability > 0 && crushable(spec) && rng.bernoulli(opt.crush_probability))
    edit([&](Mesh& m) { crush(m, rng, float(rng.uniform(0.3, 1.0))); });
  if (opt.bare_probability > 0 && spec.builtin && rng.bernoulli(opt.bare_probability))
    edit([&](Mesh& m) { tear_labels(m, rng); });
  if (opt.text_label_probability > 0 && spec.builtin && rng.bernoulli(opt.text_label_probability)) {
    YOLITE_CHECK(!opt.fonts.empty(), "synth::sample_scene: printed labels need a font (SceneOptions::fonts)");
    edit([&](Mesh& m) { print_labels(m, rng, opt.fonts); });
  }
  if (opt.clear_probability > 0 && spec.builtin &&
      (*spec.builtin == BottleKind::plastic || *spec.builtin == BottleKind::soda || *spec.builtin == BottleKind::water) &&
      rng.bernoulli(opt.clear_probability))
    edit([&](Mesh& m) { clear_body(m.materials[0], rng); });  // a built-in bottle's first material is its body
  if (opt.liquid_probability > 0 && spec.builtin && !mesh->materials.empty() && mesh->materials[0].opacity < 0.5f &&
      rng.bernoulli(opt.liquid_probability))
    edit([&](Mesh& m) { fill_liquid(m, rng); });
  return mesh;
}

// Rows of one product: copies of one mesh (class `cls`), upright, side by side in 1-3 rows.
// The front row's bottles are 35-100% of the shorter image side tall and run across the
// frame; each row behind is smaller (further away), higher in the image and shifted by half a
// spacing, so its bottles show between and above the ones in front. Crushed copies would
// differ from each other, so a row is made of one undented mesh.
inline void place_rows(Scene& s, int cls, std::shared_ptr<const Mesh> mesh, int w, int h, Rng& rng) {
  const float side = float(std::min(w, h));
  const float tilt = float(rng.uniform(-0.05, 0.45));  // the camera looks level or down at the rows
  const int nrows = rng.randint(1, 3);
  const float height = float(rng.uniform(0.35, 1.0)) * side;        // front row, longest side
  const float spacing = float(rng.uniform(1.0, 1.45));              // centre distance / bottle width
  const float shrink = float(rng.uniform(0.78, 0.92));              // size ratio of a row to the one before
  const float rise = float(rng.uniform(0.12, 0.35));                // a row's lift, in bottle heights
  float v = float(rng.uniform(0.45, 0.7)) * float(h) + 0.25f * float(nrows - 1) * rise * height;
  const size_t max_objects = s.objects.size() + 14;
  // the extents of an upright copy (spin changes them little: round bodies)
  float hx, hy;
  rotated_half_extents(*mesh, rot_x(tilt), hx, hy);
  const float ext = std::max({hx, hy, 1e-6f});
  for (int r = 0; r < nrows; ++r) {  // front row first: ids read front to back
    const float size = height * std::pow(shrink, float(r));
    const float half_w = 0.5f * size * hx / ext;
    const float step = 2.0f * half_w * spacing;
    float u = float(rng.uniform(-0.5, 0.5)) * step + (r % 2 ? 0.5f * step : 0.0f);
    while (u + half_w > 0) u -= step;  // the first copy left of (or at) the frame's left edge
    for (u += step; u - half_w < float(w) && s.objects.size() < max_objects; u += step) {
      SceneObject o;
      o.cls = cls;
      o.mesh = mesh;
      Mat3 rot = rot_z(float(rng.uniform(-0.04, 0.04))) * rot_x(tilt) * rot_y(float(rng.uniform(0, 2 * std::numbers::pi)));
      float du = float(rng.uniform(-0.06, 0.06)) * step;
      o.pose = frame_object(*mesh, rot, s.camera, size, u + du, v);
      s.objects.push_back(std::move(o));
    }
    v -= rise * height * std::pow(shrink, float(r));
  }
}

// Random camera, light, background and effects for a w x h image (no objects yet).
inline Scene sample_setting(int w, int h, const SceneOptions& opt, Rng& rng) {
  Scene s;
  float fov = float(rng.uniform(35.0, 60.0)) * float(std::numbers::pi) / 180.0f;
  s.camera = Camera{w, h, 0.5f * float(std::max(w, h)) / std::tan(0.5f * fov)};
  if (opt.stretch > 0) s.camera.aspect = std::pow(1.0f + opt.stretch, float(rng.uniform(-1.0, 1.0)));
  s.light.dir = normalize(Vec3{float(rng.uniform(-1, 1)), float(rng.uniform(0.0, 1.0)), float(rng.uniform(0.3, 1.2))});
  Vec3 tint = hsv(rng.uniformf(), float(rng.uniform(0.0, 0.25)), 1.0f);
  s.light.color = tint * float(rng.uniform(0.75, 1.1));
  s.light.ambient = lerp(Vec3{1, 1, 1}, hsv(rng.uniformf(), 0.3f, 1.0f), 0.3f) * float(rng.uniform(0.25, 0.5));
  s.light.refraction_px = opt.refraction * float(std::min(w, h));
  s.background = BackgroundKind(rng.below(uint32_t(BackgroundKind::count)));
  if (!opt.photos.empty() && rng.bernoulli(opt.photo_probability))
    s.photo = opt.photos[rng.below(uint32_t(opt.photos.size()))];
  s.seed = rng.next_u64();
  s.fx.exposure = float(rng.uniform(0.85, 1.15));
  s.fx.blur = rng.bernoulli(opt.blur_probability) ? (rng.bernoulli(0.75) ? 1 : 2) : 0;
  s.fx.noise_sigma = rng.bernoulli(0.7) ? float(rng.uniform(0.0, opt.max_noise)) : 0.0f;
  s.fx.jpeg_quality = rng.randint(std::min(opt.jpeg_min, opt.jpeg_max), std::max(opt.jpeg_min, opt.jpeg_max));
  s.studio = opt.studio_probability > 0 && rng.bernoulli(opt.studio_probability) && s.photo.empty();
  if (opt.ground_probability > 0 && rng.bernoulli(opt.ground_probability) && s.photo.empty() && !s.studio)
    s.ground = GroundKind(rng.below(uint32_t(GroundKind::count)));
  if (opt.clutter3d_probability > 0 && rng.bernoulli(opt.clutter3d_probability) && s.photo.empty() && !s.ground && !s.studio)
    s.clutter3d = true;
  if (opt.shadow_probability > 0 && rng.bernoulli(opt.shadow_probability)) {
    // away from the light (camera y is up, image y down), a few percent of the image side
    const float side = float(std::min(w, h)), len = float(rng.uniform(0.01, 0.07)) * side;
    float lx = -s.light.dir.x, ly = s.light.dir.y, l = std::max(std::hypot(lx, ly), 1e-3f);
    s.shadow.strength = float(rng.uniform(0.25, 0.65));
    s.shadow.dx = int(std::lround(lx / l * len)), s.shadow.dy = int(std::lround(ly / l * len));
    s.shadow.blur = int(std::lround(float(rng.uniform(0.005, 0.03)) * side));
  }
  if (opt.camera_fx_probability > 0 && rng.bernoulli(opt.camera_fx_probability)) {
    const float temp = float(rng.uniform(-1, 1)) * 0.18f, tint = float(rng.uniform(-1, 1)) * 0.06f;
    s.fx.white_balance = {1.0f + temp, 1.0f + tint, 1.0f - temp};
    if (rng.bernoulli(0.3)) {
      s.fx.motion = rng.randint(2, std::max(2, std::min(w, h) / 40));
      s.fx.motion_angle = float(rng.uniform(0, std::numbers::pi));
    }
  }
  if (opt.reflection_probability > 0 && rng.bernoulli(opt.reflection_probability)) {
    Light& L = s.light;
    L.reflection = float(rng.uniform(0.6, 1.6));
    L.environment.sky = hsv(float(rng.uniform(0.5, 0.68)), float(rng.uniform(0.0, 0.35)), float(rng.uniform(0.6, 1.0)));
    L.environment.ground = hsv(rng.uniformf(), float(rng.uniform(0.0, 0.4)), float(rng.uniform(0.08, 0.4)));
    L.environment.windows = rng.randint(1, 4);
    for (int k = 0; k < L.environment.windows; ++k) {
      Environment::Window& wnd = L.environment.window[k];
      wnd.azimuth = float(rng.uniform(-std::numbers::pi, std::numbers::pi));
      wnd.half_width = float(rng.uniform(0.04, 0.35));
      wnd.el_lo = float(rng.uniform(-0.3, 0.3));
      wnd.el_hi = wnd.el_lo + float(rng.uniform(0.25, 1.0));
      wnd.radiance = float(rng.uniform(1.5, 5.0));
    }
  }
  return s;
}

// Moves `pose` (farther away and sideways, never nearer) until every vertex of `mesh` projects
// inside the pixel rectangle [x0, x1] x [y0, y1]: frame_object sizes an object by its extent
// at its centre's depth, and the near half of a close object projects larger than that.
inline void fit_in_frame(const Mesh& mesh, Pose& pose, const Camera& cam, float x0, float y0, float x1, float y1) {
  for (int it = 0; it < 6; ++it) {
    float bx0 = 1e30f, by0 = 1e30f, bx1 = -1e30f, by1 = -1e30f;
    for (auto& p : mesh.pos) {
      Vec3 q = pose.apply(p);
      if (q.z > -1e-3f) q.z = -1e-3f;
      const float x = cam.sx(q), y = cam.sy(q);
      bx0 = std::min(bx0, x), bx1 = std::max(bx1, x);
      by0 = std::min(by0, y), by1 = std::max(by1, y);
    }
    const float grow = std::max((bx1 - bx0) / (x1 - x0), (by1 - by0) / (y1 - y0));
    if (grow > 1) {  // too large: push it back along the line of sight (its pixel centre stays)
      pose.translation = pose.translation * (grow * 1.01f);
      continue;
    }
    const float du = bx0 < x0 ? x0 - bx0 : bx1 > x1 ? x1 - bx1 : 0.0f;
    const float dv = by0 < y0 ? y0 - by0 : by1 > y1 ? y1 - by1 : 0.0f;
    if (du == 0 && dv == 0) return;
    const float d = -pose.translation.z;
    pose.translation.x += du * d / cam.fx();
    pose.translation.y -= dv * d / cam.focal;
  }
}

// A random scene of a w x h image showing one object per entry of `object_classes` (indices
// into `classes`).
inline Scene sample_scene(const std::vector<ClassSpec>& classes, const std::vector<int>& object_classes, int w, int h,
                          const SceneOptions& opt, Rng& rng) {
  YOLITE_CHECK(opt.min_size > 0 && opt.min_size <= opt.max_size, "synth::sample_scene: bad size range ",
               opt.min_size, "..", opt.max_size);
  Scene s = sample_setting(w, h, opt, rng);
  s.min_visible = opt.min_visible;
  for (int cls : object_classes)
    YOLITE_CHECK(cls >= 0 && cls < int(classes.size()), "synth::sample_scene: class index ", cls, " out of ",
                 classes.size());
  const bool closeup = opt.closeup_probability > 0 && !object_classes.empty() && rng.bernoulli(opt.closeup_probability);
  const bool rows = opt.rows_probability > 0 && !object_classes.empty() && rng.bernoulli(opt.rows_probability);
  const bool framed = closeup && opt.closeup_framed > 0 && rng.bernoulli(opt.closeup_framed);
  const std::vector<int> placed = rows     ? std::vector<int>{}
                                  : framed ? std::vector<int>{object_classes.front()}
                                           : object_classes;
  for (int cls : placed) {
    SceneObject o;
    o.cls = cls;
    const ClassSpec& spec = classes[size_t(cls)];
    o.mesh = make_object_mesh(spec, opt, rng);
    float spin = float(rng.uniform(0, 2 * std::numbers::pi)), tilt = float(rng.uniform(-0.45, 0.45));
    // on a studio table bottles are often laid down for the photo
    const double lying = s.studio ? std::max(opt.lying_probability, 0.6f) : opt.lying_probability;
    float roll = rng.bernoulli(lying) ? float(rng.uniform(-0.5, 0.5) * std::numbers::pi)
                                                      : float(rng.uniform(-0.25, 0.25));
    Mat3 rot = rot_z(roll) * rot_x(tilt) * rot_y(spin);
    const bool near = closeup && s.objects.empty();
    float t = std::pow(rng.uniformf(), 1.5f);
    float size_px = near ? float(rng.uniform(opt.closeup_min, opt.closeup_max)) * float(std::min(w, h))
                         : (opt.min_size + (opt.max_size - opt.min_size) * t) * float(std::min(w, h));
    float hx, hy;
    rotated_half_extents(*o.mesh, rot, hx, hy);
    float ext = std::max({hx, hy, 1e-6f});
    float margin = 0;
    if (near && framed) {  // the whole bottle inside the frame: shrink it to fit the margins if needed
      margin = float(rng.uniform(0.01, 0.08));
      const float fit = std::min((1 - 2 * margin) * float(w) * ext / std::max(hx, 1e-6f),
                                 (1 - 2 * margin) * float(h) * ext / std::max(hy, 1e-6f));
      size_px = std::min(size_px, fit);
    }
    float half_w = 0.5f * size_px * hx / ext, half_h = 0.5f * size_px * hy / ext;
    // the centre keeps 80% of each half inside the frame (50% for a close-up, all of it and the
    // margin for a framed one)
    const float keep = near ? (framed ? 1.0f : 0.5f) : 0.8f;
    auto pick = [&](float half, int side) {
      float lo = keep * half + margin * float(side), hi = float(side) - lo;
      if (near && framed) return lo < hi ? float(rng.uniform(lo, hi)) : 0.5f * float(side);
      return lo < hi ? float(rng.uniform(lo, hi)) : 0.5f * float(side) + float(rng.uniform(-0.1, 0.1)) * float(side);
    };
    float u = pick(half_w, w), v = pick(half_h, h);
    o.pose = frame_object(*o.mesh, rot, s.camera, size_px, u, v);
    if (near && framed)
      fit_in_frame(*o.mesh, o.pose, s.camera, margin * float(w), margin * float(h), (1 - margin) * float(w),
                   (1 - margin) * float(h));
    s.objects.push_back(std::move(o));
  }
  if (rows) {
    const int cls = object_classes.front();
    SceneOptions no_dents = opt;
    no_dents.crush_probability = 0;
    place_rows(s, cls, make_object_mesh(classes[size_t(cls)], no_dents, rng), w, h, rng);
  }
  if (opt.max_distractors > 0) {
    const int n = rng.randint(0, opt.max_distractors);
    for (int k = 0; k < n; ++k) {
      SceneObject d;
      d.cls = -1;
      d.mesh = std::make_shared<const Mesh>(make_prop(rng));
      float size = float(rng.uniform(0.08, 0.45)) * float(std::min(w, h));
      d.pose = place_prop(*d.mesh, s.camera, size, float(rng.uniform(0, w)), float(rng.uniform(0, h)), rng);
      s.distractors.push_back(std::move(d));
    }
  }
  return s;
}

}  // namespace yolite::synth
