// ops/cpu/resize.hpp -- bilinear resize of an NCHW float tensor (no gradient).
//
//   Tensor<float> y = ops::resize_bilinear(x, oh, ow);   // [B, C, H, W] -> [B, C, oh, ow]
//
// PyTorch's F.interpolate(x, size=(oh, ow), mode='bilinear', align_corners=False), which
// YOLOv5 uses for test-time augmentation (scale_img) and for --multi-scale training: the
// source coordinate of output pixel d is (d + 0.5) * in / out - 0.5, clamped at 0; its right
// and bottom neighbours are clamped to the last column and row. Planes run in parallel; each
// output value is computed by the same expression whatever the thread count.
// (Images as uint8 are resized by data/image_io.hpp's area and bilinear kernels.)
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "../../core/error.hpp"
#include "../../core/parallel.hpp"
#include "../../core/tensor.hpp"

namespace yolite::ops {

inline Tensor<float> resize_bilinear(const Tensor<float>& x, int64_t oh, int64_t ow) {
  YOLITE_CHECK(x.ndim() == 4, "resize_bilinear: expected [B, C, H, W], got ", x.shape().str());
  YOLITE_CHECK(oh > 0 && ow > 0, "resize_bilinear: bad output size ", oh, "x", ow);
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  Tensor<float> out = Tensor<float>::uninit(Shape({B, C, oh, ow}));
  struct Tap {
    int64_t i0, i1;  // the two source rows (or columns)
    float l1;        // weight of i1
  };
  auto taps = [](int64_t in, int64_t n) {
    std::vector<Tap> t(static_cast<size_t>(n));
    const float scale = float(in) / float(n);
    for (int64_t d = 0; d < n; ++d) {
      const float src = std::max(0.0f, (float(d) + 0.5f) * scale - 0.5f);
      const int64_t i0 = std::min(int64_t(src), in - 1);
      t[size_t(d)] = {i0, std::min(i0 + 1, in - 1), src - float(i0)};
    }
    return t;
  };
  const std::vector<Tap> ty = taps(H, oh), tx = taps(W, ow);
  parallel_for(0, B * C, [&](int64_t p) {
    const float* src = x.data() + p * H * W;
    float* dst = out.data() + p * oh * ow;
    for (int64_t y = 0; y < oh; ++y) {
      const Tap& a = ty[size_t(y)];
      const float* r0 = src + a.i0 * W;
      const float* r1 = src + a.i1 * W;
      for (int64_t xx = 0; xx < ow; ++xx) {
        const Tap& b = tx[size_t(xx)];
        const float top = (1.0f - b.l1) * r0[b.i0] + b.l1 * r0[b.i1];
        const float bottom = (1.0f - b.l1) * r1[b.i0] + b.l1 * r1[b.i1];
        dst[y * ow + xx] = (1.0f - a.l1) * top + a.l1 * bottom;
      }
    }
  });
  return out;
}

}  // namespace yolite::ops
