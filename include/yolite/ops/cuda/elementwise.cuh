// ops/cuda/elementwise.cuh -- elementwise arithmetic on device arrays of n values.
//
//   ops::cuda::add(ctx, a, b, y, n);                 // y = a + b
//   ops::cuda::mul(ctx, a, b, y, n);                 // y = a * b
//   ops::cuda::scale(ctx, a, s, y, n);               // y = s * a
//   ops::cuda::accumulate(ctx, dst, src, n);         // dst += src
//   ops::cuda::accumulate_scaled(ctx, dst, src, s, n);  // dst += s * src
//   ops::cuda::accumulate_mul(ctx, dst, a, b, n);    // dst += a * b
// Same meaning as ops/cpu/elementwise.hpp (y may alias a or b). CUDA sources only.
#pragma once
#include "common.cuh"

namespace yolite::ops::cuda {

namespace detail {
template <class T>
struct AddF {
  const T *a, *b;
  T* y;
  __device__ void operator()(int64_t i) const { y[i] = a[i] + b[i]; }
};
template <class T>
struct MulF {
  const T *a, *b;
  T* y;
  __device__ void operator()(int64_t i) const { y[i] = a[i] * b[i]; }
};
template <class T>
struct ScaleF {
  const T* a;
  T s;
  T* y;
  __device__ void operator()(int64_t i) const { y[i] = a[i] * s; }
};
template <class T>
struct AccF {
  T* d;
  const T* s;
  __device__ void operator()(int64_t i) const { d[i] += s[i]; }
};
template <class T>
struct AccScaledF {
  T* d;
  const T* s;
  T k;
  __device__ void operator()(int64_t i) const { d[i] += k * s[i]; }
};
template <class T>
struct AccMulF {
  T* d;
  const T *a, *b;
  __device__ void operator()(int64_t i) const { d[i] += a[i] * b[i]; }
};
}  // namespace detail

template <class T>
void add(Context& ctx, const T* a, const T* b, T* y, int64_t n) {
  detail::map(ctx, n, detail::AddF<T>{a, b, y});
}
template <class T>
void mul(Context& ctx, const T* a, const T* b, T* y, int64_t n) {
  detail::map(ctx, n, detail::MulF<T>{a, b, y});
}
template <class T>
void scale(Context& ctx, const T* a, T s, T* y, int64_t n) {
  detail::map(ctx, n, detail::ScaleF<T>{a, s, y});
}
template <class T>
void accumulate(Context& ctx, T* dst, const T* src, int64_t n) {
  detail::map(ctx, n, detail::AccF<T>{dst, src});
}
template <class T>
void accumulate_scaled(Context& ctx, T* dst, const T* src, T s, int64_t n) {
  detail::map(ctx, n, detail::AccScaledF<T>{dst, src, s});
}
template <class T>
void accumulate_mul(Context& ctx, T* dst, const T* a, const T* b, int64_t n) {
  detail::map(ctx, n, detail::AccMulF<T>{dst, a, b});
}

}  // namespace yolite::ops::cuda
