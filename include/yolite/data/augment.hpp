// data/augment.hpp -- YOLOv5's training augmentations on an Image and its boxes.
//
//   Rng rng(seed);
//   std::vector<data::PixelBox> boxes;                          // corners in pixels
//   Image m = data::mosaic4({tile0, tile1, tile2, tile3}, 320, rng, boxes);   // 640x640
//   Image a = data::random_perspective(m, boxes, rng, hyp, -160);             // 320x320
//   data::augment_hsv(a, rng, hyp.hsv_h, hyp.hsv_s, hyp.hsv_v);
//   auto yolo = data::to_normalized_boxes(boxes, a.w, a.h);                   // YOLO form
//   if (rng.bernoulli(hyp.fliplr)) data::flip_lr(a, yolo);
//
// What each piece reproduces (utils/augmentations.py and utils/dataloaders.py of YOLOv5):
//   mosaic4             load_mosaic: a 2s x 2s canvas of 114 grey, a random centre (xc, yc)
//                       in [s/2, 3s/2), image 0 placed to its top-left, 1 top-right,
//                       2 bottom-left, 3 bottom-right, cropped at the canvas edge; boxes shifted
//                       by the placement and clipped to [0, 2s].
//   random_perspective  M = T * S * R * P * C (centre, perspective, rotation+scale, shear,
//                       translation), the image warped through M (bilinear sampling of the
//                       inverse map, border 114, as cv2.warpAffine / warpPerspective); each box's
//                       4 corners transformed, the new box their min/max clipped to the output,
//                       then box_candidates keeps boxes wider and taller than 2 px, with more
//                       than 10% of their (scaled) area left and aspect ratio below 20.
//                       For a mosaic the border is -s/2: the 2s canvas is cut back to s x s.
//   augment_hsv         random gains 1 + U(-g, g) for hue, saturation, value applied through
//                       256-entry lookup tables in OpenCV's 8-bit HSV (H in 0..179, S, V 0..255).
//   flip_lr / flip_ud   mirror the image, cx -> 1 - cx (cy -> 1 - cy).
//   mixup               blend with another augmented image, ratio ~ Beta(32, 32); boxes of both.
//
// Every geometric step takes an optional `mask` image that goes through the identical
// transform with nearest sampling and 0 outside (mixup ORs the two masks). Tests draw each
// box as bits in a mask and check the boxes still bound the moved pixels; a user can carry a
// segmentation map the same way. All randomness comes from the Rng passed in.
//
// Speed (the loader runs these per training image): the warp tabulates the column part of
// the inverse map and works in 10-bit fixed point, with an inlined RGB interior loop; HSV
// converts back through a 180x256 table of (h, s) factors instead of the float formula
// (hsv8_to_rgb, kept as the reference and checked against the table in the tests).
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <vector>

#include "../core/error.hpp"
#include "../core/image.hpp"
#include "../core/rng.hpp"
#include "dataset.hpp"
#include "letterbox.hpp"

namespace yolite::data {

// ---- boxes in pixels and the hyperparameters -----------------------------------------------

// A labelled box in pixel corners (YOLOv5 keeps labels as [cls, x1, y1, x2, y2] while it
// augments, and converts to normalised centre/size at the end).
struct PixelBox {
  int cls = 0;
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
};

// xywhn2xyxy: normalised YOLO boxes of a w x h image -> pixel corners, shifted by (padw, padh).
inline std::vector<PixelBox> to_pixel_boxes(const std::vector<Box>& boxes, float w, float h,
                                            float padw = 0, float padh = 0) {
  std::vector<PixelBox> out;
  out.reserve(boxes.size());
  for (const Box& b : boxes)
    out.push_back({b.cls, w * (b.cx - b.w / 2) + padw, h * (b.cy - b.h / 2) + padh,
                   w * (b.cx + b.w / 2) + padw, h * (b.cy + b.h / 2) + padh});
  return out;
}

// xyxy2xywhn with clip: pixel corners -> normalised centre/size, corners first clipped to
// [0, w - eps] x [0, h - eps] as YOLOv5 does (eps = 1e-3).
inline std::vector<Box> to_normalized_boxes(const std::vector<PixelBox>& boxes, int w, int h,
                                            bool clip = true, float eps = 1e-3f) {
  std::vector<Box> out;
  out.reserve(boxes.size());
  for (PixelBox b : boxes) {
    if (clip) {
      b.x1 = std::clamp(b.x1, 0.f, w - eps), b.x2 = std::clamp(b.x2, 0.f, w - eps);
      b.y1 = std::clamp(b.y1, 0.f, h - eps), b.y2 = std::clamp(b.y2, 0.f, h - eps);
    }
    out.push_back({b.cls, (b.x1 + b.x2) / 2 / w, (b.y1 + b.y2) / 2 / h, (b.x2 - b.x1) / w,
                   (b.y2 - b.y1) / h});
  }
  return out;
}

// The augmentation part of YOLOv5's hyperparameters, defaults of hyp.scratch-low.yaml.
struct AugmentHyp {
  float hsv_h = 0.015f, hsv_s = 0.7f, hsv_v = 0.4f;  // HSV gains (fractions)
  float degrees = 0.f;                                // rotation +/- degrees
  float translate = 0.1f;                             // translation +/- fraction
  float scale = 0.5f;                                 // scale gain +/- fraction
  float shear = 0.f;                                  // shear +/- degrees
  float perspective = 0.f;                            // perspective +/- fraction (0 .. 0.001)
  float flipud = 0.f, fliplr = 0.5f;                  // flip probabilities
  float mosaic = 1.f;                                 // mosaic probability
  float mixup = 0.f;                                  // mixup probability
};

// ---- mosaic --------------------------------------------------------------------------------

// One of the four images of a mosaic: its pixels (already resized, long side ~ s), its boxes
// normalised to it, and optionally a mask of the same size.
struct MosaicTile {
  const Image* image = nullptr;
  const std::vector<Box>* boxes = nullptr;
  const Image* mask = nullptr;
};

namespace detail {
inline void copy_block(const Image& src, int x1b, int y1b, Image& dst, int x1a, int y1a, int w, int h) {
  const size_t bytes = size_t(w) * src.c;
  for (int y = 0; y < h; ++y) std::copy_n(src.at(x1b, y1b + y), bytes, dst.at(x1a, y1a + y));
}
}  // namespace detail

// YOLOv5's load_mosaic without the final random_perspective. Returns the 2s x 2s canvas and
// appends the boxes of the four tiles (pixels of the canvas, clipped to [0, 2s]) to `boxes`.
inline Image mosaic4(const std::array<MosaicTile, 4>& tiles, int s, Rng& rng,
                     std::vector<PixelBox>& boxes, Image* mask = nullptr) {
  YOLITE_CHECK(s > 0, "mosaic4: image size must be positive, got ", s);
  const int c = tiles[0].image ? tiles[0].image->c : 3;
  // Centre in [s/2, 2s - s/2) (YOLOv5: int(uniform(-border, 2s + border)), border = -s//2).
  const int half = s / 2;
  const int xc = int(rng.uniform(half, 2 * s - half));
  const int yc = int(rng.uniform(half, 2 * s - half));
  Image canvas(2 * s, 2 * s, c, 114);
  if (mask) *mask = Image();
  for (int i = 0; i < 4; ++i) {
    const MosaicTile& t = tiles[size_t(i)];
    YOLITE_CHECK(t.image && !t.image->empty(), "mosaic4: tile ", i, " has no image");
    YOLITE_CHECK(t.image->c == c, "mosaic4: tile ", i, " has ", t.image->c, " channels, expected ", c);
    const int w = t.image->w, h = t.image->h;
    int x1a, y1a, x2a, y2a, x1b, y1b;
    if (i == 0) {  // top left: the image's bottom-right corner at the centre
      x1a = std::max(xc - w, 0), y1a = std::max(yc - h, 0), x2a = xc, y2a = yc;
      x1b = w - (x2a - x1a), y1b = h - (y2a - y1a);
    } else if (i == 1) {  // top right
      x1a = xc, y1a = std::max(yc - h, 0), x2a = std::min(xc + w, 2 * s), y2a = yc;
      x1b = 0, y1b = h - (y2a - y1a);
    } else if (i == 2) {  // bottom left
      x1a = std::max(xc - w, 0), y1a = yc, x2a = xc, y2a = std::min(2 * s, yc + h);
      x1b = w - (x2a - x1a), y1b = 0;
    } else {  // bottom right
      x1a = xc, y1a = yc, x2a = std::min(xc + w, 2 * s), y2a = std::min(2 * s, yc + h);
      x1b = 0, y1b = 0;
    }
    detail::copy_block(*t.image, x1b, y1b, canvas, x1a, y1a, x2a - x1a, y2a - y1a);
    if (mask) {
      YOLITE_CHECK(t.mask && t.mask->w == w && t.mask->h == h, "mosaic4: tile ", i,
                   " needs a mask of its image's size");
      if (mask->empty()) *mask = Image(2 * s, 2 * s, t.mask->c, 0);
      detail::copy_block(*t.mask, x1b, y1b, *mask, x1a, y1a, x2a - x1a, y2a - y1a);
    }
    const float padw = float(x1a - x1b), padh = float(y1a - y1b);
    if (t.boxes)
      for (PixelBox b : to_pixel_boxes(*t.boxes, float(w), float(h), padw, padh)) {
        const float lim = float(2 * s);
        b.x1 = std::clamp(b.x1, 0.f, lim), b.x2 = std::clamp(b.x2, 0.f, lim);
        b.y1 = std::clamp(b.y1, 0.f, lim), b.y2 = std::clamp(b.y2, 0.f, lim);
        boxes.push_back(b);
      }
  }
  return canvas;
}

// ---- affine / perspective warp -------------------------------------------------------------

// 3x3 matrix, row-major: point (x, y) maps to (m[0]x + m[1]y + m[2], m[3]x + ...) / (m[6]x + ...).
struct Mat3 {
  std::array<double, 9> m{1, 0, 0, 0, 1, 0, 0, 0, 1};
  double operator()(int r, int c) const { return m[size_t(r * 3 + c)]; }
  double& operator()(int r, int c) { return m[size_t(r * 3 + c)]; }
  friend Mat3 operator*(const Mat3& a, const Mat3& b) {
    Mat3 o;
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) o(r, c) = a(r, 0) * b(0, c) + a(r, 1) * b(1, c) + a(r, 2) * b(2, c);
    return o;
  }
  bool is_identity() const { return m == Mat3{}.m; }
  bool is_affine() const { return m[6] == 0 && m[7] == 0 && m[8] == 1; }
  Mat3 inverse() const {
    const auto& a = m;
    double c0 = a[4] * a[8] - a[5] * a[7], c1 = a[5] * a[6] - a[3] * a[8], c2 = a[3] * a[7] - a[4] * a[6];
    double det = a[0] * c0 + a[1] * c1 + a[2] * c2;
    YOLITE_CHECK(std::abs(det) > 1e-12, "Mat3: matrix is not invertible (det ", det, ")");
    Mat3 o;
    o.m = {c0, a[2] * a[7] - a[1] * a[8], a[1] * a[5] - a[2] * a[4],
           c1, a[0] * a[8] - a[2] * a[6], a[2] * a[3] - a[0] * a[5],
           c2, a[1] * a[6] - a[0] * a[7], a[0] * a[4] - a[1] * a[3]};
    for (double& v : o.m) v /= det;
    return o;
  }
};

// A random YOLOv5 perspective transform for an in_w x in_h image with output border `border`
// (output size in + 2*border). `scale_out` receives the random scale s (box_candidates needs it).
// Draw order: perspective x, y; angle; scale; shear x, y; translate x, y.
inline Mat3 random_perspective_matrix(Rng& rng, const AugmentHyp& hyp, int in_w, int in_h,
                                      int border, double* scale_out = nullptr) {
  const double width = in_w + 2 * border, height = in_h + 2 * border;
  Mat3 C, P, R, S, T;
  C(0, 2) = -in_w / 2.0, C(1, 2) = -in_h / 2.0;  // centre at the origin
  P(2, 0) = rng.uniform(-hyp.perspective, hyp.perspective);
  P(2, 1) = rng.uniform(-hyp.perspective, hyp.perspective);
  const double a = rng.uniform(-hyp.degrees, hyp.degrees) * std::numbers::pi / 180.0;
  const double s = rng.uniform(1.0 - hyp.scale, 1.0 + hyp.scale);
  // cv2.getRotationMatrix2D(center=0, angle=a, scale=s): [[s cos, s sin], [-s sin, s cos]].
  R(0, 0) = s * std::cos(a), R(0, 1) = s * std::sin(a);
  R(1, 0) = -s * std::sin(a), R(1, 1) = s * std::cos(a);
  S(0, 1) = std::tan(rng.uniform(-hyp.shear, hyp.shear) * std::numbers::pi / 180.0);
  S(1, 0) = std::tan(rng.uniform(-hyp.shear, hyp.shear) * std::numbers::pi / 180.0);
  T(0, 2) = rng.uniform(0.5 - hyp.translate, 0.5 + hyp.translate) * width;
  T(1, 2) = rng.uniform(0.5 - hyp.translate, 0.5 + hyp.translate) * height;
  if (scale_out) *scale_out = s;
  return T * S * R * P * C;
}

enum class Sampling { bilinear, nearest };

namespace detail {

// Source coordinates are fixed point with kWarpBits fractional bits (1/1024 pixel).
inline constexpr int kWarpBits = 10, kWarpOne = 1 << kWarpBits;

inline int64_t to_fixed(double v) {
  v = std::clamp(v, -1e9, 1e9);  // far outside anyway; keeps the integer in range
  return int64_t(std::llround(v * kWarpOne));
}

// One output pixel from fixed-point source coordinates (X, Y): bilinear, or nearest.
// C is the channel count when known at compile time (3: the common RGB case), else 0.
template <int C>
inline void warp_pixel(const Image& src, int64_t X, int64_t Y, bool nearest, uint8_t border, uint8_t* o) {
  const int c = C ? C : src.c, W = src.w, H = src.h;
  if (nearest) {
    const int64_t ix = (X + kWarpOne / 2) >> kWarpBits, iy = (Y + kWarpOne / 2) >> kWarpBits;
    if (ix >= 0 && iy >= 0 && ix < W && iy < H) {
      const uint8_t* p = src.at(int(ix), int(iy));
      for (int ch = 0; ch < c; ++ch) o[ch] = p[ch];
    } else {
      for (int ch = 0; ch < c; ++ch) o[ch] = border;
    }
    return;
  }
  const int64_t x0 = X >> kWarpBits, y0 = Y >> kWarpBits;  // arithmetic shift = floor
  const int ax = int(X & (kWarpOne - 1)), ay = int(Y & (kWarpOne - 1));
  const int w00 = (kWarpOne - ax) * (kWarpOne - ay), w01 = ax * (kWarpOne - ay);
  const int w10 = (kWarpOne - ax) * ay, w11 = ax * ay;
  constexpr int kShift = 2 * kWarpBits, kRound = 1 << (2 * kWarpBits - 1);
  if (x0 >= 0 && y0 >= 0 && x0 + 1 < W && y0 + 1 < H) {  // the 4 neighbours are inside
    const uint8_t* p0 = src.at(int(x0), int(y0));
    const uint8_t* p1 = p0 + size_t(W) * c;
    for (int ch = 0; ch < c; ++ch)
      o[ch] = uint8_t((p0[ch] * w00 + p0[ch + c] * w01 + p1[ch] * w10 + p1[ch + c] * w11 + kRound) >> kShift);
  } else if (x0 < -1 || y0 < -1 || x0 >= W || y0 >= H) {  // all outside
    for (int ch = 0; ch < c; ++ch) o[ch] = border;
  } else {  // on the edge: the missing neighbours read the border value
    auto px = [&](int64_t xx, int64_t yy, int ch) -> int {
      return (xx >= 0 && yy >= 0 && xx < W && yy < H) ? src.at(int(xx), int(yy))[ch] : border;
    };
    for (int ch = 0; ch < c; ++ch)
      o[ch] = uint8_t((px(x0, y0, ch) * w00 + px(x0 + 1, y0, ch) * w01 + px(x0, y0 + 1, ch) * w10 +
                       px(x0 + 1, y0 + 1, ch) * w11 + kRound) >>
                      kShift);
  }
}

template <int C>
inline void warp_rows(const Image& src, const Mat3& Mi, bool affine, bool nearest, uint8_t border, Image& dst) {
  const int c = C ? C : src.c, out_w = dst.w;
  // Affine: source x = Mi0*x + (Mi1*y + Mi2). The x part is tabulated once per column and the
  // row part once per row, so the inner loop is integer adds (OpenCV's warpAffine does this).
  std::vector<int64_t> dx(affine ? size_t(out_w) : 0), dy(affine ? size_t(out_w) : 0);
  for (size_t x = 0; x < dx.size(); ++x) dx[x] = to_fixed(Mi.m[0] * double(x)), dy[x] = to_fixed(Mi.m[3] * double(x));
  for (int y = 0; y < dst.h; ++y) {
    uint8_t* o = dst.row(y);
    if (affine) {
      const int64_t X0 = to_fixed(Mi.m[1] * y + Mi.m[2]), Y0 = to_fixed(Mi.m[4] * y + Mi.m[5]);
      if constexpr (C == 3) {
        if (!nearest) {  // the hot loop of training: RGB, bilinear, inlined interior case
          const size_t stride = size_t(src.w) * 3;
          const uint64_t wlim = uint64_t(src.w - 1), hlim = uint64_t(src.h - 1);
          for (int x = 0; x < out_w; ++x, o += 3) {
            const int64_t X = X0 + dx[size_t(x)], Y = Y0 + dy[size_t(x)];
            const int64_t x0 = X >> kWarpBits, y0 = Y >> kWarpBits;
            if (uint64_t(x0) < wlim && uint64_t(y0) < hlim) {
              const int ax = int(X & (kWarpOne - 1)), ay = int(Y & (kWarpOne - 1));
              const uint8_t* p0 = src.px.data() + size_t(y0) * stride + size_t(x0) * 3;
              const uint8_t* p1 = p0 + stride;
              for (int ch = 0; ch < 3; ++ch) {  // same integers as warp_pixel, lerped x then y
                const int top = p0[ch] * (kWarpOne - ax) + p0[ch + 3] * ax;
                const int bot = p1[ch] * (kWarpOne - ax) + p1[ch + 3] * ax;
                o[ch] = uint8_t((top * (kWarpOne - ay) + bot * ay + (1 << (2 * kWarpBits - 1))) >> (2 * kWarpBits));
              }
            } else {
              warp_pixel<3>(src, X, Y, false, border, o);
            }
          }
          continue;
        }
      }
      for (int x = 0; x < out_w; ++x, o += c) warp_pixel<C>(src, X0 + dx[size_t(x)], Y0 + dy[size_t(x)], nearest, border, o);
    } else {
      for (int x = 0; x < out_w; ++x, o += c) {
        double w = Mi.m[6] * x + Mi.m[7] * y + Mi.m[8];
        w = w != 0 ? 1.0 / w : 0.0;
        warp_pixel<C>(src, to_fixed((Mi.m[0] * x + Mi.m[1] * y + Mi.m[2]) * w),
                      to_fixed((Mi.m[3] * x + Mi.m[4] * y + Mi.m[5]) * w), nearest, border, o);
      }
    }
  }
}

}  // namespace detail

// Warps `src` through the forward map M into an out_w x out_h image: every output pixel
// samples the source at M^-1 (x, y) (pixel centres on integers, as cv2.warpAffine /
// warpPerspective), bilinear or nearest; samples outside the source read `border`.
// Source coordinates and weights are 10-bit fixed point.
inline Image warp_image(const Image& src, const Mat3& M, int out_w, int out_h,
                        Sampling sampling = Sampling::bilinear, uint8_t border = 114) {
  YOLITE_CHECK(!src.empty(), "warp_image: empty source image");
  YOLITE_CHECK(out_w > 0 && out_h > 0, "warp_image: bad output size ", out_w, "x", out_h);
  const Mat3 Mi = M.inverse();
  const bool affine = M.is_affine(), nearest = sampling == Sampling::nearest;
  Image dst(out_w, out_h, src.c);
  if (src.c == 3) detail::warp_rows<3>(src, Mi, affine, nearest, border, dst);
  else if (src.c == 1) detail::warp_rows<1>(src, Mi, affine, nearest, border, dst);
  else detail::warp_rows<0>(src, Mi, affine, nearest, border, dst);
  return dst;
}

// YOLOv5's box_candidates: keep a transformed box when it is wider and taller than wh_thr
// pixels, keeps more than area_thr of the area of the original box times the scale s (as
// YOLOv5 passes it), and its aspect ratio is below ar_thr.
struct BoxCandidateRule {
  float wh_thr = 2.f, area_thr = 0.1f, ar_thr = 20.f;
};

inline bool box_candidate(const PixelBox& before_scaled, const PixelBox& after, const BoxCandidateRule& r = {}) {
  constexpr double eps = 1e-16;
  const double w1 = before_scaled.x2 - before_scaled.x1, h1 = before_scaled.y2 - before_scaled.y1;
  const double w2 = after.x2 - after.x1, h2 = after.y2 - after.y1;
  const double ar = std::max(w2 / (h2 + eps), h2 / (w2 + eps));
  return w2 > r.wh_thr && h2 > r.wh_thr && w2 * h2 / (w1 * h1 + eps) > r.area_thr && ar < r.ar_thr;
}

// Maps boxes through M by their 4 corners (new box = min/max of the corners, clipped to
// out_w x out_h) and keeps the box_candidates. `s` is the random scale of the transform.
inline std::vector<PixelBox> transform_boxes(const std::vector<PixelBox>& boxes, const Mat3& M, double s,
                                             int out_w, int out_h, const BoxCandidateRule& rule = {}) {
  std::vector<PixelBox> out;
  const bool affine = M.is_affine();
  for (const PixelBox& b : boxes) {
    const double cx[4] = {b.x1, b.x2, b.x1, b.x2}, cy[4] = {b.y1, b.y2, b.y2, b.y1};
    double xmin = 1e300, ymin = 1e300, xmax = -1e300, ymax = -1e300;
    for (int k = 0; k < 4; ++k) {
      double X = M.m[0] * cx[k] + M.m[1] * cy[k] + M.m[2];
      double Y = M.m[3] * cx[k] + M.m[4] * cy[k] + M.m[5];
      if (!affine) {
        double Z = M.m[6] * cx[k] + M.m[7] * cy[k] + M.m[8];
        X /= Z, Y /= Z;
      }
      xmin = std::min(xmin, X), xmax = std::max(xmax, X);
      ymin = std::min(ymin, Y), ymax = std::max(ymax, Y);
    }
    PixelBox n{b.cls, float(std::clamp(xmin, 0.0, double(out_w))), float(std::clamp(ymin, 0.0, double(out_h))),
               float(std::clamp(xmax, 0.0, double(out_w))), float(std::clamp(ymax, 0.0, double(out_h)))};
    PixelBox scaled{b.cls, float(b.x1 * s), float(b.y1 * s), float(b.x2 * s), float(b.y2 * s)};
    if (box_candidate(scaled, n, rule)) out.push_back(n);
  }
  return out;
}

// YOLOv5's random_perspective: the output is (w + 2*border) x (h + 2*border) (border = -s/2
// after a mosaic, 0 otherwise); `boxes` are replaced by the transformed, filtered boxes. The
// optional mask goes through the same M with nearest sampling and 0 outside.
inline Image random_perspective(const Image& img, std::vector<PixelBox>& boxes, Rng& rng,
                                const AugmentHyp& hyp, int border = 0, Image* mask = nullptr) {
  YOLITE_CHECK(!img.empty(), "random_perspective: empty image");
  const int out_w = img.w + 2 * border, out_h = img.h + 2 * border;
  YOLITE_CHECK(out_w > 0 && out_h > 0, "random_perspective: border ", border, " leaves no output for a ",
               img.w, "x", img.h, " image");
  double s = 1.0;
  const Mat3 M = random_perspective_matrix(rng, hyp, img.w, img.h, border, &s);
  boxes = transform_boxes(boxes, M, s, out_w, out_h);
  if (border == 0 && M.is_identity()) return img;
  if (mask) *mask = warp_image(*mask, M, out_w, out_h, Sampling::nearest, 0);
  return warp_image(img, M, out_w, out_h, Sampling::bilinear, 114);
}

// ---- HSV -----------------------------------------------------------------------------------

namespace detail {

inline uint8_t clamp_u8(float v) {
  int i = int(v + 0.5f);
  return uint8_t(i < 0 ? 0 : i > 255 ? 255 : i);
}

// OpenCV's 8-bit RGB -> HSV (H in 0..179) with its 12-bit fixed-point division tables.
struct HsvTables {
  std::array<int, 256> sdiv{}, hdiv{};
  HsvTables() {
    for (int i = 1; i < 256; ++i) {
      sdiv[size_t(i)] = int(std::lround((255.0 * 4096) / i));
      hdiv[size_t(i)] = int(std::lround((180.0 * 4096) / (6.0 * i)));
    }
  }
};

inline const HsvTables& hsv_tables() {
  static const HsvTables t;  // immutable after construction (thread-safe static init)
  return t;
}

inline void rgb_to_hsv8(int r, int g, int b, int& h, int& s, int& v, const HsvTables& t) {
  v = std::max(r, std::max(g, b));
  const int vmin = std::min(r, std::min(g, b));
  const int diff = v - vmin;
  s = (diff * t.sdiv[size_t(v)] + (1 << 11)) >> 12;
  int hh;
  if (v == r) hh = g - b;
  else if (v == g) hh = b - r + 2 * diff;
  else hh = r - g + 4 * diff;
  hh = (hh * t.hdiv[size_t(diff)] + (1 << 11)) >> 12;
  if (hh < 0) hh += 180;
  h = hh;
}

// OpenCV's 8-bit HSV -> RGB: bytes to float (h * 6/180, s/255, v/255), sector formula, *255 rounded.
// This is the readable reference; augment_hsv uses the equivalent table below.
inline void hsv8_to_rgb(int h, int s, int v, uint8_t* rgb) {
  if (s == 0) {
    rgb[0] = rgb[1] = rgb[2] = uint8_t(v);
    return;
  }
  float hf = float(h) * (6.f / 180.f), sf = float(s) * (1.f / 255.f), vf = float(v) * (1.f / 255.f);
  if (hf >= 6.f) hf -= 6.f;
  int sector = int(hf);
  float f = hf - float(sector);
  if (sector < 0 || sector >= 6) sector = 0, f = 0;
  const float tab[4] = {vf, vf * (1.f - sf), vf * (1.f - sf * f), vf * (1.f - sf * (1.f - f))};
  // (r, g, b) indices into tab for the six sectors
  static constexpr int kSector[6][3] = {{0, 3, 1}, {2, 0, 1}, {1, 0, 3}, {1, 2, 0}, {3, 1, 0}, {0, 1, 2}};
  for (int k = 0; k < 3; ++k) rgb[k] = clamp_u8(tab[kSector[sector][k]] * 255.f);
}

// Every channel of hsv8_to_rgb is v times a factor of (h, s) alone: the factors for all
// 180 x 256 (h, s) pairs, in 1/32768 units, so a pixel costs three multiplies.
struct HsvToRgbTable {
  std::vector<uint16_t> g;  // [(h * 256 + s) * 3 + channel]
  HsvToRgbTable() : g(size_t(180) * 256 * 3) {
    static constexpr int kSector[6][3] = {{0, 3, 1}, {2, 0, 1}, {1, 0, 3}, {1, 2, 0}, {3, 1, 0}, {0, 1, 2}};
    for (int h = 0; h < 180; ++h)
      for (int s = 0; s < 256; ++s) {
        double hf = h * (6.0 / 180.0), sf = s / 255.0;
        int sector = std::min(int(hf), 5);
        double f = hf - sector;
        const double tab[4] = {1.0, 1.0 - sf, 1.0 - sf * f, 1.0 - sf * (1.0 - f)};
        for (int k = 0; k < 3; ++k)
          g[(size_t(h) * 256 + size_t(s)) * 3 + size_t(k)] = uint16_t(std::lround(tab[kSector[sector][k]] * 32768.0));
      }
  }
};

inline const HsvToRgbTable& hsv_to_rgb_table() {
  static const HsvToRgbTable t;  // immutable after construction (thread-safe static init)
  return t;
}

}  // namespace detail

// Applies gains to an RGB image (first 3 channels) in place, YOLOv5's augment_hsv: random
// gains r = U(-1, 1) * (hgain, sgain, vgain) + 1; H' = (H r0) mod 180, S' = clip(S r1),
// V' = clip(V r2), each through a 256-entry lookup table. No change when all gains are 0.
inline void augment_hsv(Image& img, Rng& rng, float hgain, float sgain, float vgain) {
  if (hgain == 0 && sgain == 0 && vgain == 0) return;
  YOLITE_CHECK(img.c >= 3, "augment_hsv: needs an RGB image, got ", img.c, " channel(s)");
  const double r0 = rng.uniform(-1, 1) * hgain + 1, r1 = rng.uniform(-1, 1) * sgain + 1,
               r2 = rng.uniform(-1, 1) * vgain + 1;
  std::array<uint8_t, 256> lh{}, ls{}, lv{};
  for (int i = 0; i < 256; ++i) {
    lh[size_t(i)] = uint8_t(int(std::fmod(i * r0, 180.0)));  // numpy: (x*r) % 180, then truncate
    ls[size_t(i)] = uint8_t(int(std::clamp(i * r1, 0.0, 255.0)));
    lv[size_t(i)] = uint8_t(int(std::clamp(i * r2, 0.0, 255.0)));
  }
  const auto& t = detail::hsv_tables();
  const auto& back = detail::hsv_to_rgb_table();
  const int c = img.c;
  const size_t n = size_t(img.w) * img.h;
  uint8_t* p = img.px.data();
  for (size_t i = 0; i < n; ++i, p += c) {
    const int r = p[0], g = p[1], b = p[2];
    if (r == g && g == b) {  // grey (padding, mostly): h = s = 0
      p[0] = p[1] = p[2] = lv[size_t(r)];  // s stays 0 (ls[0] = 0): grey whatever the hue
      continue;
    }
    int h, s, v;
    detail::rgb_to_hsv8(r, g, b, h, s, v, t);
    const uint16_t* f = &back.g[(size_t(lh[size_t(h)]) * 256 + ls[size_t(s)]) * 3];
    const uint32_t v2 = lv[size_t(v)];
    p[0] = uint8_t((v2 * f[0] + (1u << 14)) >> 15);
    p[1] = uint8_t((v2 * f[1] + (1u << 14)) >> 15);
    p[2] = uint8_t((v2 * f[2] + (1u << 14)) >> 15);
  }
}

// ---- flips ---------------------------------------------------------------------------------

inline void flip_lr_image(Image& img) {
  const int c = img.c;
  for (int y = 0; y < img.h; ++y) {
    uint8_t* r = img.row(y);
    if (c == 3) {
      for (int a = 0, b = img.w - 1; a < b; ++a, --b) {
        uint8_t* p = r + 3 * a;
        uint8_t* q = r + 3 * b;
        std::swap(p[0], q[0]), std::swap(p[1], q[1]), std::swap(p[2], q[2]);
      }
      continue;
    }
    for (int a = 0, b = img.w - 1; a < b; ++a, --b)
      for (int ch = 0; ch < c; ++ch) std::swap(r[size_t(a) * c + ch], r[size_t(b) * c + ch]);
  }
}

inline void flip_ud_image(Image& img) {
  const size_t bytes = size_t(img.w) * img.c;
  for (int a = 0, b = img.h - 1; a < b; ++a, --b) std::swap_ranges(img.row(a), img.row(a) + bytes, img.row(b));
}

// Left-right flip of an image and its normalised boxes (cx -> 1 - cx), mask too when given.
inline void flip_lr(Image& img, std::vector<Box>& boxes, Image* mask = nullptr) {
  flip_lr_image(img);
  if (mask) flip_lr_image(*mask);
  for (Box& b : boxes) b.cx = 1.f - b.cx;
}

// Up-down flip (cy -> 1 - cy).
inline void flip_ud(Image& img, std::vector<Box>& boxes, Image* mask = nullptr) {
  flip_ud_image(img);
  if (mask) flip_ud_image(*mask);
  for (Box& b : boxes) b.cy = 1.f - b.cy;
}

// ---- mixup ---------------------------------------------------------------------------------

// Gamma(a, 1) for a >= 1 (Marsaglia & Tsang), from the Rng's normal and uniform draws.
inline double sample_gamma(Rng& rng, double a) {
  YOLITE_CHECK(a >= 1.0, "sample_gamma: shape must be >= 1, got ", a);
  const double d = a - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x = rng.normal(), v = 1.0 + c * x;
    if (v <= 0) continue;
    v = v * v * v;
    double u = rng.uniform();
    if (u < 1e-300) continue;
    if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v;
  }
}

inline double sample_beta(Rng& rng, double a, double b) {
  double x = sample_gamma(rng, a), y = sample_gamma(rng, b);
  return x / (x + y);
}

// YOLOv5's mixup: img = uint8(img * r + other * (1 - r)), r ~ Beta(32, 32); boxes of both.
// Masks (when both given) are ORed. Returns r.
inline double mixup(Image& img, std::vector<PixelBox>& boxes, const Image& other,
                    const std::vector<PixelBox>& other_boxes, Rng& rng, Image* mask = nullptr,
                    const Image* other_mask = nullptr) {
  YOLITE_CHECK(img.w == other.w && img.h == other.h && img.c == other.c, "mixup: images differ in size (",
               img.w, "x", img.h, "x", img.c, " vs ", other.w, "x", other.h, "x", other.c, ")");
  const double r = sample_beta(rng, 32.0, 32.0);
  const float rf = float(r), qf = float(1.0 - r);
  for (size_t i = 0; i < img.px.size(); ++i) img.px[i] = uint8_t(int(img.px[i] * rf + other.px[i] * qf));
  boxes.insert(boxes.end(), other_boxes.begin(), other_boxes.end());
  if (mask && other_mask) {
    YOLITE_CHECK(mask->px.size() == other_mask->px.size(), "mixup: masks differ in size");
    for (size_t i = 0; i < mask->px.size(); ++i) mask->px[i] |= other_mask->px[i];
  }
  return r;
}

}  // namespace yolite::data
