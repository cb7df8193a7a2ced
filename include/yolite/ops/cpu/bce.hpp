// ops/cpu/bce.hpp -- binary cross-entropy on logits, elementwise (PyTorch BCEWithLogitsLoss).
//
// For logit x, target t and positive weight pw (weight on the t=1 term):
//   loss = (1 - t) * x + (1 + (pw - 1) * t) * (log1p(exp(-|x|)) + max(-x, 0))
// which is -[pw * t * log(sigmoid(x)) + (1 - t) * log(1 - sigmoid(x))] written so that no
// exp overflows for large |x|. Its derivative is (1 - t) + (1 + (pw - 1) * t) * (sigmoid(x) - 1).
//
//   double s = ops::bce_with_logits_sum(x, t, n, pw);           // sum of the losses
//   ops::bce_with_logits_backward(x, t, n, pw, g, dx);         // dx += g * dloss/dx
//
// ops::ref:: are the plain loops; ops:: splits into fixed blocks run in parallel (OpenMP,
// static), block sums added in order (thread-count independent).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "elementwise.hpp"

namespace yolite::ops {

namespace ref {
template <class T>
double bce_with_logits_one(T x, T t, T pw) {
  const double xd = x, td = t;
  const double lw = 1.0 + (double(pw) - 1.0) * td;
  return (1.0 - td) * xd + lw * (std::log1p(std::exp(-std::abs(xd))) + std::max(-xd, 0.0));
}
template <class T>
double bce_with_logits_sum(const T* x, const T* t, int64_t n, T pw) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += bce_with_logits_one(x[i], t[i], pw);
  return s;
}
template <class T>
void bce_with_logits_backward(const T* x, const T* t, int64_t n, T pw, T g, T* dx) {
  for (int64_t i = 0; i < n; ++i) {
    const T lw = T(1) + (pw - T(1)) * t[i];
    const T sg = T(1) / (T(1) + std::exp(-x[i]));
    dx[i] += g * ((T(1) - t[i]) + lw * (sg - T(1)));
  }
}
}  // namespace ref

template <class T>
double bce_with_logits_sum(const T* x, const T* t, int64_t n, T pw) {
  const int64_t nb = (n + kBlock - 1) / kBlock;
  std::vector<double> part(static_cast<size_t>(nb));
  for_blocks(n, [&](int64_t s, int64_t e) {
    part[size_t(s / kBlock)] = ref::bce_with_logits_sum(x + s, t + s, e - s, pw);
  });
  double total = 0;
  for (double v : part) total += v;
  return total;
}

template <class T>
void bce_with_logits_backward(const T* x, const T* t, int64_t n, T pw, T g, T* dx) {
  for_blocks(n, [&](int64_t s, int64_t e) {
    ref::bce_with_logits_backward(x + s, t + s, e - s, pw, g, dx + s);
  });
}

}  // namespace yolite::ops
