// synth/background.hpp -- procedural backgrounds: gradients, noise, wood, checker, tiles, clutter,
// and the white studio backdrop of product photos.
//
// A detector trained on bottles over one flat colour learns the colour; these give it walls,
// table tops, floors and busy scenes instead. Each kind draws its own colours, scales and
// angles from the Rng; "clutter" scatters random discs, boxes and triangles over another kind
// (sometimes bottle-coloured, so the detector must learn shapes rather than hues).
//
//   std::vector<float> rgb(w * h * 3);
//   synth::paint_background(rgb, w, h, rng);                          // a random kind
//   synth::paint_background(rgb, w, h, rng, synth::BackgroundKind::wood);
#pragma once
#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "../core/rng.hpp"
#include "bottles.hpp"
#include "mesh.hpp"

namespace yolite::synth {

enum class BackgroundKind { gradient = 0, noise, wood, checker, tiles, clutter, count };

namespace detail {

// Smooth value noise: a lattice of random values, bilinear with a smoothstep fade.
struct ValueNoise {
  int gw = 0, gh = 0;
  std::vector<float> v;
  ValueNoise(int cells_x, int cells_y, Rng& rng) : gw(cells_x + 2), gh(cells_y + 2), v(size_t(gw) * size_t(gh)) {
    for (auto& x : v) x = rng.uniformf();
  }
  // u, t in [0, 1]
  float at(float u, float t) const {
    float fx = u * float(gw - 2), fy = t * float(gh - 2);
    int ix = std::clamp(int(fx), 0, gw - 2), iy = std::clamp(int(fy), 0, gh - 2);
    float ax = fx - float(ix), ay = fy - float(iy);
    ax = ax * ax * (3 - 2 * ax), ay = ay * ay * (3 - 2 * ay);
    const float* r0 = &v[size_t(iy) * size_t(gw) + size_t(ix)];
    const float* r1 = r0 + gw;
    float top = r0[0] + (r0[1] - r0[0]) * ax, bot = r1[0] + (r1[1] - r1[0]) * ax;
    return top + (bot - top) * ay;
  }
};

// Sum of octaves, result roughly in [0, 1].
struct Fractal {
  std::vector<ValueNoise> oct;
  Fractal(int base_cells, int octaves, float aspect, Rng& rng) {
    for (int o = 0; o < octaves; ++o) {
      int c = base_cells << o;
      oct.emplace_back(c, std::max(1, int(float(c) * aspect)), rng);
    }
  }
  float at(float u, float t) const {
    float s = 0, amp = 1, norm = 0;
    for (auto& n : oct) s += amp * n.at(u, t), norm += amp, amp *= 0.5f;
    return s / norm;
  }
  // at((x + 0.5) / w, (y + 0.5) / h) for every pixel of a w x h image, row-major: the same
  // arithmetic as at() (so the same values, bit for bit), with the per-column and per-row
  // parts of the lattice lookup computed once instead of per pixel.
  std::vector<float> field(int w, int h) const {
    std::vector<float> s(size_t(w) * size_t(h), 0.0f);
    std::vector<int> ix(static_cast<size_t>(w));
    std::vector<float> ax(static_cast<size_t>(w));
    float amp = 1, norm = 0;
    for (auto& n : oct) {
      for (int x = 0; x < w; ++x) {
        const float u = (float(x) + 0.5f) / float(w), fx = u * float(n.gw - 2);
        const int i = std::clamp(int(fx), 0, n.gw - 2);
        float a = fx - float(i);
        ix[size_t(x)] = i, ax[size_t(x)] = a * a * (3 - 2 * a);
      }
      for (int y = 0; y < h; ++y) {
        const float t = (float(y) + 0.5f) / float(h), fy = t * float(n.gh - 2);
        const int iy = std::clamp(int(fy), 0, n.gh - 2);
        float ay = fy - float(iy);
        ay = ay * ay * (3 - 2 * ay);
        float* row = &s[size_t(y) * size_t(w)];
        for (int x = 0; x < w; ++x) {
          const float* r0 = &n.v[size_t(iy) * size_t(n.gw) + size_t(ix[size_t(x)])];
          const float* r1 = r0 + n.gw;
          const float a = ax[size_t(x)];
          const float top = r0[0] + (r0[1] - r0[0]) * a, bot = r1[0] + (r1[1] - r1[0]) * a;
          row[x] += amp * (top + (bot - top) * ay);
        }
      }
      norm += amp, amp *= 0.5f;
    }
    for (auto& v : s) v = v / norm;
    return s;
  }
};

inline void put(std::vector<float>& rgb, size_t i, Vec3 c) {
  rgb[3 * i] = c.x, rgb[3 * i + 1] = c.y, rgb[3 * i + 2] = c.z;
}

inline Vec3 muted_color(Rng& rng) { return random_color(rng, 0.05f, 0.7f, 0.15f, 0.95f); }

inline void clutter(std::vector<float>& rgb, int w, int h, Rng& rng, int count) {
  for (int k = 0; k < count; ++k) {
    Vec3 c = random_color(rng, 0.0f, 1.0f, 0.1f, 1.0f);
    float alpha = float(rng.uniform(0.5, 1.0));
    int shape = rng.randint(0, 2);
    float cx = float(rng.uniform(0, w)), cy = float(rng.uniform(0, h));
    float s = float(rng.uniform(0.03, 0.3)) * float(std::min(w, h));
    float ang = float(rng.uniform(0, std::numbers::pi)), ca = std::cos(ang), sa = std::sin(ang);
    float ax = float(rng.uniform(0.3, 1.0));  // aspect of boxes
    // triangle corners
    float tx[3], ty[3];
    for (int j = 0; j < 3; ++j) {
      float a = ang + float(j) * 2.1f + float(rng.uniform(-0.4, 0.4));
      tx[j] = cx + s * std::cos(a), ty[j] = cy + s * std::sin(a);
    }
    int x0 = std::max(0, int(cx - s - 1)), x1 = std::min(w - 1, int(cx + s + 1));
    int y0 = std::max(0, int(cy - s - 1)), y1 = std::min(h - 1, int(cy + s + 1));
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) {
        float dx = float(x) + 0.5f - cx, dy = float(y) + 0.5f - cy;
        bool in = false;
        if (shape == 0) {
          in = dx * dx + dy * dy < s * s;
        } else if (shape == 1) {
          float u = dx * ca + dy * sa, v = -dx * sa + dy * ca;
          in = std::fabs(u) < s * 0.7f && std::fabs(v) < s * 0.7f * ax;
        } else {
          float px = float(x) + 0.5f, py = float(y) + 0.5f;
          float d0 = (tx[1] - tx[0]) * (py - ty[0]) - (ty[1] - ty[0]) * (px - tx[0]);
          float d1 = (tx[2] - tx[1]) * (py - ty[1]) - (ty[2] - ty[1]) * (px - tx[1]);
          float d2 = (tx[0] - tx[2]) * (py - ty[2]) - (ty[0] - ty[2]) * (px - tx[2]);
          in = (d0 >= 0 && d1 >= 0 && d2 >= 0) || (d0 <= 0 && d1 <= 0 && d2 <= 0);
        }
        if (!in) continue;
        size_t i = size_t(y) * size_t(w) + size_t(x);
        for (int ch = 0; ch < 3; ++ch) rgb[3 * i + size_t(ch)] += (c[ch] - rgb[3 * i + size_t(ch)]) * alpha;
      }
  }
}

}  // namespace detail

inline void paint_background(std::vector<float>& rgb, int w, int h, Rng& rng, BackgroundKind kind) {
  using namespace detail;
  rgb.resize(size_t(w) * size_t(h) * 3);
  const float aspect = float(h) / float(w);
  Vec3 c0 = muted_color(rng), c1 = muted_color(rng);
  switch (kind) {
    case BackgroundKind::gradient:
    case BackgroundKind::clutter: {
      float ang = float(rng.uniform(0, 2 * std::numbers::pi)), ca = std::cos(ang), sa = std::sin(ang);
      bool radial = rng.bernoulli(0.3);
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
          float u = (float(x) + 0.5f) / float(w) - 0.5f, v = (float(y) + 0.5f) / float(h) - 0.5f;
          float t = radial ? std::min(1.0f, 1.4f * std::sqrt(u * u + v * v)) : std::clamp(0.5f + u * ca + v * sa, 0.0f, 1.0f);
          put(rgb, size_t(y) * size_t(w) + size_t(x), lerp(c0, c1, t));
        }
      if (kind == BackgroundKind::clutter) clutter(rgb, w, h, rng, rng.randint(4, 25));
      break;
    }
    case BackgroundKind::noise: {
      Fractal f(rng.randint(2, 8), rng.randint(2, 4), aspect, rng);
      float contrast = float(rng.uniform(1.0, 2.5));
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
          float t = std::clamp(0.5f + (f.at((float(x) + 0.5f) / float(w), (float(y) + 0.5f) / float(h)) - 0.5f) * contrast,
                               0.0f, 1.0f);
          put(rgb, size_t(y) * size_t(w) + size_t(x), lerp(c0, c1, t));
        }
      break;
    }
    case BackgroundKind::wood: {  // warped stripes: planks and grain
      Vec3 light = hsv(float(rng.uniform(0.05, 0.11)), float(rng.uniform(0.35, 0.7)), float(rng.uniform(0.45, 0.85)));
      Vec3 dark = light * float(rng.uniform(0.45, 0.75));
      if (rng.bernoulli(0.25)) light = muted_color(rng), dark = light * 0.6f;  // painted stripes
      Fractal warp(3, 3, aspect, rng);
      float freq = float(rng.uniform(8, 40)), ang = float(rng.uniform(-0.3, 0.3)) + (rng.bernoulli(0.5) ? 1.5708f : 0.0f);
      float ca = std::cos(ang), sa = std::sin(ang), amount = float(rng.uniform(0.5, 3.0));
      int planks = rng.randint(2, 8);
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
          float u = (float(x) + 0.5f) / float(w), v = (float(y) + 0.5f) / float(h);
          float across = u * ca + v * sa;
          float g = std::sin((across * freq + amount * warp.at(u, v)) * 2 * float(std::numbers::pi));
          float t = 0.5f + 0.5f * g;
          t = t * t;
          float seam = std::fabs(std::fmod(std::fabs(across) * float(planks), 1.0f) - 0.5f) > 0.485f ? 0.55f : 1.0f;
          put(rgb, size_t(y) * size_t(w) + size_t(x), lerp(light, dark, t) * seam);
        }
      break;
    }
    case BackgroundKind::checker: {
      float cell = float(rng.uniform(0.04, 0.25)) * float(std::min(w, h));
      float ang = float(rng.uniform(0, std::numbers::pi)), ca = std::cos(ang), sa = std::sin(ang);
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
          float u = (float(x) * ca + float(y) * sa) / cell, v = (-float(x) * sa + float(y) * ca) / cell;
          bool odd = (int(std::floor(u)) + int(std::floor(v))) & 1;
          put(rgb, size_t(y) * size_t(w) + size_t(x), odd ? c0 : c1);
        }
      break;
    }
    case BackgroundKind::tiles: {
      int cols = rng.randint(2, 12), rows = std::max(1, int(float(cols) * aspect * float(rng.uniform(0.6, 1.6))));
      Vec3 grout = muted_color(rng);
      float gw = float(rng.uniform(0.02, 0.08)), jitter = float(rng.uniform(0.0, 0.25));
      std::vector<Vec3> tile(size_t(cols) * size_t(rows));
      for (auto& t : tile) t = c0 * (1.0f - jitter * rng.uniformf());
      bool offset = rng.bernoulli(0.5);  // brick bond
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
          float v = (float(y) + 0.5f) / float(h) * float(rows);
          int r = std::min(rows - 1, int(v));
          float u = (float(x) + 0.5f) / float(w) * float(cols) + ((offset && (r & 1)) ? 0.5f : 0.0f);
          int c = int(u) % cols;
          float fu = u - std::floor(u), fv = v - std::floor(v);
          bool g = fu < gw || fu > 1 - gw || fv < gw || fv > 1 - gw;
          put(rgb, size_t(y) * size_t(w) + size_t(x), g ? grout : tile[size_t(r) * size_t(cols) + size_t(c)]);
        }
      break;
    }
    default: fail("synth::paint_background: unknown kind ", int(kind));
  }
  if (kind != BackgroundKind::clutter && rng.bernoulli(0.25)) clutter(rgb, w, h, rng, rng.randint(1, 6));
}

inline void paint_background(std::vector<float>& rgb, int w, int h, Rng& rng) {
  paint_background(rgb, w, h, rng, BackgroundKind(rng.below(uint32_t(BackgroundKind::count))));
}

// A product photographer's backdrop: near-white or light grey paper, either one seamless sweep
// or a wall meeting a table top at a soft horizon, lit unevenly (a broad falloff and a
// vignette), with faint paper grain. Clear bottles are hardest to see on it: only their edges,
// caps and what they refract show.
inline void paint_studio(std::vector<float>& rgb, int w, int h, Rng& rng) {
  using namespace detail;
  rgb.resize(size_t(w) * size_t(h) * 3);
  const float value = float(rng.uniform(0.72, 1.0));
  const Vec3 paper = hsv(rng.uniformf(), float(rng.uniform(0.0, 0.08)), value);
  const bool horizon = rng.bernoulli(0.5);
  const float hy = float(rng.uniform(0.45, 0.85)), soft = float(rng.uniform(0.01, 0.08));
  const float table = float(rng.uniform(0.8, 1.1));  // the table top's brightness against the wall
  const float ang = float(rng.uniform(0, 2 * std::numbers::pi)), ca = std::cos(ang), sa = std::sin(ang);
  const float falloff = float(rng.uniform(0.0, 0.3)), vignette = float(rng.uniform(0.0, 0.35));
  const float grain = float(rng.uniform(0.0, 0.03));
  const std::vector<float> noise = Fractal(rng.randint(8, 24), 3, float(h) / float(w), rng).field(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const float u = (float(x) + 0.5f) / float(w) - 0.5f, v = (float(y) + 0.5f) / float(h) - 0.5f;
      float k = 1.0f - falloff * std::clamp(0.5f + u * ca + v * sa, 0.0f, 1.0f) - vignette * (u * u + v * v);
      if (horizon) k *= 1.0f + (table - 1.0f) * std::clamp((v + 0.5f - hy) / soft + 0.5f, 0.0f, 1.0f);
      const size_t i = size_t(y) * size_t(w) + size_t(x);
      k += grain * (noise[i] - 0.5f);
      put(rgb, i, paper * std::clamp(k, 0.0f, 1.2f));
    }
}

}  // namespace yolite::synth
