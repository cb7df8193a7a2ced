// infer/augment.hpp -- test-time augmentation: YOLOv5's `--augment` for val and detect.
//
// The letterboxed batch is run three times -- as it is, mirrored and shrunk to 0.83, and
// shrunk to 0.67 -- and the three sets of predictions, mapped back to the input's pixels, go
// to NMS together. Shrinking lets the model see large objects at sizes it knows better; the
// mirror adds a second look. As YOLOv5's _clip_augmented does, the full-size pass drops its
// P5 (largest-object) rows and the 0.67 pass its P3 (smallest-object) rows: those are the
// predictions each pass makes worst. Exactly YOLOv5's recipe (models/yolo.py,
// _forward_augment, scale_img, _descale_pred):
//
//   scales 1, 0.83, 0.67; flips none, left-right, none
//   scale_img: bilinear resize to (int(h * s), int(w * s)) (align_corners = False), then pad
//              right and bottom with 0.447 to a multiple of the largest stride
//   descale:   x, y, w, h /= s; a mirrored pass maps x back to W - x
//
//   Tensor<float> pred = yolite::forward_augment(model, x);   // [B, N', 5 + nc], then NMS
//
// It costs about 2.3x the pixels of a plain forward (at 320: 320^2 + 288^2 + 224^2 after padding).
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "../model/yolo.hpp"
#include "../ops/cpu/resize.hpp"

namespace yolite {

namespace tta {

// The batch mirrored left-right.
inline Tensor<float> flip_lr(const Tensor<float>& x) {
  YOLITE_CHECK(x.ndim() == 4, "flip_lr: expected [B, C, H, W], got ", x.shape().str());
  const int64_t rows = x.size(0) * x.size(1) * x.size(2), W = x.size(3);
  Tensor<float> out = Tensor<float>::uninit(x.shape());
  for (int64_t r = 0; r < rows; ++r)
    std::reverse_copy(x.data() + r * W, x.data() + (r + 1) * W, out.data() + r * W);
  return out;
}

// YOLOv5's scale_img(img, ratio, same_shape=False, gs): resized by `ratio`, padded right and
// bottom with 0.447 (ImageNet's mean) to a multiple of gs.
inline Tensor<float> scale_img(const Tensor<float>& x, double ratio, int gs) {
  if (ratio == 1.0) return x;
  const int64_t H = x.size(2), W = x.size(3);
  const int64_t h = int64_t(double(H) * ratio), w = int64_t(double(W) * ratio);
  Tensor<float> r = ops::resize_bilinear(x, h, w);  // F.interpolate, bilinear
  const int64_t ph = int64_t(std::ceil(double(H) * ratio / gs)) * gs, pw = int64_t(std::ceil(double(W) * ratio / gs)) * gs;
  Tensor<float> out(Shape({x.size(0), x.size(1), ph, pw}), 0.447f);
  for (int64_t p = 0; p < x.size(0) * x.size(1); ++p)
    for (int64_t y = 0; y < h; ++y)
      std::copy(r.data() + (p * h + y) * w, r.data() + (p * h + y + 1) * w, out.data() + (p * ph + y) * pw);
  return out;
}

}  // namespace tta

// Decoded predictions [B, N', 5 + nc] for the letterboxed batch x [B, 3, H, W] with YOLOv5's
// test-time augmentation (see the file comment), in x's pixels. Runs without a graph; the model
// should be in eval mode.
inline Tensor<float> forward_augment(model::YoloModel& m, const Tensor<float>& x) {
  YOLITE_CHECK(x.ndim() == 4, "forward_augment: expected [B, 3, H, W], got ", x.shape().str());
  static constexpr std::array<double, 3> kScales = {1.0, 0.83, 0.67};
  static constexpr std::array<bool, 3> kFlip = {false, true, false};
  NoGradGuard ng;
  const int gs = int(m.max_stride());
  const int64_t B = x.size(0), W = x.size(3);
  std::vector<Tensor<float>> parts;
  std::vector<int64_t> first, last;  // the rows of each pass that are kept
  for (size_t k = 0; k < kScales.size(); ++k) {
    Tensor<float> xi = tta::scale_img(kFlip[k] ? tta::flip_lr(x) : x, kScales[k], gs);
    std::vector<Var<float>> raw = m.forward_raw(Var<float>(xi));
    std::vector<int64_t> rows;  // rows per level, in decode's order
    for (auto& r : raw) rows.push_back(int64_t(m.num_anchors()) * r.value().size(2) * r.value().size(3));
    Tensor<float> y = m.detect().decode(raw);
    const int64_t N = y.size(1), no = y.size(2);
    const float inv = float(1.0 / kScales[k]);
    for (int64_t i = 0; i < B * N; ++i) {
      float* d = y.data() + i * no;
      d[0] *= inv, d[1] *= inv, d[2] *= inv, d[3] *= inv;
      if (kFlip[k]) d[0] = float(W) - d[0];
    }
    int64_t lo = 0, hi = N;
    if (k == 0) hi -= rows.back();               // the full-size pass without its largest-object level
    if (k + 1 == kScales.size()) lo += rows[0];  // the smallest pass without its smallest-object level
    parts.push_back(std::move(y));
    first.push_back(lo), last.push_back(hi);
  }
  int64_t total = 0;
  for (size_t k = 0; k < parts.size(); ++k) total += last[k] - first[k];
  const int64_t no = parts[0].size(2);
  Tensor<float> out = Tensor<float>::uninit(Shape({B, total, no}));
  for (int64_t b = 0; b < B; ++b) {
    float* dst = out.data() + b * total * no;
    for (size_t k = 0; k < parts.size(); ++k) {
      const int64_t N = parts[k].size(1);
      const float* src = parts[k].data() + (b * N + first[k]) * no;
      dst = std::copy(src, src + (last[k] - first[k]) * no, dst);
    }
  }
  return out;
}

}  // namespace yolite
