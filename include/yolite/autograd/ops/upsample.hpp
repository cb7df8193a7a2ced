// autograd/ops/upsample.hpp -- differentiable nearest-neighbour 2x upsampling.
//
//   Var<float> y = ag::upsample_nearest2x(x);   // [N,C,H,W] -> [N,C,2H,2W]
//
// Each input pixel is copied into a 2x2 block; backward sums the block's gradient.
// Kernels: ops/cpu/upsample.hpp.
#pragma once
#include "../../core/error.hpp"
#include "../../ops/cpu/upsample.hpp"
#include "../variable.hpp"

namespace yolite::ag {

template <class T>
Var<T> upsample_nearest2x(const Var<T>& x) {
  YOLITE_CHECK(x.defined(), "ag::upsample_nearest2x: undefined input");
  const Shape& s = x.shape();
  YOLITE_CHECK(s.ndim() == 4, "ag::upsample_nearest2x: expected [N,C,H,W], got ", s.str());
  const int64_t P = s[0] * s[1];
  const int H = int(s[2]), W = int(s[3]);
  Tensor<T> y = Tensor<T>::uninit({s[0], s[1], 2 * s[2], 2 * s[3]});
  ops::upsample_nearest2x_forward(x.value().data(), P, H, W, y.data());
  return make_result<T>(std::move(y), {x}, "upsample_nearest2x", [P, H, W](Node<T>& self) {
    if (Tensor<T>* g = grad_of(self, 0))
      ops::upsample_nearest2x_backward(self.grad.data(), P, H, W, g->data());
  });
}

}  // namespace yolite::ag
