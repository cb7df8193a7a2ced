// ops/cuda/ema.cuh -- the ModelEMA update of optim/ema.hpp for one device tensor.
//
//   double d = ema.decay_at(update_number);     // decay * (1 - exp(-u / tau)), on the host
//   ops::cuda::ema_update(ctx, v, m, n, d);     // v = d * v + (1 - d) * m, in T: v *= d; v += (1-d) m
// CUDA sources only.
#pragma once
#include "common.cuh"

namespace yolite::ops::cuda {

namespace detail {
template <class T>
struct EmaF {
  T* v;
  const T* m;
  T d, omd;
  __device__ void operator()(int64_t i) const {
    T a = v[i];
    a *= d;
    a += omd * m[i];
    v[i] = a;
  }
};
}  // namespace detail

template <class T>
void ema_update(Context& ctx, T* v, const T* m, int64_t n, double d) {
  YOLITE_CHECK(d >= 0 && d <= 1, "ops::cuda::ema_update: decay ", d, " outside [0, 1]");
  detail::map(ctx, n, detail::EmaF<T>{v, m, T(d), T(1.0 - d)});
}

}  // namespace yolite::ops::cuda
