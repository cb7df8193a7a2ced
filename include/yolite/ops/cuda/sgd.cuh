// ops/cuda/sgd.cuh -- the SGD parameter update of optim/sgd.hpp for one device tensor.
//
//   ops::cuda::sgd_step(ctx, p, g, buf, n, lr, momentum, weight_decay, nesterov, first);
// Per element, in T arithmetic and torch's order (dampening 0):
//   d = g + weight_decay * p;   buf = first ? d : momentum * buf + d   (skipped if buf == null)
//   d = nesterov ? d + momentum * buf : buf;   p = p - lr * d
// `first` is true on the parameter's first step (the buffer is then just d). Pass buf =
// nullptr when momentum is 0. CUDA sources only.
#pragma once
#include "common.cuh"

namespace yolite::ops::cuda {

namespace detail {
template <class T>
struct SgdF {
  T* p;
  const T* g;
  T* buf;
  T lr, m, wd;
  bool nesterov, first;
  __device__ void operator()(int64_t i) const {
    T d = g[i];
    if (wd != T(0)) d = d + wd * p[i];
    if (buf) {
      buf[i] = first ? d : buf[i] * m + d;
      d = nesterov ? d + m * buf[i] : buf[i];
    }
    p[i] = p[i] + (-lr) * d;
  }
};
}  // namespace detail

template <class T>
void sgd_step(Context& ctx, T* p, const T* g, T* buf, int64_t n, double lr, double momentum,
              double weight_decay, bool nesterov, bool first) {
  YOLITE_CHECK(lr >= 0 && momentum >= 0 && weight_decay >= 0, "ops::cuda::sgd_step: lr ", lr,
               ", momentum ", momentum, ", weight_decay ", weight_decay, "; expected values >= 0");
  detail::map(ctx, n, detail::SgdF<T>{p, g, buf, T(lr), T(momentum), T(weight_decay), nesterov,
                                      first});
}

}  // namespace yolite::ops::cuda
