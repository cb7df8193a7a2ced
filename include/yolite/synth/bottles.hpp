// synth/bottles.hpp -- the five built-in bottle classes, each a lathe mesh with per-instance
// variation and its own materials.
//
//   COCO id  class            shape                                         material
//   1        Beer Bottle      long neck, S-curved shoulder, crown cap        brown glass, paper labels
//   2        Plastic Bottle   wide body with a grip waist, rounded shoulder  opaque coloured HDPE, big cap
//   3        Soda Bottle      long tapered shoulder, petaloid (5-foot) base  clear or green PET, wrap label
//   4        Water Bottle     horizontal ridges, domed shoulder, short neck  clear blue-tinted PET
//   5        Wine Bottle      tall body, short shoulder, long neck, punt     dark green glass, foil capsule
//
// Every instance draws its proportions (girth, body height, neck length, shoulder curve) and
// colours (labels, caps, foils, glass tint) from the Rng it is given, so no two renders are
// the same bottle. The mesh is 1 unit tall, its bounding box centred on the origin, its axis y.
//
//   Rng rng(7);
//   synth::Mesh m = synth::make_bottle(synth::BottleKind::wine, rng);
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cctype>
#include <numbers>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/rng.hpp"
#include "lathe.hpp"
#include "mesh.hpp"

namespace yolite::synth {

enum class BottleKind { beer = 0, plastic = 1, soda = 2, water = 3, wine = 4 };

inline constexpr std::array<const char*, 5> kBottleNames = {"Beer Bottle", "Plastic Bottle", "Soda Bottle",
                                                            "Water Bottle", "Wine Bottle"};
// Default square image side per built-in class (the tutorial's set mixes 512 and 300).
inline constexpr std::array<int, 5> kBottleImageSize = {512, 300, 300, 300, 512};

// "wine", "Wine", "Wine Bottle" -> BottleKind::wine; nullopt for anything else.
inline std::optional<BottleKind> bottle_kind_from_name(std::string_view name) {
  std::string s;
  for (char c : name) s += char(std::tolower(static_cast<unsigned char>(c)));
  if (s.size() > 7 && s.substr(s.size() - 7) == " bottle") s.resize(s.size() - 7);
  static constexpr const char* kShort[5] = {"beer", "plastic", "soda", "water", "wine"};
  for (int k = 0; k < 5; ++k)
    if (s == kShort[k]) return BottleKind(k);
  return std::nullopt;
}

// HSV (h in [0, 1), s, v in [0, 1]) -> RGB.
inline Vec3 hsv(float h, float s, float v) {
  h = (h - std::floor(h)) * 6.0f;
  int i = int(h) % 6;
  float f = h - std::floor(h), p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  switch (i) {
    case 0: return {v, t, p};
    case 1: return {q, v, p};
    case 2: return {p, v, t};
    case 3: return {p, q, v};
    case 4: return {t, p, v};
    default: return {v, p, q};
  }
}

inline Vec3 random_color(Rng& rng, float smin = 0.5f, float smax = 1.0f, float vmin = 0.4f, float vmax = 1.0f) {
  return hsv(rng.uniformf(), float(rng.uniform(smin, smax)), float(rng.uniform(vmin, vmax)));
}

namespace detail {

// Helper that appends profile points; shoulder() sweeps from the body radius to the neck.
struct Profile {
  std::vector<ProfilePoint> pts;
  void add(float r, float y, uint16_t mat, float ripple = 0) { pts.push_back({r, y, mat, ripple}); }
  // From (r0, y0) to (r1, y1): roundness 1 = quarter-ellipse (round shoulder), 0 = S-curve.
  void shoulder(float r0, float y0, float r1, float y1, float roundness, uint16_t mat, int steps = 10) {
    for (int i = 1; i <= steps; ++i) {
      float t = float(i) / float(steps);
      float s_curve = 0.5f * (1.0f + std::cos(float(std::numbers::pi) * t));
      float round = std::sqrt(std::max(0.0f, 1.0f - t * t));
      float s = round * roundness + s_curve * (1 - roundness);
      float ty = roundness > 0.5f ? 1.0f - std::pow(1.0f - t, 1.0f + roundness) : t;  // round: climbs late
      add(r1 + (r0 - r1) * s, y0 + (y1 - y0) * ty, mat);
    }
  }
  // A base with a rounded rim and an optional punt (a dome pushed up into the bottle).
  void base(float r, float rim, float punt, uint16_t mat, float ripple = 0) {
    add(0, punt, mat, ripple);
    add(r * 0.55f, punt * 0.6f, mat, ripple);
    add(r - rim, 0, mat, ripple);
    add(r - rim * 0.3f, rim * 0.3f, mat, ripple);
    add(r, rim, mat, ripple);
  }
};

inline Material glass(std::string name, Vec3 c, float opacity, float spec = 0.9f, float shin = 90.0f) {
  return Material{std::move(name), c, opacity, spec, shin, nullptr, 0.0f, 1.0f};
}
inline Material paint(std::string name, Vec3 c, float spec = 0.25f, float shin = 20.0f) {
  return Material{std::move(name), c, 1.0f, spec, shin, nullptr, 0.0f, 1.0f};
}

// A cap or crown as its own small lathe (so its flutes do not depend on the body's).
inline Mesh cap_mesh(float r, float y0, float h, Material mat, int flutes, float ripple, bool crown) {
  Profile p;
  p.add(r * 0.92f, y0, 0, ripple);
  p.add(r, y0 + h * 0.08f, 0, ripple);
  p.add(r, y0 + h * (crown ? 0.7f : 0.9f), 0, ripple);
  p.add(r * (crown ? 0.9f : 0.97f), y0 + h, 0, crown ? ripple * 0.5f : 0);
  p.add(0, y0 + h, 0);
  return lathe(p.pts, {std::move(mat)}, 40, flutes, 50.0f);
}

// Centres the bounding box on the origin and scales to unit height.
inline void finish(Mesh& m) {
  Bounds b = bounds(m);
  float h = b.size().y;
  Vec3 c = b.center();
  for (auto& p : m.pos) p = (p - c) * (1.0f / h);
}

}  // namespace detail

inline Mesh make_beer(Rng& rng) {
  using detail::Profile;
  float R = float(rng.uniform(0.12, 0.15)), body = float(rng.uniform(0.48, 0.58));
  float neck_r = R * float(rng.uniform(0.38, 0.45)), sh_top = body + float(rng.uniform(0.14, 0.22));
  Vec3 amber = hsv(float(rng.uniform(0.05, 0.09)), float(rng.uniform(0.75, 0.95)), float(rng.uniform(0.22, 0.4)));
  Vec3 label = rng.bernoulli(0.5) ? random_color(rng, 0.5f, 0.95f, 0.5f, 0.95f) : hsv(0.12f, 0.15f, 0.92f);
  std::vector<Material> mats = {detail::glass("beer glass", amber, float(rng.uniform(0.78, 0.9))),
                                detail::paint("label", label), detail::paint("neck label", random_color(rng))};
  Profile p;
  p.base(R, 0.025f, 0.02f, 0);
  float la = float(rng.uniform(0.1, 0.18)), lb = la + float(rng.uniform(0.2, 0.32));
  p.add(R, la, 0);
  if (rng.bernoulli(0.85)) p.add(R, std::min(lb, body), 1);
  p.add(R, body, 0);
  p.shoulder(R, body, neck_r, sh_top, float(rng.uniform(0.0, 0.3)), 0);
  bool neck_label = rng.bernoulli(0.6);
  float top = 0.955f;
  if (neck_label) p.add(neck_r, sh_top + 0.03f, 2), p.add(neck_r * 0.97f, sh_top + 0.13f, 0);
  p.add(neck_r * 0.95f, top - 0.03f, 0);
  p.add(neck_r * 1.12f, top - 0.02f, 0);  // the finish (lip ring)
  p.add(neck_r * 1.12f, top, 0);
  p.add(0, top, 0);
  Mesh m = lathe(p.pts, mats, 48);
  Vec3 cap = rng.bernoulli(0.5) ? hsv(0.12f, 0.2f, 0.8f) : random_color(rng, 0.6f, 1.0f, 0.5f, 0.9f);
  append(m, detail::cap_mesh(neck_r * 1.2f, top - 0.01f, 0.035f, detail::paint("crown", cap, 0.8f, 60), 21,
                             0.06f, true));
  detail::finish(m);
  return m;
}

inline Mesh make_plastic(Rng& rng) {
  using detail::Profile;
  float R = float(rng.uniform(0.17, 0.23)), body = float(rng.uniform(0.62, 0.72));
  float neck_r = R * float(rng.uniform(0.38, 0.5)), waist = float(rng.uniform(0.0, 0.12));
  Vec3 col = rng.bernoulli(0.3) ? hsv(0.1f, 0.05f, float(rng.uniform(0.85, 0.97)))
                                : random_color(rng, 0.45f, 0.95f, 0.45f, 0.95f);
  std::vector<Material> mats = {detail::paint("HDPE", col, 0.35f, 25),
                                detail::paint("label", random_color(rng, 0.0f, 0.9f, 0.6f, 1.0f))};
  Profile p;
  p.base(R, 0.04f, 0.01f, 0);
  float la = float(rng.uniform(0.15, 0.25)), lb = la + float(rng.uniform(0.2, 0.3));
  for (int i = 1; i <= 8; ++i) {  // body with a grip waist
    float t = float(i) / 8.0f, y = 0.04f + (body - 0.04f) * t;
    float r = R * (1.0f - waist * std::sin(float(std::numbers::pi) * t) * std::sin(float(std::numbers::pi) * t));
    p.add(r, y, (y > la && y < lb) ? 1 : 0);
  }
  p.shoulder(R, body, neck_r, body + float(rng.uniform(0.1, 0.16)), float(rng.uniform(0.6, 1.0)), 0);
  float top = 0.86f;
  p.add(neck_r, top, 0);
  p.add(0, top, 0);
  Mesh m = lathe(p.pts, mats, 48);
  Vec3 cap = rng.bernoulli(0.5) ? hsv(0, 0, float(rng.uniform(0.85, 1.0))) : random_color(rng);
  append(m, detail::cap_mesh(neck_r * 1.15f, top - 0.01f, float(rng.uniform(0.07, 0.13)),
                             detail::paint("cap", cap, 0.3f, 20), 30, 0.015f, false));
  detail::finish(m);
  return m;
}

inline Mesh make_soda(Rng& rng) {
  using detail::Profile;
  float R = float(rng.uniform(0.12, 0.15)), body = float(rng.uniform(0.42, 0.55));
  float neck_r = R * float(rng.uniform(0.36, 0.42)), sh_top = float(rng.uniform(0.8, 0.86));
  bool green = rng.bernoulli(0.35);
  Vec3 pet = green ? Vec3{0.55f, 0.85f, 0.6f} : Vec3{0.9f, 0.93f, 0.95f};
  Vec3 label = random_color(rng, 0.7f, 1.0f, 0.55f, 0.95f);
  std::vector<Material> mats = {detail::glass("PET", pet, float(rng.uniform(0.22, 0.35)), 0.9f, 70),
                                detail::paint("label", label, 0.4f, 40), detail::glass("liquid", label * 0.35f, 0.55f)};
  Profile p;
  p.base(R * 0.95f, 0.06f, 0.03f, 0, 0.09f);  // petaloid feet: flutes on the base only
  p.add(R, 0.1f, 0);
  float la = float(rng.uniform(0.2, 0.3)), lb = la + float(rng.uniform(0.12, 0.2));
  p.add(R * 0.97f, la - 0.02f, 0);
  p.add(R * 0.97f, la, 1);
  p.add(R * 0.97f, lb, 0);
  p.add(R, lb + 0.02f, 0);
  p.add(R, body, 0);
  p.shoulder(R, body, neck_r, sh_top, float(rng.uniform(0.0, 0.25)), 0, 12);
  float top = 0.93f;
  p.add(neck_r, top - 0.04f, 0);
  p.add(neck_r * 1.25f, top - 0.035f, 0);  // support ring
  p.add(neck_r * 1.25f, top - 0.03f, 0);
  p.add(neck_r, top - 0.03f, 0);
  p.add(neck_r, top, 0);
  p.add(0, top, 0);
  Mesh m = lathe(p.pts, mats, 48, 5);
  Vec3 cap = rng.bernoulli(0.5) ? label : random_color(rng);
  append(m, detail::cap_mesh(neck_r * 1.12f, top - 0.02f, 0.07f, detail::paint("cap", cap, 0.3f, 20), 36,
                             0.02f, false));
  detail::finish(m);
  return m;
}

inline Mesh make_water(Rng& rng) {
  using detail::Profile;
  float R = float(rng.uniform(0.14, 0.17)), body = float(rng.uniform(0.62, 0.72));
  float neck_r = R * float(rng.uniform(0.38, 0.44));
  Vec3 pet = hsv(float(rng.uniform(0.53, 0.6)), float(rng.uniform(0.08, 0.25)), 0.95f);
  Vec3 label = rng.bernoulli(0.6) ? hsv(float(rng.uniform(0.52, 0.65)), float(rng.uniform(0.5, 0.9)), 0.85f)
                                  : random_color(rng, 0.0f, 0.6f, 0.8f, 1.0f);
  std::vector<Material> mats = {detail::glass("PET", pet, float(rng.uniform(0.18, 0.28)), 1.0f, 60),
                                detail::paint("label", label, 0.4f, 40)};
  Profile p;
  p.base(R * 0.96f, 0.04f, 0.03f, 0, 0.06f);
  float la = float(rng.uniform(0.3, 0.42)), lb = la + float(rng.uniform(0.12, 0.18));
  int ridges = rng.randint(5, 9);
  float depth = float(rng.uniform(0.05, 0.09));
  for (int i = 0; i <= ridges * 4; ++i) {  // ridged body: a groove every 1/ridges of the body
    float t = float(i) / float(ridges * 4), y = 0.05f + (body - 0.05f) * t;
    bool on_label = y > la && y < lb;
    float groove = (i % 4 == 2 && !on_label) ? 1.0f - depth : 1.0f;
    p.add(R * groove, y, on_label ? 1 : 0);
  }
  float sh_top = body + float(rng.uniform(0.13, 0.18));
  p.shoulder(R, body, neck_r, sh_top, float(rng.uniform(0.55, 0.9)), 0);
  float top = std::min(0.9f, sh_top + 0.05f);
  p.add(neck_r * 1.3f, top - 0.035f, 0);
  p.add(neck_r * 1.3f, top - 0.03f, 0);
  p.add(neck_r, top - 0.03f, 0);
  p.add(neck_r, top, 0);
  p.add(0, top, 0);
  Mesh m = lathe(p.pts, mats, 48, 6);
  Vec3 cap = rng.bernoulli(0.6) ? hsv(float(rng.uniform(0.55, 0.65)), 0.8f, 0.8f) : hsv(0, 0, 0.95f);
  append(m, detail::cap_mesh(neck_r * 1.12f, top - 0.02f, 0.06f, detail::paint("cap", cap, 0.35f, 25), 36,
                             0.02f, false));
  detail::finish(m);
  return m;
}

inline Mesh make_wine(Rng& rng) {
  using detail::Profile;
  float R = float(rng.uniform(0.11, 0.135)), body = float(rng.uniform(0.55, 0.66));
  float neck_r = R * float(rng.uniform(0.33, 0.38));
  bool burgundy = rng.bernoulli(0.4);  // sloping shoulders; else Bordeaux's high round ones
  float sh_top = body + (burgundy ? float(rng.uniform(0.14, 0.2)) : float(rng.uniform(0.06, 0.1)));
  Vec3 glass = rng.bernoulli(0.75) ? hsv(float(rng.uniform(0.28, 0.36)), 0.8f, float(rng.uniform(0.15, 0.3)))
                                   : hsv(0.1f, 0.6f, 0.2f);
  Vec3 label = rng.bernoulli(0.6) ? hsv(0.12f, float(rng.uniform(0.05, 0.25)), float(rng.uniform(0.85, 0.97)))
                                  : random_color(rng, 0.3f, 0.9f, 0.2f, 0.8f);
  Vec3 foil = rng.bernoulli(0.5) ? hsv(float(rng.uniform(0.95, 1.02)), 0.8f, float(rng.uniform(0.25, 0.5)))
                                 : random_color(rng, 0.0f, 0.8f, 0.1f, 0.8f);
  std::vector<Material> mats = {detail::glass("wine glass", glass, float(rng.uniform(0.85, 0.95)), 1.0f, 110),
                                detail::paint("label", label, 0.15f, 10), detail::paint("capsule", foil, 0.9f, 50)};
  Profile p;
  p.base(R, 0.02f, float(rng.uniform(0.04, 0.08)), 0);
  float la = float(rng.uniform(0.12, 0.2)), lb = la + float(rng.uniform(0.22, 0.3));
  p.add(R, la, 1);
  p.add(R, std::min(lb, body - 0.02f), 0);
  p.add(R, body, 0);
  p.shoulder(R, body, neck_r * 1.05f, sh_top, burgundy ? float(rng.uniform(0.0, 0.3)) : float(rng.uniform(0.7, 1.0)), 0);
  float top = 0.985f, foil_start = top - float(rng.uniform(0.1, 0.16));
  p.add(neck_r * 1.02f, foil_start, 2);
  p.add(neck_r * 1.04f, top - 0.02f, 2);
  p.add(neck_r * 1.1f, top - 0.015f, 2);
  p.add(neck_r * 1.1f, top, 2);
  p.add(0, top, 2);
  Mesh m = lathe(p.pts, mats, 48);
  detail::finish(m);
  return m;
}

inline Mesh make_bottle(BottleKind kind, Rng& rng) {
  switch (kind) {
    case BottleKind::beer: return make_beer(rng);
    case BottleKind::plastic: return make_plastic(rng);
    case BottleKind::soda: return make_soda(rng);
    case BottleKind::water: return make_water(rng);
    case BottleKind::wine: return make_wine(rng);
  }
  fail("synth::make_bottle: unknown bottle kind ", int(kind));
}

}  // namespace yolite::synth
