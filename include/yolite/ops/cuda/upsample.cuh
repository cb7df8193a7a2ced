// ops/cuda/upsample.cuh -- nearest-neighbour 2x upsampling of P = N*C planes of H x W.
//
//   ops::cuda::upsample_nearest2x_forward(ctx, x, P, H, W, y);    // y[p, oh, ow] = x[p, oh/2, ow/2]
//   ops::cuda::upsample_nearest2x_backward(ctx, dy, P, H, W, dx); // dx[p, h, w] += its 2x2 block
// Backward gathers (one thread per input element adds its four gradients in the CPU
// reference's order), so there are no atomics and the result matches ops/cpu bit for bit.
// CUDA sources only.
#pragma once
#include "common.cuh"

namespace yolite::ops::cuda {

namespace detail {
template <class T>
struct Up2F {
  const T* x;
  T* y;
  int H, W;
  __device__ void operator()(int64_t j) const {  // j over the output
    const int W2 = 2 * W;
    const int64_t row = j / W2;
    const int ow = int(j % W2), oh = int(row % (2 * H));
    const int64_t p = row / (2 * H);
    y[j] = x[(p * H + oh / 2) * W + ow / 2];
  }
};
template <class T>
struct Up2BwdF {
  const T* dy;
  T* dx;
  int H, W;
  __device__ void operator()(int64_t j) const {  // j over the input
    const int w = int(j % W);
    const int64_t row = j / W;
    const int h = int(row % H);
    const int64_t p = row / H;
    const int64_t W2 = 2 * int64_t(W);
    const T* d0 = dy + (p * 2 * H + 2 * h) * W2 + 2 * w;
    T acc = dx[j];
    acc += d0[0];
    acc += d0[1];
    acc += d0[W2];
    acc += d0[W2 + 1];
    dx[j] = acc;
  }
};
}  // namespace detail

template <class T>
void upsample_nearest2x_forward(Context& ctx, const T* x, int64_t P, int H, int W, T* y) {
  YOLITE_CHECK(P >= 0 && H > 0 && W > 0, "ops::cuda::upsample_nearest2x_forward: bad sizes P=", P,
               " H=", H, " W=", W);
  detail::map(ctx, P * 4 * H * W, detail::Up2F<T>{x, y, H, W});
}

template <class T>
void upsample_nearest2x_backward(Context& ctx, const T* dy, int64_t P, int H, int W, T* dx) {
  YOLITE_CHECK(P >= 0 && H > 0 && W > 0, "ops::cuda::upsample_nearest2x_backward: bad sizes P=",
               P, " H=", H, " W=", W);
  detail::map(ctx, P * H * W, detail::Up2BwdF<T>{dy, dx, H, W});
}

}  // namespace yolite::ops::cuda
