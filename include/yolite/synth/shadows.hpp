// synth/shadows.hpp -- soft shadows that the objects cast on what is behind them.
//
// A bottle on the ground has a shadow beside it; without one, a render looks pasted on and the
// detector never learns that the dark shape next to a bottle is not part of it. This is the
// screen-space approximation that fits a renderer without a ground plane: the objects'
// silhouette (clear plastic casts a lighter one), moved away from the light by a few pixels,
// softened by a box blur, darkens the background before the objects are drawn over it. For a
// camera looking down at the ground -- the common case in real photos of litter -- that is
// what a shadow map would give; for a bottle in front of a distant wall it is a stylised one.
//
//   synth::Shadow sh{0.5f, 6, 9, 4};                 // strength, offset (px), blur radius (px)
//   synth::cast_shadow(rgb, w, h, coverage, sh);      // coverage: 1 opaque, < 1 clear, 0 none
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

#include "../core/error.hpp"

namespace yolite::synth {

struct Shadow {
  float strength = 0.0f;  // darkening under a fully opaque object, 0..1; 0 = no shadow
  int dx = 0, dy = 0;     // where the shadow falls relative to the object, pixels (image axes)
  int blur = 0;           // softness: box blur radius in pixels
};

namespace detail {

// Box blur of radius r on one channel by running sums (edges clamp): O(w*h) for any r.
inline void box_blur_1(std::vector<float>& a, int w, int h, int r) {
  if (r <= 0) return;
  std::vector<float> line(size_t(std::max(w, h)));
  const float inv = 1.0f / float(2 * r + 1);
  auto pass = [&](int n, int lines, size_t stride, size_t line_stride) {
    for (int l = 0; l < lines; ++l) {
      float* p = a.data() + size_t(l) * line_stride;
      for (int i = 0; i < n; ++i) line[size_t(i)] = p[size_t(i) * stride];
      float s = 0;
      for (int d = -r; d <= r; ++d) s += line[size_t(std::clamp(d, 0, n - 1))];
      for (int i = 0; i < n; ++i) {
        p[size_t(i) * stride] = s * inv;
        s += line[size_t(std::min(i + r + 1, n - 1))] - line[size_t(std::max(i - r, 0))];
      }
    }
  };
  pass(w, h, 1, size_t(w));  // rows
  pass(h, w, size_t(w), 1);  // columns
}

}  // namespace detail

// Darkens rgb (w*h*3) where the shifted, blurred coverage (w*h, 0..1) lands.
inline void cast_shadow(std::vector<float>& rgb, int w, int h, const std::vector<float>& coverage, const Shadow& s) {
  YOLITE_CHECK(coverage.size() == size_t(w) * size_t(h) && rgb.size() == coverage.size() * 3,
               "synth::cast_shadow: buffers do not match a ", w, "x", h, " image");
  if (s.strength <= 0) return;
  std::vector<float> m(coverage.size(), 0.0f);
  for (int y = 0; y < h; ++y) {
    const int sy = y - s.dy;
    if (sy < 0 || sy >= h) continue;
    for (int x = 0; x < w; ++x) {
      const int sx = x - s.dx;
      if (sx >= 0 && sx < w) m[size_t(y) * size_t(w) + size_t(x)] = coverage[size_t(sy) * size_t(w) + size_t(sx)];
    }
  }
  detail::box_blur_1(m, w, h, s.blur);
  const float k = std::clamp(s.strength, 0.0f, 1.0f);
  for (size_t i = 0; i < m.size(); ++i) {
    const float g = 1.0f - k * m[i];
    rgb[3 * i] *= g, rgb[3 * i + 1] *= g, rgb[3 * i + 2] *= g;
  }
}

}  // namespace yolite::synth
