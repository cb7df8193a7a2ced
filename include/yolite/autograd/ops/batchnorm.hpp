// autograd/ops/batchnorm.hpp -- differentiable 2-D batch normalisation (PyTorch semantics).
//
//   Tensor<float> rm({C}), rv({C}, 1.f); int64_t seen = 0;
//   Var<float> y = ag::batch_norm2d(x, gamma, beta, rm, rv, &seen, /*training=*/true);
//
// x [N,C,H,W], gamma/beta [C], running_mean/running_var [C] (updated in place).
// training: normalise with the batch mean and BIASED batch variance over (N,H,W), then
//   running = (1 - momentum) * running + momentum * batch_stat, where the variance used here is
//   the UNBIASED one (M/(M-1), M = N*H*W), and ++*num_batches_tracked (when not null).
// eval: normalise with the running statistics; nothing is updated.
// y = (x - mean) / sqrt(var + eps) * gamma + beta. YOLOv5: eps 1e-3, momentum 0.03.
// Backward is exact in both modes (training: also through the batch statistics).
// sync (sync-BN, ops/cpu/batchnorm.hpp): in training, the statistics and the backward sums are
// those of the whole batch spread over the processes of a data-parallel job; x holds this
// process's images. nullptr (the default): x is the whole batch.
#pragma once
#include <cmath>
#include <cstdint>

#include "../../core/error.hpp"
#include "../../ops/cpu/batchnorm.hpp"
#include "../variable.hpp"

namespace yolite::ag {

namespace detail {
// What batch_norm2d and batch_norm_silu2d share: the argument checks, the statistics to
// normalise with (the batch's in training, updating the running ones; the running ones in
// eval), as mean and invstd = 1/sqrt(var + eps).
struct BnDims {
  int N, C;
  int64_t HW;
};
template <class T>
BnDims bn_statistics(const char* op, const Var<T>& x, const Var<T>& gamma, const Var<T>& beta,
                     Tensor<T>& running_mean, Tensor<T>& running_var,
                     int64_t* num_batches_tracked, bool training, double momentum, double eps,
                     Tensor<T>& mean, Tensor<T>& invstd, const ops::BnSync* sync = nullptr) {
  YOLITE_CHECK(x.defined() && gamma.defined() && beta.defined(), "ag::", op,
               ": undefined input, gamma or beta");
  const Shape& xs = x.shape();
  YOLITE_CHECK(xs.ndim() == 4, "ag::", op, ": expected input [N,C,H,W], got ", xs.str());
  const Shape cs({xs[1]});
  YOLITE_CHECK(gamma.shape() == cs && beta.shape() == cs, "ag::", op, ": input ", xs.str(),
               " needs gamma and beta of shape ", cs.str(), ", got gamma ", gamma.shape().str(),
               " and beta ", beta.shape().str());
  YOLITE_CHECK(running_mean.shape() == cs && running_var.shape() == cs, "ag::", op, ": input ",
               xs.str(), " needs running_mean and running_var of shape ", cs.str(), ", got ",
               running_mean.shape().str(), " and ", running_var.shape().str());
  const BnDims d{int(xs[0]), int(xs[1]), xs[2] * xs[3]};
  int64_t M = int64_t(d.N) * d.HW;
  mean = Tensor<T>(cs);
  invstd = Tensor<T>(cs);
  if (training) {
    Tensor<T> var(cs);
    if (sync)
      M = int64_t(ops::batchnorm_stats_synced(x.value().data(), d.N, d.C, d.HW, *sync, mean.data(), var.data()));
    else
      ops::batchnorm_stats(x.value().data(), d.N, d.C, d.HW, mean.data(), var.data());
    YOLITE_CHECK(M > 1, "ag::", op, ": training needs more than one value per channel, input ",
                 xs.str(), sync ? " on every process together" : "");
    const double unbias = double(M) / double(M - 1);
    for (int c = 0; c < d.C; ++c) {
      invstd[c] = T(1.0 / std::sqrt(double(var[c]) + eps));
      running_mean[c] = T((1 - momentum) * double(running_mean[c]) + momentum * double(mean[c]));
      running_var[c] =
          T((1 - momentum) * double(running_var[c]) + momentum * double(var[c]) * unbias);
    }
    if (num_batches_tracked) ++*num_batches_tracked;
  } else {
    for (int c = 0; c < d.C; ++c) {
      mean[c] = running_mean[c];
      invstd[c] = T(1.0 / std::sqrt(double(running_var[c]) + eps));
    }
  }
  return d;
}
}  // namespace detail

template <class T>
Var<T> batch_norm2d(const Var<T>& x, const Var<T>& gamma, const Var<T>& beta,
                    Tensor<T>& running_mean, Tensor<T>& running_var, int64_t* num_batches_tracked,
                    bool training, double momentum = 0.03, double eps = 1e-3,
                    const ops::BnSync* sync = nullptr) {
  Tensor<T> mean, invstd;
  const detail::BnDims d =
      detail::bn_statistics("batch_norm2d", x, gamma, beta, running_mean, running_var,
                            num_batches_tracked, training, momentum, eps, mean, invstd, sync);
  const int N = d.N, C = d.C;
  const int64_t HW = d.HW;
  const Shape& xs = x.shape();
  Tensor<T> y = Tensor<T>::uninit(xs);
  ops::batchnorm_forward(x.value().data(), N, C, HW, mean.data(), invstd.data(),
                         gamma.value().data(), beta.value().data(), y.data());
  Tensor<T> xv = x.value(), gv = gamma.value();
  return make_result<T>(std::move(y), {x, gamma, beta}, "batch_norm2d",
                        [=](Node<T>& self) {
    Tensor<T>* gx = grad_of(self, 0);
    Tensor<T>* gg = grad_of(self, 1);
    Tensor<T>* gb = grad_of(self, 2);
    ops::batchnorm_backward(xv.data(), self.grad.data(), N, C, HW, mean.data(), invstd.data(),
                            gv.data(), training, gx ? gx->data() : nullptr,
                            gg ? gg->data() : nullptr, gb ? gb->data() : nullptr, sync);
  });
}

}  // namespace yolite::ag
