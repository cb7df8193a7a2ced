// autograd/ops/elementwise.hpp -- differentiable add, mul and scale of same-shape tensors.
//
//   Var<float> y = ag::add(a, b);      // a + b     (no broadcasting: shapes must match)
//   Var<float> z = ag::mul(a, b);      // a * b
//   Var<float> h = ag::scale(a, 0.5f); // a * 0.5
//
// Backward: da += dy, db += dy (add); da += dy*b, db += dy*a (mul); da += s*dy (scale).
#pragma once
#include "../../core/error.hpp"
#include "../../ops/cpu/elementwise.hpp"
#include "../variable.hpp"

namespace yolite::ag {

namespace detail {
template <class T>
void check_same_shape(const Var<T>& a, const Var<T>& b, const char* op) {
  YOLITE_CHECK(a.defined() && b.defined(), op, ": undefined input");
  YOLITE_CHECK(a.shape() == b.shape(), op, ": shape mismatch, a ", a.shape().str(), " vs b ",
               b.shape().str(), " (expected equal shapes)");
}
}  // namespace detail

template <class T>
Var<T> add(const Var<T>& a, const Var<T>& b) {
  detail::check_same_shape(a, b, "ag::add");
  Tensor<T> y = Tensor<T>::uninit(a.shape());
  ops::add(a.value().data(), b.value().data(), y.data(), y.numel());
  return make_result<T>(std::move(y), {a, b}, "add", [](Node<T>& self) {
    const int64_t n = self.grad.numel();
    for (size_t i = 0; i < 2; ++i) {
      bool fresh = false;
      if (Tensor<T>* g = grad_for_write(self, i, &fresh)) {
        if (fresh)
          ops::copy(self.grad.data(), g->data(), n);
        else
          ops::accumulate(g->data(), self.grad.data(), n);
      }
    }
  });
}

template <class T>
Var<T> mul(const Var<T>& a, const Var<T>& b) {
  detail::check_same_shape(a, b, "ag::mul");
  Tensor<T> y = Tensor<T>::uninit(a.shape());
  ops::mul(a.value().data(), b.value().data(), y.data(), y.numel());
  Tensor<T> av = a.value(), bv = b.value();
  return make_result<T>(std::move(y), {a, b}, "mul", [av, bv](Node<T>& self) {
    const int64_t n = self.grad.numel();
    if (Tensor<T>* g = grad_of(self, 0)) ops::accumulate_mul(g->data(), self.grad.data(), bv.data(), n);
    if (Tensor<T>* g = grad_of(self, 1)) ops::accumulate_mul(g->data(), self.grad.data(), av.data(), n);
  });
}

template <class T>
Var<T> scale(const Var<T>& a, T s) {
  YOLITE_CHECK(a.defined(), "ag::scale: undefined input");
  Tensor<T> y = Tensor<T>::uninit(a.shape());
  ops::scale(a.value().data(), s, y.data(), y.numel());
  return make_result<T>(std::move(y), {a}, "scale", [s](Node<T>& self) {
    if (Tensor<T>* g = grad_of(self, 0))
      ops::accumulate_scaled(g->data(), self.grad.data(), s, self.grad.numel());
  });
}

}  // namespace yolite::ag
