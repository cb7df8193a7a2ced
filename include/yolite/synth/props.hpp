// synth/props.hpp -- things that are not bottles: cans, cups, boxes, balls, cones and rings,
// as unlabelled distractors in front of and beside the bottles, and as backgrounds made of
// densely packed rendered clutter.
//
// A detector trained with only bottles in the picture learns "any object is a bottle"; real
// photos have hands, cans, boxes and rubbish in them. Distractors are drawn with id 0 (the
// background's), so they hide the bottles behind them and the annotations -- read off the id
// mask -- stay exactly the bottles' visible pixels. Clutter backgrounds follow Hinterstoisser
// et al. (2019, "An Annotation Saved is an Annotation Earned"): a dense pile of random
// rendered objects behind the bottles stands in well for real background photos.
//
//   synth::Mesh can = synth::make_prop(synth::PropKind::can, rng);
//   synth::paint_clutter3d(rgb, w, h, rng);           // fill a background with rendered clutter
#pragma once
#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "../core/rng.hpp"
#include "background.hpp"
#include "bottles.hpp"
#include "lathe.hpp"
#include "mesh.hpp"
#include "raster.hpp"

namespace yolite::synth {

enum class PropKind { can = 0, cup, box, ball, cone, ring, count };

namespace detail {

inline Material prop_material(Rng& rng) {
  Material m;
  m.name = "prop";
  m.color = random_color(rng, 0.0f, 1.0f, 0.15f, 0.95f);
  m.specular = float(rng.uniform(0.05, 0.9));
  m.shininess = float(rng.uniform(5, 80));
  return m;
}

// A cuboid of size sx x sy x sz centred on the origin, flat faces, one random material per face
// (or one for all).
inline Mesh box_mesh(float sx, float sy, float sz, Rng& rng) {
  Mesh m;
  bool one = rng.bernoulli(0.5);
  Material shared = prop_material(rng);
  const Vec3 n[6] = {{1, 0, 0}, {-1, 0, 0}, {0, 1, 0}, {0, -1, 0}, {0, 0, 1}, {0, 0, -1}};
  for (int f = 0; f < 6; ++f) {
    m.materials.push_back(one ? shared : prop_material(rng));
    Vec3 a = n[f], u = std::fabs(a.y) > 0.5f ? Vec3{1, 0, 0} : Vec3{0, 1, 0}, v = cross(a, u);
    uint32_t base = uint32_t(m.pos.size());
    const float su[4] = {-1, 1, 1, -1}, sv[4] = {-1, -1, 1, 1};
    for (int c = 0; c < 4; ++c) {
      Vec3 p = a + u * su[c] + v * sv[c];
      m.pos.push_back({p.x * 0.5f * sx, p.y * 0.5f * sy, p.z * 0.5f * sz});
      m.normal.push_back(a);
    }
    // wind counter-clockwise seen from outside: (u x v) points along a
    bool ccw = dot(cross(u, v), a) > 0;
    if (ccw) m.tris.push_back({base, base + 1, base + 2}), m.tris.push_back({base, base + 2, base + 3});
    else m.tris.push_back({base, base + 2, base + 1}), m.tris.push_back({base, base + 3, base + 2});
    m.tri_material.push_back(uint16_t(f)), m.tri_material.push_back(uint16_t(f));
  }
  return m;
}

// Gives each band of a lathe() profile one of the first `materials` materials at random.
inline void banded(std::vector<ProfilePoint>& p, int materials, Rng& rng) {
  for (auto& q : p) q.material = uint16_t(rng.below(uint32_t(materials)));
}

}  // namespace detail

// One random prop of the given kind, about 1 unit across its largest side, centred on the origin.
inline Mesh make_prop(PropKind kind, Rng& rng) {
  using namespace detail;
  std::vector<Material> mats;
  int nm = rng.randint(1, 3);
  for (int i = 0; i < nm; ++i) mats.push_back(prop_material(rng));
  std::vector<ProfilePoint> p;
  Mesh m;
  switch (kind) {
    case PropKind::can: {  // a drink can: rims, a body of 1-3 colour bands, metal top
      float r = float(rng.uniform(0.25, 0.4)), h = 1.0f;
      mats.push_back(detail::paint("metal", hsv(0, 0, float(rng.uniform(0.6, 0.9))), 0.9f, 60.0f));
      uint16_t metal = uint16_t(mats.size() - 1);
      p = {{0, 0, metal}, {r * 0.85f, 0, metal}, {r, 0.06f, 0}, {r, h * 0.5f, uint16_t(rng.below(uint32_t(nm)))},
           {r, h - 0.08f, metal}, {r * 0.85f, h, metal}, {0, h - 0.02f, metal}};
      m = lathe(p, mats, 32);
      break;
    }
    case PropKind::cup: {  // a cup or tumbler: open at the top, wider than its base
      float r0 = float(rng.uniform(0.2, 0.35)), r1 = r0 * float(rng.uniform(1.05, 1.5));
      p = {{0, 0, 0}, {r0, 0, 0}, {r1, 1.0f, 0}, {r1 * 0.95f, 1.0f, 0}, {r0 * 0.95f, 0.05f, 0}, {0, 0.05f, 0}};
      banded(p, nm, rng);
      m = lathe(p, mats, 32);
      break;
    }
    case PropKind::box:
      return box_mesh(float(rng.uniform(0.2, 1.0)), float(rng.uniform(0.2, 1.0)), float(rng.uniform(0.1, 1.0)), rng);
    case PropKind::ball: {
      const int n = 10;
      for (int i = 0; i <= n; ++i) {
        float a = float(std::numbers::pi) * float(i) / float(n);
        p.push_back({0.5f * std::sin(a), -0.5f * std::cos(a), uint16_t(rng.below(uint32_t(nm)))});
      }
      m = lathe(p, mats, 24, 0, 60.0f);
      break;
    }
    case PropKind::cone: {
      float r = float(rng.uniform(0.2, 0.5));
      p = {{0, 0, 0}, {r, 0, 0}, {r * float(rng.uniform(0.0, 0.5)), 1.0f, 0}, {0, 1.0f, 0}};
      banded(p, nm, rng);
      m = lathe(p, mats, 24);
      break;
    }
    case PropKind::ring: {  // a torus: a circle of radius b turned about the axis at distance a
      float a = 0.35f, b = float(rng.uniform(0.05, 0.15));
      const int n = 12;
      for (int i = 0; i <= n; ++i) {
        float t = -float(std::numbers::pi) * 0.5f + 2.0f * float(std::numbers::pi) * float(i) / float(n);
        p.push_back({a + b * std::cos(t), b * std::sin(t), 0});
      }
      m = lathe(p, mats, 24, 0, 60.0f);
      break;
    }
    default: fail("synth::make_prop: unknown kind ", int(kind));
  }
  normalize_mesh(m, 1.0f);
  return m;
}

inline Mesh make_prop(Rng& rng) { return make_prop(PropKind(rng.below(uint32_t(PropKind::count))), rng); }

// Pose for a prop `size_px` pixels across whose centre falls on pixel (u, v), turned at random.
inline Pose place_prop(const Mesh& m, const Camera& cam, float size_px, float u, float v, Rng& rng) {
  Mat3 rot = rot_z(float(rng.uniform(0, 2 * std::numbers::pi))) * rot_x(float(rng.uniform(0, 2 * std::numbers::pi))) *
             rot_y(float(rng.uniform(0, 2 * std::numbers::pi)));
  float r = std::max(radius_about_origin(m), 1e-3f);
  float d = std::max(cam.focal * 2.0f * r / std::max(size_px, 1.0f), r * 1.05f + 0.01f);
  Pose p;
  p.rotation = rot;
  p.translation = cam.unproject(u, v, d);
  return p;
}

// A background of densely packed rendered props (over a procedural backdrop), so every pixel
// is some object's surface: shading, edges and occlusions like a real cluttered scene.
inline void paint_clutter3d(std::vector<float>& rgb, int w, int h, Rng& rng) {
  paint_background(rgb, w, h, rng);
  float fov = float(rng.uniform(35.0, 60.0)) * float(std::numbers::pi) / 180.0f;
  Camera cam{w, h, 0.5f * float(std::max(w, h)) / std::tan(0.5f * fov)};
  Light light;
  light.dir = normalize(Vec3{float(rng.uniform(-1, 1)), float(rng.uniform(-0.2, 1.0)), float(rng.uniform(0.3, 1.2))});
  light.color = hsv(rng.uniformf(), float(rng.uniform(0.0, 0.2)), 1.0f) * float(rng.uniform(0.7, 1.0));
  light.ambient = Vec3{1, 1, 1} * float(rng.uniform(0.2, 0.45));
  const int n = rng.randint(15, 60);
  std::vector<Mesh> meshes;
  meshes.reserve(size_t(n));
  std::vector<DrawItem> items;
  const float side = float(std::min(w, h));
  for (int k = 0; k < n; ++k) {
    meshes.push_back(make_prop(rng));
    float size = float(rng.uniform(0.1, 0.6)) * side;
    Pose pose = place_prop(meshes.back(), cam, size, float(rng.uniform(-0.1, 1.1)) * float(w),
                           float(rng.uniform(-0.1, 1.1)) * float(h), rng);
    items.push_back({nullptr, pose, 0});
  }
  for (size_t k = 0; k < items.size(); ++k) items[k].mesh = &meshes[k];
  FrameBuffer fb(w, h);
  fb.rgb = std::move(rgb);
  render_meshes(fb, cam, light, items);
  rgb = std::move(fb.rgb);
}

}  // namespace yolite::synth
