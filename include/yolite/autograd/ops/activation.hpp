// autograd/ops/activation.hpp -- differentiable SiLU and sigmoid.
//
//   Var<float> y = ag::silu(x);      // x * sigmoid(x)    (YOLOv5's activation)
//   Var<float> p = ag::sigmoid(x);   // 1 / (1 + exp(-x))
//
// silu keeps its input for backward (dx += dy * s * (1 + x*(1-s))); sigmoid keeps its output
// (dx += dy * y * (1 - y)). Kernels: ops/cpu/activation.hpp.
#pragma once
#include "../../core/error.hpp"
#include "../../ops/cpu/activation.hpp"
#include "../variable.hpp"

namespace yolite::ag {

template <class T>
Var<T> silu(const Var<T>& x) {
  YOLITE_CHECK(x.defined(), "ag::silu: undefined input");
  Tensor<T> y = Tensor<T>::uninit(x.shape());
  ops::silu_forward(x.value().data(), y.data(), y.numel());
  Tensor<T> xv = x.value();
  return make_result<T>(std::move(y), {x}, "silu", [xv](Node<T>& self) {
    if (Tensor<T>* g = grad_of(self, 0))
      ops::silu_backward(xv.data(), self.grad.data(), g->data(), xv.numel());
  });
}

template <class T>
Var<T> sigmoid(const Var<T>& x) {
  YOLITE_CHECK(x.defined(), "ag::sigmoid: undefined input");
  Tensor<T> y = Tensor<T>::uninit(x.shape());
  ops::sigmoid_forward(x.value().data(), y.data(), y.numel());
  Tensor<T> yv = y;  // shallow: the result's own value
  return make_result<T>(std::move(y), {x}, "sigmoid", [yv](Node<T>& self) {
    if (Tensor<T>* g = grad_of(self, 0))
      ops::sigmoid_backward(yv.data(), self.grad.data(), g->data(), yv.numel());
  });
}

}  // namespace yolite::ag
