// synth/render.hpp -- render a Scene to an 8-bit image, a per-pixel object-id mask and the
// annotations read off that mask.
//
// The annotations come from the rasteriser's id buffer, not from projected 3-D boxes: an
// object's box is the tight box of the pixels where it is the nearest surface, its area is the
// count of those pixels, its polygon the convex hull of them (pixel corners, so the polygon's
// extent is exactly the box). An object with no visible pixel gets no annotation. Blur, noise
// and JPEG compression change the colours only, never the mask.
//
//   synth::Rendered r = synth::render_scene(scene);
//   r.image;                    // Image w x h x 3
//   r.ids[y * w + x];           // 0 = background, k + 1 = scene.objects[k]
//   for (auto& a : r.annotations) a.bbox();   // COCO [x, y, w, h] in pixels
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "../core/image.hpp"
#include "../core/rng.hpp"
#include "background.hpp"
#include "grounds.hpp"
#include "photo_backgrounds.hpp"
#include "props.hpp"
#include "raster.hpp"
#include "scene.hpp"
#include "shadows.hpp"

namespace yolite::synth {

struct Annotation {
  int object = 0;                // index into Scene::objects
  int cls = 0;                   // index into the class list
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // inclusive pixel bounds of the visible pixels
  int area = 0;                  // visible pixel count
  std::vector<float> polygon;    // x0, y0, x1, y1, ... convex hull of the visible pixels (corners)
  std::array<float, 4> bbox() const { return {float(x0), float(y0), float(x1 - x0 + 1), float(y1 - y0 + 1)}; }
};

struct Rendered {
  Image image;
  std::vector<uint16_t> ids;  // w * h
  std::vector<Annotation> annotations;
  int jpeg_quality = 95;
  int objects = 0;  // labelled objects in the scene (annotations holds those with visible pixels)
};

// Convex hull (Andrew's monotone chain) of integer points, counter-clockwise, no duplicates.
inline std::vector<std::array<int, 2>> convex_hull(std::vector<std::array<int, 2>> pts) {
  std::sort(pts.begin(), pts.end());
  pts.erase(std::unique(pts.begin(), pts.end()), pts.end());
  if (pts.size() < 3) return pts;
  auto cross = [](const std::array<int, 2>& o, const std::array<int, 2>& a, const std::array<int, 2>& b) {
    return int64_t(a[0] - o[0]) * (b[1] - o[1]) - int64_t(a[1] - o[1]) * (b[0] - o[0]);
  };
  std::vector<std::array<int, 2>> h(2 * pts.size());
  size_t k = 0;
  for (size_t i = 0; i < pts.size(); ++i) {
    while (k >= 2 && cross(h[k - 2], h[k - 1], pts[i]) <= 0) --k;
    h[k++] = pts[i];
  }
  for (size_t i = pts.size() - 1, t = k + 1; i > 0; --i) {
    while (k >= t && cross(h[k - 2], h[k - 1], pts[i - 1]) <= 0) --k;
    h[k++] = pts[i - 1];
  }
  h.resize(k - 1);
  return h;
}

// One annotation per object id present in `ids` (ids 1..n_objects), in object order.
inline std::vector<Annotation> annotate(const std::vector<uint16_t>& ids, int w, int h,
                                        const std::vector<SceneObject>& objects) {
  size_t n = objects.size();
  std::vector<Annotation> a(n);
  std::vector<std::vector<std::array<int, 2>>> corners(n);
  for (size_t k = 0; k < n; ++k) a[k].object = int(k), a[k].cls = objects[k].cls, a[k].x0 = w, a[k].y0 = h, a[k].x1 = -1, a[k].y1 = -1;
  std::vector<int> left(n), right(n);
  for (int y = 0; y < h; ++y) {
    std::fill(left.begin(), left.end(), -1);
    const uint16_t* row = ids.data() + size_t(y) * size_t(w);
    for (int x = 0; x < w; ++x) {
      uint16_t id = row[x];
      if (id == 0 || id > n) continue;
      size_t k = id - 1u;
      if (left[k] < 0) left[k] = x;
      right[k] = x;
      ++a[k].area;
    }
    for (size_t k = 0; k < n; ++k) {
      if (left[k] < 0) continue;
      Annotation& A = a[k];
      A.x0 = std::min(A.x0, left[k]), A.x1 = std::max(A.x1, right[k]);
      A.y0 = std::min(A.y0, y), A.y1 = std::max(A.y1, y);
      corners[k].push_back({left[k], y}), corners[k].push_back({left[k], y + 1});
      corners[k].push_back({right[k] + 1, y}), corners[k].push_back({right[k] + 1, y + 1});
    }
  }
  std::vector<Annotation> out;
  for (size_t k = 0; k < n; ++k) {
    if (a[k].area == 0) continue;
    for (auto& p : convex_hull(std::move(corners[k]))) a[k].polygon.push_back(float(p[0])), a[k].polygon.push_back(float(p[1]));
    out.push_back(std::move(a[k]));
  }
  return out;
}

namespace detail {

// Separable box blur of radius r on an interleaved float RGB buffer (edges clamp). Each output
// is the taps summed in order from -r to r; the vertical pass runs along whole rows (the same
// sums, in the same order, vectorisable).
inline void box_blur(std::vector<float>& rgb, int w, int h, int r) {
  if (r <= 0) return;
  std::vector<float> tmp(rgb.size());
  float inv = 1.0f / float(2 * r + 1);
  const size_t row = size_t(w) * 3;
  std::vector<float> acc(row);
  for (int y = 0; y < h; ++y) {
    const float* src = &rgb[size_t(y) * row];
    float* dst = &tmp[size_t(y) * row];
    auto edge = [&](int x) {  // a column whose taps reach past the border
      for (int c = 0; c < 3; ++c) {
        float s = 0;
        for (int d = -r; d <= r; ++d) s += src[size_t(std::clamp(x + d, 0, w - 1)) * 3 + size_t(c)];
        dst[size_t(x) * 3 + size_t(c)] = s * inv;
      }
    };
    const int x0 = std::min(r, w), x1 = std::max(x0, w - r);  // interior columns [x0, x1)
    for (int x = 0; x < x0; ++x) edge(x);
    for (int x = x1; x < w; ++x) edge(x);
    const size_t i0 = size_t(x0) * 3, i1 = size_t(x1) * 3;
    std::fill(acc.begin() + ptrdiff_t(i0), acc.begin() + ptrdiff_t(i1), 0.0f);
    for (int d = -r; d <= r; ++d) {
      const float* s = src + ptrdiff_t(d) * 3;
      for (size_t i = i0; i < i1; ++i) acc[i] += s[i];
    }
    for (size_t i = i0; i < i1; ++i) dst[i] = acc[i] * inv;
  }
  for (int y = 0; y < h; ++y) {
    std::fill(acc.begin(), acc.end(), 0.0f);
    for (int d = -r; d <= r; ++d) {
      const float* src = &tmp[size_t(std::clamp(y + d, 0, h - 1)) * row];
      for (size_t i = 0; i < row; ++i) acc[i] += src[i];
    }
    float* out = &rgb[size_t(y) * row];
    for (size_t i = 0; i < row; ++i) out[i] = acc[i] * inv;
  }
}

// Motion blur: each pixel the mean of `len` + 1 samples along a line through it (edges clamp).
inline void motion_blur(std::vector<float>& rgb, int w, int h, int len, float angle) {
  if (len <= 0) return;
  const float dx = std::cos(angle), dy = std::sin(angle);
  std::vector<int> ox(size_t(len) + 1), oy(size_t(len) + 1);
  for (int t = 0; t <= len; ++t)
    ox[size_t(t)] = int(std::lround((float(t) - 0.5f * float(len)) * dx)),
    oy[size_t(t)] = int(std::lround((float(t) - 0.5f * float(len)) * dy));
  std::vector<float> src = rgb;
  const float inv = 1.0f / float(len + 1);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      float s[3] = {0, 0, 0};
      for (size_t t = 0; t < ox.size(); ++t) {
        const size_t j = (size_t(std::clamp(y + oy[t], 0, h - 1)) * size_t(w) + size_t(std::clamp(x + ox[t], 0, w - 1))) * 3;
        s[0] += src[j], s[1] += src[j + 1], s[2] += src[j + 2];
      }
      float* p = &rgb[(size_t(y) * size_t(w) + size_t(x)) * 3];
      p[0] = s[0] * inv, p[1] = s[1] * inv, p[2] = s[2] * inv;
    }
}

}  // namespace detail

// Colours of the frame buffer -> 8-bit image, with white balance, exposure, motion blur, blur
// and sensor noise.
inline Image develop(std::vector<float>& rgb, int w, int h, const PostFx& fx, Rng& rng) {
  if (fx.white_balance.x != 1.0f || fx.white_balance.y != 1.0f || fx.white_balance.z != 1.0f)
    for (size_t i = 0; i + 2 < rgb.size(); i += 3)
      rgb[i] *= fx.white_balance.x, rgb[i + 1] *= fx.white_balance.y, rgb[i + 2] *= fx.white_balance.z;
  detail::motion_blur(rgb, w, h, fx.motion, fx.motion_angle);
  detail::box_blur(rgb, w, h, fx.blur);
  Image img(w, h, 3);
  const size_t n = size_t(w) * size_t(h) * 3;
  // Noise: the sum of two uniforms (a triangle distribution) from 8 random bits each -- cheap
  // and close enough to sensor noise; (a + b - 255) / 255 has a standard deviation of ~0.41.
  const float gain = fx.exposure * 255.0f;
  if (fx.noise_sigma <= 0) {
    for (size_t i = 0; i < n; ++i) img.px[i] = uint8_t(std::clamp(rgb[i] * gain + 0.5f, 0.0f, 255.0f));
    return img;
  }
  const float k = fx.noise_sigma / 0.41f;  // in 0..255 units per (a + b - 255)/255 step
  // the random bits first (one 32-bit draw feeds two values, in order), then one loop the
  // compiler can vectorise
  const size_t pairs = n / 2;
  std::vector<uint32_t> bits(pairs);
  for (auto& b : bits) b = rng.next_u32();
  for (size_t p = 0; p < pairs; ++p) {
    const uint32_t b = bits[p];
    const size_t i = 2 * p;
    const float n0 = float(int(b & 0xff) + int(b >> 8 & 0xff) - 255) * k;
    const float n1 = float(int(b >> 16 & 0xff) + int(b >> 24) - 255) * k;
    img.px[i] = uint8_t(std::clamp(rgb[i] * gain + n0 + 0.5f, 0.0f, 255.0f));
    img.px[i + 1] = uint8_t(std::clamp(rgb[i + 1] * gain + n1 + 0.5f, 0.0f, 255.0f));
  }
  for (size_t i = 2 * pairs; i < n; ++i) img.px[i] = uint8_t(std::clamp(rgb[i] * gain + 0.5f, 0.0f, 255.0f));
  return img;
}

// Objects that stay less than s.min_visible visible behind the others leave the id mask: each
// object is drawn alone (coverage only) to count its own pixels, against the pixels it keeps
// in `ids`. items[k] draws object k (id k + 1).
inline void hide_occluded(std::vector<uint16_t>& ids, const Scene& s, const std::vector<DrawItem>& items) {
  const int w = s.camera.w, h = s.camera.h;
  std::vector<size_t> seen(s.objects.size() + 1, 0);
  for (uint16_t id : ids)
    if (id != 0 && id <= s.objects.size()) ++seen[id];
  FrameBuffer alone(w, h);
  std::vector<char> drop(seen.size(), 0);
  bool any = false;
  for (size_t k = 0; k < s.objects.size(); ++k) {
    const uint16_t id = uint16_t(k + 1);
    if (seen[id] == 0) continue;
    std::fill(alone.id.begin(), alone.id.end(), uint16_t(0));
    std::fill(alone.depth.begin(), alone.depth.end(), 0.0f);
    std::fill(alone.id_depth.begin(), alone.id_depth.end(), 0.0f);
    render_meshes(alone, s.camera, s.light, {items[k]}, 1e-3f, /*shade=*/false);
    const size_t own = size_t(std::count(alone.id.begin(), alone.id.end(), id));
    drop[id] = double(seen[id]) < double(s.min_visible) * double(own);
    any = any || drop[id];
  }
  if (!any) return;
  for (auto& id : ids)
    if (id != 0 && id < drop.size() && drop[id]) id = 0;
}

// Renders the scene: background, objects, effects, id mask and annotations.
inline Rendered render_scene(const Scene& s) {
  const int w = s.camera.w, h = s.camera.h;
  YOLITE_CHECK(w > 0 && h > 0, "synth::render_scene: bad image size ", w, "x", h);
  YOLITE_CHECK(s.objects.size() < 65535, "synth::render_scene: too many objects (", s.objects.size(), ")");
  Rng rng(s.seed);
  FrameBuffer fb(w, h);
  if (!s.photo.empty())
    paint_photo(fb.rgb, w, h, data::load_image(s.photo, 3), rng);
  else if (s.ground)
    paint_ground(fb.rgb, w, h, rng, *s.ground);
  else if (s.clutter3d)
    paint_clutter3d(fb.rgb, w, h, rng);
  else if (s.studio)
    paint_studio(fb.rgb, w, h, rng);
  else
    paint_background(fb.rgb, w, h, rng, s.background);
  std::vector<DrawItem> items;
  for (size_t k = 0; k < s.objects.size(); ++k) {
    YOLITE_CHECK(s.objects[k].mesh != nullptr, "synth::render_scene: object ", k, " has no mesh");
    items.push_back({s.objects[k].mesh.get(), s.objects[k].pose, uint16_t(k + 1)});
  }
  for (size_t k = 0; k < s.distractors.size(); ++k) {
    YOLITE_CHECK(s.distractors[k].mesh != nullptr, "synth::render_scene: distractor ", k, " has no mesh");
    items.push_back({s.distractors[k].mesh.get(), s.distractors[k].pose, uint16_t(0)});
  }
  if (s.shadow.strength > 0 && !items.empty()) {
    // the silhouette: full where an opaque surface is, lighter where only clear plastic is
    FrameBuffer sil(w, h);
    render_meshes(sil, s.camera, s.light, items, 1e-3f, /*shade=*/false);
    std::vector<float> coverage(size_t(w) * size_t(h));
    for (size_t i = 0; i < coverage.size(); ++i)
      coverage[i] = sil.depth[i] > 0 ? 1.0f : sil.id_depth[i] > 0 ? 0.45f : 0.0f;
    cast_shadow(fb.rgb, w, h, coverage, s.shadow);
  }
  render_meshes(fb, s.camera, s.light, items);
  if (s.min_visible > 0 && (s.objects.size() > 1 || !s.distractors.empty()))
    hide_occluded(fb.id, s, items);
  Rendered r;
  r.image = develop(fb.rgb, w, h, s.fx, rng);
  r.annotations = annotate(fb.id, w, h, s.objects);
  r.ids = std::move(fb.id);
  r.jpeg_quality = s.fx.jpeg_quality;
  r.objects = int(s.objects.size());
  return r;
}

}  // namespace yolite::synth
