// autograd/ops/maxpool.hpp -- differentiable 2-D max pooling.
//
//   Var<float> y = ag::max_pool2d(x, /*k=*/5, /*stride=*/1, /*pad=*/2);   // SPPF's pooling
//
// Padding counts as -inf; the gradient goes to each window's argmax (the first maximum in
// row-major window order on ties, like PyTorch). The forward pass stores the argmax indices
// (int32, one per output) for backward. Kernels: ops/cpu/maxpool.hpp.
#pragma once
#include <memory>
#include <vector>

#include "../../core/error.hpp"
#include "../../ops/cpu/maxpool.hpp"
#include "../variable.hpp"

namespace yolite::ag {

template <class T>
Var<T> max_pool2d(const Var<T>& x, int k, int stride, int pad) {
  YOLITE_CHECK(x.defined(), "ag::max_pool2d: undefined input");
  const Shape& s = x.shape();
  YOLITE_CHECK(s.ndim() == 4, "ag::max_pool2d: expected [N,C,H,W], got ", s.str());
  ops::Pool2dParams p;
  p.N = int(s[0]), p.C = int(s[1]), p.H = int(s[2]), p.W = int(s[3]);
  p.k = k, p.stride = stride, p.pad = pad;
  YOLITE_CHECK(k > 0 && stride > 0 && pad >= 0 && 2 * pad <= k && s[2] + 2 * pad >= k &&
                   s[3] + 2 * pad >= k,
               "ag::max_pool2d: input ", s.str(), " with k ", k, " stride ", stride, " pad ", pad,
               " (expected k, stride > 0, 0 <= pad <= k/2 and H, W + 2*pad >= k)");
  p.validate();
  Tensor<T> y = Tensor<T>::uninit({s[0], s[1], int64_t(p.OH()), int64_t(p.OW())});
  if (!(grad_enabled() && x.requires_grad())) {  // no graph: no argmax indices to keep
    ops::max_pool2d_forward<T>(p, x.value().data(), y.data(), nullptr);
    return Var<T>(std::move(y));
  }
  auto idx = std::make_shared<std::vector<int32_t>>(size_t(y.numel()));
  ops::max_pool2d_forward(p, x.value().data(), y.data(), idx->data());
  return make_result<T>(std::move(y), {x}, "max_pool2d", [p, idx](Node<T>& self) {
    if (Tensor<T>* g = grad_of(self, 0))
      ops::max_pool2d_backward(p, self.grad.data(), idx->data(), g->data());
  });
}

}  // namespace yolite::ag
