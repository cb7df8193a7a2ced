// autograd/ops/batchnorm_silu.hpp -- batch_norm2d followed by silu as ONE differentiable op.
//
//   Var<float> y = ag::batch_norm_silu2d(x, gamma, beta, rm, rv, &seen, /*training=*/true);
//   // same value and gradients as ag::silu(ag::batch_norm2d(x, gamma, beta, rm, rv, &seen, true))
//
// Arguments (sync-BN's `sync` too), statistics and running-stat updates are batch_norm2d's
// (autograd/ops/batchnorm.hpp).
// The node keeps only x (the BN output z is recomputed in backward) and runs the fused kernels
// of ops/cpu/batchnorm_silu.hpp. nn::Conv (YOLOv5's conv -> BN -> SiLU block) uses it.
#pragma once
#include "../../ops/cpu/batchnorm_silu.hpp"
#include "batchnorm.hpp"

namespace yolite::ag {

template <class T>
Var<T> batch_norm_silu2d(const Var<T>& x, const Var<T>& gamma, const Var<T>& beta,
                         Tensor<T>& running_mean, Tensor<T>& running_var,
                         int64_t* num_batches_tracked, bool training, double momentum = 0.03,
                         double eps = 1e-3, const ops::BnSync* sync = nullptr) {
  Tensor<T> mean, invstd;
  const detail::BnDims d =
      detail::bn_statistics("batch_norm_silu2d", x, gamma, beta, running_mean, running_var,
                            num_batches_tracked, training, momentum, eps, mean, invstd, sync);
  const int N = d.N, C = d.C;
  const int64_t HW = d.HW;
  Tensor<T> y = Tensor<T>::uninit(x.shape());
  ops::batchnorm_silu_forward(x.value().data(), N, C, HW, mean.data(), invstd.data(),
                              gamma.value().data(), beta.value().data(), y.data());
  Tensor<T> xv = x.value(), gv = gamma.value(), bv = beta.value();
  return make_result<T>(std::move(y), {x, gamma, beta}, "batch_norm_silu2d",
                        [=](Node<T>& self) {
    bool fresh = false;
    Tensor<T>* gx = grad_for_write(self, 0, &fresh);
    Tensor<T>* gg = grad_of(self, 1);
    Tensor<T>* gb = grad_of(self, 2);
    ops::batchnorm_silu_backward(xv.data(), self.grad.data(), N, C, HW, mean.data(),
                                 invstd.data(), gv.data(), bv.data(), training,
                                 gx ? gx->data() : nullptr, gg ? gg->data() : nullptr,
                                 gb ? gb->data() : nullptr, /*accumulate_dx=*/!fresh, sync);
  });
}

}  // namespace yolite::ag
