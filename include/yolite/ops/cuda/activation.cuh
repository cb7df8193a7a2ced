// ops/cuda/activation.cuh -- SiLU and sigmoid, forward and backward, on device arrays.
//
//   ops::cuda::silu_forward(ctx, x, y, n);           // y = x * sigmoid(x)
//   ops::cuda::silu_backward(ctx, x, dy, dx, n);     // dx += dy * s * (1 + x * (1 - s))
//   ops::cuda::sigmoid_forward(ctx, x, y, n);        // y = 1 / (1 + exp(-x))
//   ops::cuda::sigmoid_backward(ctx, y, dy, dx, n);  // dx += dy * y * (1 - y)  (y = output)
// Same meaning as ops/cpu/activation.hpp; backward ACCUMULATES. CUDA sources only.
#pragma once
#include "common.cuh"

namespace yolite::ops::cuda {

namespace detail {
template <class T>
__device__ inline T sigmoid(T x) {
  return T(1) / (T(1) + exp_t(-x));
}
template <class T>
struct SiluF {
  const T* x;
  T* y;
  __device__ void operator()(int64_t i) const { y[i] = x[i] * sigmoid(x[i]); }
};
template <class T>
struct SiluBwdF {
  const T *x, *dy;
  T* dx;
  __device__ void operator()(int64_t i) const {
    const T s = sigmoid(x[i]);
    dx[i] += dy[i] * s * (T(1) + x[i] * (T(1) - s));
  }
};
template <class T>
struct SigmoidF {
  const T* x;
  T* y;
  __device__ void operator()(int64_t i) const { y[i] = sigmoid(x[i]); }
};
template <class T>
struct SigmoidBwdF {
  const T *y, *dy;
  T* dx;
  __device__ void operator()(int64_t i) const { dx[i] += dy[i] * y[i] * (T(1) - y[i]); }
};
}  // namespace detail

template <class T>
void silu_forward(Context& ctx, const T* x, T* y, int64_t n) {
  detail::map(ctx, n, detail::SiluF<T>{x, y});
}
template <class T>
void silu_backward(Context& ctx, const T* x, const T* dy, T* dx, int64_t n) {
  detail::map(ctx, n, detail::SiluBwdF<T>{x, dy, dx});
}
template <class T>
void sigmoid_forward(Context& ctx, const T* x, T* y, int64_t n) {
  detail::map(ctx, n, detail::SigmoidF<T>{x, y});
}
template <class T>
void sigmoid_backward(Context& ctx, const T* y, const T* dy, T* dx, int64_t n) {
  detail::map(ctx, n, detail::SigmoidBwdF<T>{y, dy, dx});
}

}  // namespace yolite::ops::cuda
