// ops/cuda/maxpool.cuh -- 2-D max pooling (NCHW) on the GPU; padding counts as -inf.
//
//   ops::Pool2dParams p{N, C, H, W, k, stride, pad};
//   ops::cuda::max_pool2d_forward(ctx, p, x, y, idx);   // y[N,C,OH,OW], idx = argmax h*W + w
//   ops::cuda::max_pool2d_backward(ctx, p, dy, idx, dx); // dx[plane][idx] += dy (ACCUMULATES)
// Same rules as ops/cpu/maxpool.hpp: ties go to the first maximum in row-major window order.
// Backward gathers instead of scattering: one thread per input element visits the outputs
// whose window covers it, in row-major order, and adds the gradients of those that chose it.
// No atomics, and the sums happen in the CPU reference's order. CUDA sources only.
#pragma once
#include <cstdint>

#include "../cpu/maxpool.hpp"
#include "common.cuh"

namespace yolite::ops::cuda {

namespace detail {
struct PoolDims {
  int H, W, k, stride, pad, OH, OW;
};

template <class T>
struct MaxPoolF {
  PoolDims d;
  const T* x;
  T* y;
  int32_t* idx;
  __device__ void operator()(int64_t j) const {  // j over the output
    const int ow = int(j % d.OW);
    const int64_t row = j / d.OW;
    const int oh = int(row % d.OH);
    const int64_t q = row / d.OH;
    const T* plane = x + q * d.H * d.W;
    T best = T(0);
    int32_t bi = -1;
    for (int r = 0; r < d.k; ++r) {
      const int ih = oh * d.stride - d.pad + r;
      if (ih < 0 || ih >= d.H) continue;
      for (int s = 0; s < d.k; ++s) {
        const int iw = ow * d.stride - d.pad + s;
        if (iw < 0 || iw >= d.W) continue;
        const T v = plane[ih * d.W + iw];
        if (bi < 0 || v > best) {
          best = v;
          bi = ih * d.W + iw;
        }
      }
    }
    y[j] = best;
    if (idx) idx[j] = bi;
  }
};

template <class T>
struct MaxPoolBwdF {
  PoolDims d;
  const T* dy;
  const int32_t* idx;
  T* dx;
  __device__ void operator()(int64_t j) const {  // j over the input
    const int iw = int(j % d.W);
    const int64_t row = j / d.W;
    const int ih = int(row % d.H);
    const int64_t q = row / d.H;
    const int32_t me = ih * d.W + iw;
    // Outputs oh with oh*stride - pad <= ih <= oh*stride - pad + k - 1.
    const int t_h = ih + d.pad, t_w = iw + d.pad;
    const int oh_lo = t_h - d.k + 1 <= 0 ? 0 : (t_h - d.k + 1 + d.stride - 1) / d.stride;
    const int oh_hi = min(t_h / d.stride, d.OH - 1);
    const int ow_lo = t_w - d.k + 1 <= 0 ? 0 : (t_w - d.k + 1 + d.stride - 1) / d.stride;
    const int ow_hi = min(t_w / d.stride, d.OW - 1);
    const int64_t obase = q * d.OH * d.OW;
    T acc = dx[j];
    for (int oh = oh_lo; oh <= oh_hi; ++oh)
      for (int ow = ow_lo; ow <= ow_hi; ++ow) {
        const int64_t o = obase + int64_t(oh) * d.OW + ow;
        if (idx[o] == me) acc += dy[o];
      }
    dx[j] = acc;
  }
};

inline PoolDims pool_dims(const Pool2dParams& p) {
  p.validate();
  return PoolDims{p.H, p.W, p.k, p.stride, p.pad, p.OH(), p.OW()};
}
}  // namespace detail

// idx may be nullptr at inference (no backward).
template <class T>
void max_pool2d_forward(Context& ctx, const Pool2dParams& p, const T* x, T* y, int32_t* idx) {
  const auto d = detail::pool_dims(p);
  detail::map(ctx, int64_t(p.N) * p.C * d.OH * d.OW, detail::MaxPoolF<T>{d, x, y, idx});
}

template <class T>
void max_pool2d_backward(Context& ctx, const Pool2dParams& p, const T* dy, const int32_t* idx,
                         T* dx) {
  const auto d = detail::pool_dims(p);
  detail::map(ctx, int64_t(p.N) * p.C * p.H * p.W, detail::MaxPoolBwdF<T>{d, dy, idx, dx});
}

}  // namespace yolite::ops::cuda
