// synth/deform.hpp -- crushed and dented plastic bottles.
//
// Bottles found on the ground are rarely the round solids the lathe makes: PET walls are thin
// and get dented, squashed flat or twisted. crush() bends a bottle mesh (1 unit tall, axis y,
// centred on the origin: what bottles.hpp makes) by a smooth displacement field:
//   - dents: Gaussian pits pushed towards the axis at random places on the wall;
//   - a squash: the body flattened along one horizontal direction over part of its height;
//   - a bend: the axis curved a little, as a stepped-on bottle's is.
// The field is a function of position only, so vertices that the lathe duplicates along
// creases move together and the surface stays closed. Normals are recomputed afterwards.
//
//   synth::Mesh m = synth::make_bottle(synth::BottleKind::water, rng);
//   synth::crush(m, rng, 0.7f);   // strength 0..1
#pragma once
#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "../core/rng.hpp"
#include "mesh.hpp"

namespace yolite::synth {

inline void crush(Mesh& m, Rng& rng, float strength) {
  strength = std::clamp(strength, 0.0f, 1.0f);
  if (m.pos.empty() || strength <= 0) return;
  struct Dent {
    float angle, y, sigma_a, sigma_y, depth;
  };
  std::vector<Dent> dents(size_t(rng.randint(1, 6)));
  for (auto& d : dents)
    d = {float(rng.uniform(0, 2 * std::numbers::pi)), float(rng.uniform(-0.4, 0.3)), float(rng.uniform(0.25, 0.9)),
         float(rng.uniform(0.04, 0.15)), float(rng.uniform(0.15, 0.55)) * strength};
  // the squash: flatten along direction phi between heights y0 and y1 (smooth edges)
  const bool squash = rng.bernoulli(0.6);
  const float phi = float(rng.uniform(0, std::numbers::pi)), cphi = std::cos(phi), sphi = std::sin(phi);
  const float sq_amount = float(rng.uniform(0.2, 0.65)) * strength;
  const float y0 = float(rng.uniform(-0.5, 0.0)), y1 = y0 + float(rng.uniform(0.3, 0.8));
  const float bend = float(rng.uniform(-0.15, 0.15)) * strength;
  auto smooth = [](float e0, float e1, float x) {
    float t = std::clamp((x - e0) / (e1 - e0), 0.0f, 1.0f);
    return t * t * (3 - 2 * t);
  };
  for (auto& p : m.pos) {
    float r = std::hypot(p.x, p.z);
    if (r < 1e-6f) continue;
    float a = std::atan2(p.x, p.z);
    float k = 1.0f;
    for (const Dent& d : dents) {
      float da = std::remainder(a - d.angle, 2.0f * float(std::numbers::pi));
      float dy = p.y - d.y;
      k -= d.depth * std::exp(-0.5f * (da * da / (d.sigma_a * d.sigma_a) + dy * dy / (d.sigma_y * d.sigma_y)));
    }
    k = std::max(k, 0.25f);
    float x = p.x * k, z = p.z * k;
    if (squash) {
      float s = 1.0f - sq_amount * smooth(y0 - 0.1f, y0 + 0.05f, p.y) * (1.0f - smooth(y1 - 0.05f, y1 + 0.1f, p.y));
      float along = x * cphi + z * sphi, across = -x * sphi + z * cphi;  // flatten "along"
      along *= s, across *= 1.0f + 0.35f * (1.0f - s);                  // the wall spreads sideways
      x = along * cphi - across * sphi, z = along * sphi + across * cphi;
    }
    p.x = x + bend * (p.y * p.y - 0.25f), p.z = z;
  }
  compute_normals(m);
}

// Square and oblong bottles (oil jugs, square PET, detergent): the round body of a lathe bottle
// (axis y) becomes a rounded rectangle -- a superellipse |x/a|^n + |z/b|^n = 1 of the same
// girth -- while the neck and cap (the vertices well inside the body's radius) stay round.
// n (2 = round .. 8 = nearly square) and the aspect b/a are drawn from `rng`.
inline void square_section(Mesh& m, Rng& rng) {
  if (m.pos.empty()) return;
  const float n = float(rng.uniform(3.0, 8.0)), aspect = float(rng.uniform(0.55, 1.0));
  const float turn = float(rng.uniform(0, std::numbers::pi));  // which way the long side faces
  const float ct = std::cos(turn), st = std::sin(turn);
  float rmax = 0;
  for (auto& p : m.pos) rmax = std::max(rmax, std::hypot(p.x, p.z));
  if (rmax <= 0) return;
  for (auto& p : m.pos) {
    const float r = std::hypot(p.x, p.z);
    if (r < 1e-6f) continue;
    const float w = std::clamp((r / rmax - 0.55f) / 0.3f, 0.0f, 1.0f);  // 0 at the neck, 1 on the body
    if (w <= 0) continue;
    const float u = (p.x * ct + p.z * st) / r, v = (-p.x * st + p.z * ct) / r;  // direction, turned
    // the superellipse's radius in this direction, for semi-axes 1 and `aspect`
    const float q = std::pow(std::pow(std::fabs(u), n) + std::pow(std::fabs(v) / aspect, n), -1.0f / n);
    const float k = 1.0f + w * (q * 2.0f / (1.0f + aspect) - 1.0f);  // mean semi-axis = the old radius
    p.x *= k, p.z *= k;
  }
  compute_normals(m);
}

}  // namespace yolite::synth
