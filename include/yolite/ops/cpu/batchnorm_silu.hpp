// ops/cpu/batchnorm_silu.hpp -- batch normalisation followed by SiLU in one pass (NCHW).
//
// YOLOv5's Conv block ends in BN -> SiLU. Done as two ops, a training step streams every
// activation through memory five times forward (stats, BN read + write, SiLU read + write) and
// about twelve times backward, and keeps the BN output z alive for SiLU's backward. Both are
// memory bound, so fusing them is pure gain:
//   z = (x - mean[c]) * invstd[c] * gamma[c] + beta[c]          (never stored)
//   y = z * sigmoid(z)
//   ops::batchnorm_silu_forward(x, N, C, HW, mean, invstd, gamma, beta, y);
//   ops::batchnorm_silu_backward(x, dy, N, C, HW, mean, invstd, gamma, beta, training,
//                                dx, dgamma, dbeta);            // ACCUMULATES (+=), any may be null
//   (a last argument accumulate_dx = false writes dx instead: a fresh gradient buffer)
// Backward recomputes z from x (cheaper than storing it), forms
//   dz = dy * s * (1 + z * (1 - s)),   s = sigmoid(z)
// and then runs batch norm's backward on dz (ops/cpu/batchnorm.hpp has the formulas):
//   pass 1 (per plane): sum(dz), sum(dz * (x - mean))           (in double, fixed lanes)
//   pass 2 (per plane): dx += a*dz + b*(x - mean) + d            (dz recomputed, not stored)
// so x and dy are each read twice and dx once: 6 array passes instead of 12.
// The statistics themselves come from ops::batchnorm_stats.
//
// ops::ref:: composes the reference kernels of batchnorm.hpp and activation.hpp (it stores z
// and dz), which is exactly what the fused kernels must reproduce. The ops:: versions are
// deterministic for any thread count, like batchnorm.hpp's.
#pragma once
#include <cstdint>
#include <vector>

#include "activation.hpp"
#include "batchnorm.hpp"

namespace yolite::ops {

namespace ref {

template <class T>
void batchnorm_silu_forward(const T* x, int N, int C, int64_t HW, const T* mean, const T* invstd,
                            const T* gamma, const T* beta, T* y) {
  const int64_t n = int64_t(N) * C * HW;
  std::vector<T> z(static_cast<size_t>(n));
  ref::batchnorm_forward(x, N, C, HW, mean, invstd, gamma, beta, z.data());
  ref::silu_forward(z.data(), y, n);
}

template <class T>
void batchnorm_silu_backward(const T* x, const T* dy, int N, int C, int64_t HW, const T* mean,
                             const T* invstd, const T* gamma, const T* beta, bool training,
                             T* dx, T* dgamma, T* dbeta) {
  const int64_t n = int64_t(N) * C * HW;
  std::vector<T> z(static_cast<size_t>(n)), dz(static_cast<size_t>(n), T(0));
  ref::batchnorm_forward(x, N, C, HW, mean, invstd, gamma, beta, z.data());
  ref::silu_backward(z.data(), dy, dz.data(), n);
  ref::batchnorm_backward(x, dz.data(), N, C, HW, mean, invstd, gamma, training, dx, dgamma,
                          dbeta);
}

}  // namespace ref

namespace detail {
// d(silu)/dz * dy for z = (x - m) * a + b, the float loop the compiler vectorises.
template <class T>
inline T silu_grad_at(T xc, T a, T b, T g) {
  const T z = xc * a + b;
  const T s = sigmoid_fast(z);
  return g * s * (T(1) + z * (T(1) - s));
}
}  // namespace detail

template <class T>
void batchnorm_silu_forward(const T* x, int N, int C, int64_t HW, const T* mean, const T* invstd,
                            const T* gamma, const T* beta, T* y) {
  detail::normalize_planes(x, N, C, HW, mean, invstd, gamma, beta, y,
                           [](T z) { return z * sigmoid_fast(z); });
}

// accumulate_dx = false: dx is written (=) instead of added to (dgamma, dbeta still +=).
// sync: the whole batch's sums over the processes of a data-parallel job (batchnorm.hpp).
template <class T>
void batchnorm_silu_backward(const T* x, const T* dy, int N, int C, int64_t HW, const T* mean,
                             const T* invstd, const T* gamma, const T* beta, bool training,
                             T* dx, T* dgamma, T* dbeta, bool accumulate_dx = true,
                             const BnSync* sync = nullptr) {
  const double M = double(N) * double(HW);
  // pass 1: per plane sum(dz) and sum(dz * (x - mean))
  std::vector<double> s1(size_t(N) * C), s2(size_t(N) * C);
  for_planes(int64_t(N) * C, HW, [&](int64_t p) {
    const int c = int(p % C);
    const T a = invstd[c] * gamma[c], m = mean[c], b = beta[c];
    const T* xp = x + p * HW;
    const T* gp = dy + p * HW;
    double r1 = 0, r2 = 0;
#pragma omp simd reduction(+ : r1, r2)
    for (int64_t i = 0; i < HW; ++i) {
      const T xc = xp[i] - m;
      const double dz = double(detail::silu_grad_at(xc, a, b, gp[i]));
      r1 += dz;
      r2 += dz * double(xc);
    }
    s1[size_t(p)] = r1;
    s2[size_t(p)] = r2;
  });
  // per channel: dx += ka*dz + kb*(x - mean) + kd   (batchnorm_backward's coefficients)
  std::vector<T> ca(static_cast<size_t>(C)), cb(static_cast<size_t>(C)), cd(static_cast<size_t>(C));
  detail::backward_coefficients(s1, s2, N, C, M, invstd, gamma, training, dgamma, dbeta, ca, cb, cd, sync);
  if (!dx) return;
  // pass 2: dz recomputed from x and dy
  for_planes(int64_t(N) * C, HW, [&](int64_t p) {
    const int c = int(p % C);
    const T a = invstd[c] * gamma[c], m = mean[c], b = beta[c];
    const T ka = ca[size_t(c)], kb = cb[size_t(c)], kd = cd[size_t(c)];
    const T* xp = x + p * HW;
    const T* gp = dy + p * HW;
    T* dp = dx + p * HW;
    if (accumulate_dx) {
      for (int64_t i = 0; i < HW; ++i) {
        const T xc = xp[i] - m;
        dp[i] += ka * detail::silu_grad_at(xc, a, b, gp[i]) + kb * xc + kd;
      }
    } else {
      for (int64_t i = 0; i < HW; ++i) {
        const T xc = xp[i] - m;
        dp[i] = ka * detail::silu_grad_at(xc, a, b, gp[i]) + kb * xc + kd;
      }
    }
  });
}

}  // namespace yolite::ops
