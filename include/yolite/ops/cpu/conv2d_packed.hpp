// ops/cpu/conv2d_packed.hpp -- a float convolution's weights prepared once for many forward calls
// (inference: nn::Conv::fuse() keeps one per fused Conv block).
//
//   auto pw = ops::fast::pack_conv2d_weights(p, w);        // p: C, K, R, S, stride, pad used
//   ops::fast::conv2d_forward_packed(p, x, pw, b, y, ops::ConvAct::silu);   // any N, H, W
//
// Two forms, chosen by pack_conv2d_weights:
//   - 3x3 pad-1 convolutions of stride 1 or 2 (winograd::applies): U = G g G^T of the
//     Winograd-style algorithms of cpu/conv2d_winograd.hpp, run by winograd::forward -- 2.25x
//     (stride 1) and 1.44x (stride 2) fewer multiply-adds;
//   - every other shape: the direct (shifted GEMM) kernel's A panels (cpu/conv2d_fast.hpp).
//     Packing costs a read and a write of the whole weight tensor -- at batch 1 and small maps
//     (yolov5s's 10x10 layers) a good part of the layer's time -- so it is done once here.
// Algo::direct forces the second form (benchmarks, and tests that need the direct kernel).
#pragma once
#include <vector>

#include "../../core/error.hpp"
#include "conv2d.hpp"
#include "conv2d_fast.hpp"
#include "conv2d_winograd.hpp"

namespace yolite::ops::fast {

struct PackedConvWeights {
  enum class Algo { automatic, direct, winograd };
  int C = 0, K = 0, R = 0, S = 0, stride = 0, pad = 0;  // the convolution it was packed for
  Algo algo = Algo::direct;                             // direct or winograd once packed
  std::vector<float> panels;  // detail::forward_plan's layout, or winograd::Plan's
  bool matches(const Conv2dParams& p) const {
    return p.C == C && p.K == K && p.R == R && p.S == S && p.stride == stride && p.pad == pad;
  }
};

inline PackedConvWeights pack_conv2d_weights(
    const Conv2dParams& p, const float* w,
    PackedConvWeights::Algo algo = PackedConvWeights::Algo::automatic) {
  using Algo = PackedConvWeights::Algo;
  PackedConvWeights pw;
  pw.C = p.C, pw.K = p.K, pw.R = p.R, pw.S = p.S, pw.stride = p.stride, pw.pad = p.pad;
  const bool wino = algo == Algo::winograd || (algo == Algo::automatic && winograd::applies(p));
  YOLITE_CHECK(!wino || (p.R == 3 && p.S == 3 && (p.stride == 1 || p.stride == 2) && p.pad == 1),
               "pack_conv2d_weights: the Winograd form needs a 3x3 pad-1 convolution of stride 1 "
               "or 2, got ", p.R, "x", p.S, " stride ", p.stride, " pad ", p.pad);
  if (wino) {
    pw.algo = Algo::winograd;
    pw.panels.resize(size_t(winograd::packed_size(p)));
    winograd::pack_weights(p, w, pw.panels.data());
    return pw;
  }
  pw.algo = Algo::direct;
  const detail::ForwardPlan plan = detail::forward_plan(p);
  pw.panels.resize(size_t(plan.Mpad * plan.CRS));
  const int64_t CRS = plan.CRS;
  auto pack_w = [&](int r0, int m, int64_t k0, int kc, float* dst) {
    detail::pack_a(w + r0 * CRS + k0, CRS, 1, m, kc, dst);  // as conv2d_forward packs
  };
  for (int64_t jb = 0; jb < plan.nkb * plan.mpan; ++jb)
    detail::pack_forward_job(plan, p.K, jb, pack_w, pw.panels.data());
  return pw;
}

// y = act(conv(x, w) + b) with w prepared by pack_conv2d_weights for the same C, K, kernel,
// stride and padding (throws yolite::Error otherwise).
inline void conv2d_forward_packed(const Conv2dParams& p, const float* x,
                                  const PackedConvWeights& pw, const float* b, float* y,
                                  ConvAct act = ConvAct::none) {
  YOLITE_CHECK(pw.matches(p), "conv2d_forward_packed: weights packed for C=", pw.C, " K=", pw.K,
               " ", pw.R, "x", pw.S, " stride ", pw.stride, " pad ", pw.pad,
               ", called with C=", p.C, " K=", p.K, " ", p.R, "x", p.S, " stride ", p.stride,
               " pad ", p.pad);
  if (pw.algo == PackedConvWeights::Algo::winograd) {
    winograd::forward(p, x, pw.panels.data(), b, y, act);
    return;
  }
  detail::shift_conv(p, x, [](int, int, int64_t, int, float*) {}, b, y, false,
                     pw.panels.data(), act);
}

}  // namespace yolite::ops::fast
