// synth/grounds.hpp -- natural ground textures: soil, gravel, grass, sand, paving, cloth,
// paper and asphalt, with litter and uneven light.
//
// Bottles in real photos lie on the ground or stand on tables; the detector must learn that
// busy natural texture (stones, soil crumbs, grass blades, paving joints) is background. A
// flat gradient teaches it nothing about that, and texture it has never seen fires as objects.
// Each kind is a few cheap per-pixel recipes -- value noise (background.hpp), cellular noise
// for stones and pavers, strokes for grass blades and fibres -- all drawn from the Rng, so the
// same seed gives the same ground. Every ground then gets a low-frequency light field (sun
// patches, a vignette) and, often, litter (leaves, wrappers, twigs).
//
//   synth::paint_ground(rgb, w, h, rng, synth::GroundKind::gravel);
//   synth::paint_ground(rgb, w, h, rng);                          // a random kind
#pragma once
#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "../core/rng.hpp"
#include "background.hpp"
#include "bottles.hpp"
#include "mesh.hpp"

namespace yolite::synth {

enum class GroundKind { soil = 0, gravel, grass, sand, paving, cloth, paper, asphalt, count };

inline constexpr const char* kGroundNames[] = {"soil", "gravel", "grass", "sand", "paving", "cloth", "paper", "asphalt"};

namespace detail {

// Cellular (Worley) noise on a jittered grid: for a point, the nearest and second-nearest cell
// centres. f2 - f1 is small on the border between two cells (the joint between two stones).
struct Cells {
  int gx = 1, gy = 1;
  float jitter = 1;
  std::vector<float> cx, cy, tone;  // centre in cell units, a random value per cell
  Cells(int cells_x, int cells_y, float jit, Rng& rng) : gx(std::max(1, cells_x)), gy(std::max(1, cells_y)), jitter(jit) {
    size_t n = size_t(gx) * size_t(gy);
    cx.resize(n), cy.resize(n), tone.resize(n);
    for (size_t i = 0; i < n; ++i)
      cx[i] = 0.5f + jitter * (rng.uniformf() - 0.5f), cy[i] = 0.5f + jitter * (rng.uniformf() - 0.5f),
      tone[i] = rng.uniformf();
  }
  // u, v in [0, 1); returns f1, f2 (in cell units), the nearest cell's index and the offset
  // from the point to that cell's centre
  void at(float u, float v, float& f1, float& f2, size_t& cell, float& ox, float& oy) const {
    float px = u * float(gx), py = v * float(gy);
    int ix = int(std::floor(px)), iy = int(std::floor(py));
    f1 = f2 = 1e9f;
    cell = 0, ox = oy = 0;
    for (int dy = -1; dy <= 1; ++dy)
      for (int dx = -1; dx <= 1; ++dx) {
        int x = ix + dx, y = iy + dy;
        int wx = ((x % gx) + gx) % gx, wy = ((y % gy) + gy) % gy;  // wraps: no edge effects
        size_t k = size_t(wy) * size_t(gx) + size_t(wx);
        float ex = float(x) + cx[k] - px, ey = float(y) + cy[k] - py;
        float d = std::sqrt(ex * ex + ey * ey);
        if (d < f1) f2 = f1, f1 = d, cell = k, ox = ex, oy = ey;
        else if (d < f2) f2 = d;
      }
  }
};

// Cheap per-pixel hash in [0, 1): grain that costs no random draws.
inline float hash01(uint32_t x, uint32_t y, uint32_t seed) {
  uint32_t h = x * 0x8da6b343u ^ y * 0xd8163841u ^ seed * 0xcb1ab31fu;
  h ^= h >> 13, h *= 0x5bd1e995u, h ^= h >> 15;
  return float(h >> 8) * 0x1.0p-24f;
}

inline Vec3 clamp01(Vec3 c) {
  return {std::clamp(c.x, 0.0f, 1.0f), std::clamp(c.y, 0.0f, 1.0f), std::clamp(c.z, 0.0f, 1.0f)};
}

// A thin straight stroke from (x0, y0) to (x1, y1) of the given width, blended with alpha.
inline void stroke(std::vector<float>& rgb, int w, int h, float x0, float y0, float x1, float y1, float width,
                   Vec3 c0, Vec3 c1, float alpha) {
  float len = std::hypot(x1 - x0, y1 - y0);
  int steps = std::max(1, int(len * 1.5f));
  int r = std::max(0, int(width * 0.5f));
  for (int s = 0; s <= steps; ++s) {
    float t = float(s) / float(steps);
    int cx = int(x0 + (x1 - x0) * t), cy = int(y0 + (y1 - y0) * t);
    Vec3 c = lerp(c0, c1, t);
    for (int dy = -r; dy <= r; ++dy)
      for (int dx = -r; dx <= r; ++dx) {
        int x = cx + dx, y = cy + dy;
        if (x < 0 || y < 0 || x >= w || y >= h) continue;
        float* p = &rgb[(size_t(y) * size_t(w) + size_t(x)) * 3];
        for (int ch = 0; ch < 3; ++ch) p[ch] += (c[ch] - p[ch]) * alpha;
      }
  }
}

// Leaves, twigs and scraps of wrapper on the ground.
inline void litter(std::vector<float>& rgb, int w, int h, Rng& rng, int count) {
  const float side = float(std::min(w, h));
  for (int k = 0; k < count; ++k) {
    int kind = rng.randint(0, 2);
    float cx = float(rng.uniform(0, w)), cy = float(rng.uniform(0, h));
    float ang = float(rng.uniform(0, 2 * std::numbers::pi)), ca = std::cos(ang), sa = std::sin(ang);
    if (kind == 0) {  // twig: a dark brown stroke
      float len = float(rng.uniform(0.04, 0.2)) * side;
      Vec3 c = hsv(float(rng.uniform(0.05, 0.1)), float(rng.uniform(0.3, 0.6)), float(rng.uniform(0.15, 0.45)));
      stroke(rgb, w, h, cx, cy, cx + ca * len, cy + sa * len, float(rng.uniform(1, 3)), c, c * 0.8f, 0.9f);
      continue;
    }
    // leaf (an ellipse, green to brown) or wrapper scrap (a saturated quadrilateral)
    float a = float(rng.uniform(0.01, kind == 1 ? 0.05 : 0.08)) * side, b = a * float(rng.uniform(0.3, 0.8));
    Vec3 c = kind == 1 ? hsv(float(rng.uniform(0.05, 0.3)), float(rng.uniform(0.4, 0.8)), float(rng.uniform(0.25, 0.7)))
                       : random_color(rng, 0.0f, 1.0f, 0.3f, 1.0f);
    float shine = kind == 2 ? float(rng.uniform(0.0, 0.5)) : 0.0f;
    int x0 = std::max(0, int(cx - a - 1)), x1 = std::min(w - 1, int(cx + a + 1));
    int y0 = std::max(0, int(cy - a - 1)), y1 = std::min(h - 1, int(cy + a + 1));
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) {
        float dx = float(x) + 0.5f - cx, dy = float(y) + 0.5f - cy;
        float u = (dx * ca + dy * sa) / a, v = (-dx * sa + dy * ca) / b;
        bool in = kind == 1 ? u * u + v * v < 1.0f : std::fabs(u) + 0.3f * std::fabs(v) < 1.0f && std::fabs(v) < 1.0f;
        if (!in) continue;
        float* p = &rgb[(size_t(y) * size_t(w) + size_t(x)) * 3];
        Vec3 col = c * (0.85f + 0.3f * (0.5f + 0.5f * u)) + Vec3{shine, shine, shine} * std::max(0.0f, u);
        for (int ch = 0; ch < 3; ++ch) p[ch] = col[ch];
      }
  }
}

}  // namespace detail

// Paints a ground of the given kind into rgb (w*h*3, colours in [0, 1]).
inline void paint_ground(std::vector<float>& rgb, int w, int h, Rng& rng, GroundKind kind) {
  using namespace detail;
  rgb.resize(size_t(w) * size_t(h) * 3);
  const float aspect = float(h) / float(w);
  const uint32_t seed = rng.next_u32();
  // the ground's scale: how many "units" (stones, weave repeats) across the image
  const float zoom = float(rng.uniform(0.6, 1.8));
  auto each = [&](auto&& f) {
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        float u = (float(x) + 0.5f) / float(w), v = (float(y) + 0.5f) / float(h);
        put(rgb, size_t(y) * size_t(w) + size_t(x), clamp01(f(x, y, u, v)));
      }
  };
  switch (kind) {
    case GroundKind::soil: {
      Vec3 base = hsv(float(rng.uniform(0.04, 0.11)), float(rng.uniform(0.25, 0.6)), float(rng.uniform(0.25, 0.62)));
      Vec3 dry = base * float(rng.uniform(1.15, 1.5)) + Vec3{0.05f, 0.05f, 0.04f};
      Fractal big(rng.randint(2, 5), 4, aspect, rng), crumbs(int(30 * zoom), 2, aspect, rng);
      float grain = float(rng.uniform(0.08, 0.22));
      const auto big_f = big.field(w, h), crumbs_f = crumbs.field(w, h);
      each([&](int x, int y, float, float) {
        const size_t p = size_t(y) * size_t(w) + size_t(x);
        float t = big_f[p], c = crumbs_f[p];
        Vec3 col = lerp(base, dry, std::clamp((t - 0.35f) * 2.0f, 0.0f, 1.0f));
        float g = 1.0f + grain * (hash01(uint32_t(x), uint32_t(y), seed) - 0.5f) * 2.0f + 0.5f * (c - 0.5f);
        return col * g;
      });
      break;
    }
    case GroundKind::gravel:
    case GroundKind::paving: {
      const bool paving = kind == GroundKind::paving;
      int n = paving ? int(float(rng.randint(3, 9)) * zoom) : int(float(rng.randint(14, 45)) * zoom);
      Cells cells(n, std::max(1, int(float(n) * aspect)), paving ? float(rng.uniform(0.0, 0.6)) : 0.9f, rng);
      Vec3 stone = hsv(float(rng.uniform(0.05, 0.14)), float(rng.uniform(0.02, paving ? 0.3 : 0.35)),
                       float(rng.uniform(0.35, 0.8)));
      Vec3 joint = paving ? stone * float(rng.uniform(0.3, 0.7)) : stone * float(rng.uniform(0.15, 0.4));
      float var = float(rng.uniform(0.15, 0.45)), hue_var = float(rng.uniform(0.0, 0.08));
      float joint_w = paving ? float(rng.uniform(0.03, 0.1)) : float(rng.uniform(0.08, 0.3));
      Vec3 ldir = normalize(Vec3{float(rng.uniform(-1, 1)), float(rng.uniform(-1, 1)), 1.0f});
      Fractal stain(3, 3, aspect, rng);
      const auto stain_f = stain.field(w, h);
      each([&](int x, int y, float u, float v) {
        float f1, f2, ox, oy;
        size_t k;
        cells.at(u, v, f1, f2, k, ox, oy);
        float tone = cells.tone[k];
        Vec3 c = hsv(0.08f + hue_var * (tone - 0.5f) * 4.0f, 0.2f, 1.0f);
        Vec3 col = stone * (1.0f - var + 2.0f * var * tone) * lerp(Vec3{1, 1, 1}, c, 0.3f);
        float edge = std::clamp((f2 - f1) / joint_w, 0.0f, 1.0f);
        if (!paving)  // rounded stones: the side facing the light brighter (ox, oy point to the centre)
          col = col * (0.9f + 0.5f * std::clamp(-(ox * ldir.x + oy * ldir.y), -0.5f, 0.5f));
        col = lerp(joint, col, std::sqrt(edge));
        float g = 1.0f + 0.12f * (hash01(uint32_t(x), uint32_t(y), seed) - 0.5f);
        return col * g * (0.85f + 0.3f * stain_f[size_t(y) * size_t(w) + size_t(x)]);
      });
      break;
    }
    case GroundKind::grass: {
      Vec3 soil = hsv(float(rng.uniform(0.06, 0.12)), 0.5f, float(rng.uniform(0.15, 0.35)));
      Vec3 green = hsv(float(rng.uniform(0.18, 0.33)), float(rng.uniform(0.4, 0.8)), float(rng.uniform(0.3, 0.65)));
      Fractal patch(rng.randint(2, 5), 3, aspect, rng);
      const auto patch_f = patch.field(w, h);
      each([&](int x, int y, float, float) {
        float t = patch_f[size_t(y) * size_t(w) + size_t(x)];
        return lerp(soil, green * 0.7f, std::clamp(t * 1.6f, 0.0f, 1.0f)) *
               (0.85f + 0.3f * hash01(uint32_t(x), uint32_t(y), seed));
      });
      const float side = float(std::min(w, h));
      int blades = int(float(w) * float(h) / float(rng.uniform(25, 70)));
      float dir = float(rng.uniform(-0.6, 0.6)), spread = float(rng.uniform(0.3, 1.2));
      float dry = float(rng.uniform(0.0, 0.5));
      for (int b = 0; b < blades; ++b) {
        float x0 = float(rng.uniform(0, w)), y0 = float(rng.uniform(0, h));
        float len = float(rng.uniform(0.015, 0.06)) * side / zoom;
        float a = -1.5708f + dir + float(rng.uniform(-spread, spread));
        Vec3 c = hsv(float(rng.uniform(0.16, 0.33)) - (rng.bernoulli(dry) ? 0.1f : 0.0f), float(rng.uniform(0.35, 0.85)),
                     float(rng.uniform(0.25, 0.85)));
        stroke(rgb, w, h, x0, y0, x0 + std::cos(a) * len, y0 + std::sin(a) * len, 1.0f, c * 0.6f, c, 0.85f);
      }
      break;
    }
    case GroundKind::sand: {
      Vec3 base = hsv(float(rng.uniform(0.08, 0.13)), float(rng.uniform(0.15, 0.45)), float(rng.uniform(0.55, 0.9)));
      Fractal warp(3, 3, aspect, rng), low(rng.randint(2, 5), 3, aspect, rng);
      float freq = float(rng.uniform(6, 25)) * zoom, ang = float(rng.uniform(0, std::numbers::pi));
      float ca = std::cos(ang), sa = std::sin(ang), ripple = float(rng.uniform(0.0, 0.15));
      const auto warp_f = warp.field(w, h), low_f = low.field(w, h);
      each([&](int x, int y, float u, float v) {
        const size_t p = size_t(y) * size_t(w) + size_t(x);
        float r = std::sin(((u * ca + v * sa) * freq + 2.0f * warp_f[p]) * 2 * float(std::numbers::pi));
        float g = 1.0f + ripple * r + 0.25f * (hash01(uint32_t(x), uint32_t(y), seed) - 0.5f);
        return base * g * (0.85f + 0.3f * low_f[p]);
      });
      break;
    }
    case GroundKind::cloth: {
      Vec3 c0 = random_color(rng, 0.1f, 0.8f, 0.2f, 0.9f), c1 = random_color(rng, 0.1f, 0.8f, 0.2f, 0.9f);
      int pattern = rng.randint(0, 2);  // plain, stripes, plaid
      float weave = float(rng.uniform(1.2, 3.0)), stripe = float(rng.uniform(4, 20)) * zoom;
      Fractal folds(rng.randint(2, 4), 2, aspect, rng);
      float ang = float(rng.uniform(0, std::numbers::pi)), ca = std::cos(ang), sa = std::sin(ang);
      const auto folds_f = folds.field(w, h);
      each([&](int x, int y, float u, float v) {
        float a = u * ca + v * sa, b = -u * sa + v * ca;
        bool s1 = std::fmod(std::fabs(a) * stripe, 1.0f) < 0.5f, s2 = std::fmod(std::fabs(b) * stripe, 1.0f) < 0.5f;
        Vec3 col = pattern == 0 ? c0 : pattern == 1 ? (s1 ? c0 : c1) : lerp(c0, c1, 0.5f * float(s1) + 0.5f * float(s2));
        float thread = 0.92f + 0.08f * std::sin(float(x) * weave) * std::sin(float(y) * weave);
        float fold = folds_f[size_t(y) * size_t(w) + size_t(x)];
        return col * thread * (0.55f + 0.8f * fold);
      });
      break;
    }
    case GroundKind::paper: {  // paper or cardboard: fibres and creases
      Vec3 base = rng.bernoulli(0.5) ? hsv(float(rng.uniform(0.08, 0.12)), float(rng.uniform(0.3, 0.55)), float(rng.uniform(0.5, 0.8)))
                                     : hsv(float(rng.uniform(0.0, 1.0)), float(rng.uniform(0.0, 0.1)), float(rng.uniform(0.75, 0.97)));
      Fractal low(rng.randint(2, 4), 3, aspect, rng);
      const auto low_f = low.field(w, h);
      each([&](int x, int y, float, float) {
        return base * (0.9f + 0.15f * low_f[size_t(y) * size_t(w) + size_t(x)] +
                       0.06f * (hash01(uint32_t(x), uint32_t(y), seed) - 0.5f));
      });
      int creases = rng.randint(0, 5);
      for (int k = 0; k < creases; ++k) {
        float x0 = float(rng.uniform(0, w)), y0 = float(rng.uniform(0, h)), a = float(rng.uniform(0, std::numbers::pi));
        float len = float(std::max(w, h));
        stroke(rgb, w, h, x0 - std::cos(a) * len, y0 - std::sin(a) * len, x0 + std::cos(a) * len, y0 + std::sin(a) * len,
               1.0f, base * 0.7f, base * 0.8f, 0.5f);
      }
      break;
    }
    case GroundKind::asphalt: {
      Vec3 base = hsv(float(rng.uniform(0.0, 1.0)), float(rng.uniform(0.0, 0.08)), float(rng.uniform(0.18, 0.55)));
      Fractal low(rng.randint(2, 6), 4, aspect, rng);
      float speck = float(rng.uniform(0.2, 0.5));
      const auto low_f = low.field(w, h);
      each([&](int x, int y, float, float) {
        float hsh = hash01(uint32_t(x), uint32_t(y), seed);
        float g = hsh > 0.93f ? 1.0f + speck : hsh < 0.07f ? 1.0f - speck : 1.0f + 0.1f * (hsh - 0.5f);
        return base * g * (0.8f + 0.4f * low_f[size_t(y) * size_t(w) + size_t(x)]);
      });
      break;
    }
    default: fail("synth::paint_ground: unknown kind ", int(kind));
  }
  if (rng.bernoulli(0.5)) litter(rgb, w, h, rng, rng.randint(1, 25));
  // uneven light: a broad brightness field and sometimes a vignette
  Fractal light(2, 2, aspect, rng);
  float amount = float(rng.uniform(0.0, 0.5)), vignette = rng.bernoulli(0.4) ? float(rng.uniform(0.1, 0.5)) : 0.0f;
  const auto light_f = light.field(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      float u = (float(x) + 0.5f) / float(w), v = (float(y) + 0.5f) / float(h);
      float du = u - 0.5f, dv = v - 0.5f;
      float g = (1.0f - amount * 0.5f + amount * light_f[size_t(y) * size_t(w) + size_t(x)]) *
                (1.0f - vignette * (du * du + dv * dv) * 2.0f);
      float* p = &rgb[(size_t(y) * size_t(w) + size_t(x)) * 3];
      for (int c = 0; c < 3; ++c) p[c] = std::clamp(p[c] * g, 0.0f, 1.0f);
    }
}

inline void paint_ground(std::vector<float>& rgb, int w, int h, Rng& rng) {
  paint_ground(rgb, w, h, rng, GroundKind(rng.below(uint32_t(GroundKind::count))));
}

}  // namespace yolite::synth
