// autograd/ops/reduce.hpp -- differentiable sum and mean of all elements.
//
//   Var<float> s = ag::sum(x);    // shape [1]
//   Var<float> m = ag::mean(x);   // shape [1], sum / numel
//
// Sums accumulate in double in a thread-count independent order (ops/cpu/reduce.hpp).
// Backward broadcasts: dx += ds (sum) or dx += dm / numel (mean).
#pragma once
#include "../../core/error.hpp"
#include "../../ops/cpu/elementwise.hpp"
#include "../../ops/cpu/reduce.hpp"
#include "../variable.hpp"

namespace yolite::ag {

namespace detail {
template <class T>
Var<T> scaled_sum(const Var<T>& x, double k, const char* op) {
  YOLITE_CHECK(x.defined(), op, ": undefined input");
  Tensor<T> y({1});
  y[0] = T(ops::sum(x.value().data(), x.value().numel()) * k);
  const int64_t n = x.value().numel();
  return make_result<T>(std::move(y), {x}, op, [n, k](Node<T>& self) {
    if (Tensor<T>* g = grad_of(self, 0)) {
      const T v = T(double(self.grad[0]) * k);
      T* d = g->data();
      ops::for_blocks(n, [&](int64_t s, int64_t e) {
        for (int64_t i = s; i < e; ++i) d[i] += v;
      });
    }
  });
}
}  // namespace detail

template <class T>
Var<T> sum(const Var<T>& x) {
  return detail::scaled_sum(x, 1.0, "sum");
}

template <class T>
Var<T> mean(const Var<T>& x) {
  YOLITE_CHECK(x.defined() && x.value().numel() > 0, "ag::mean: empty or undefined input");
  return detail::scaled_sum(x, 1.0 / double(x.value().numel()), "mean");
}

}  // namespace yolite::ag
