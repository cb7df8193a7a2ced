// autograd/ops/bce.hpp -- binary cross-entropy with logits, mean over all elements.
//
//   Var<float> loss = ag::bce_with_logits(logits, targets);          // -> [1]
//   Var<float> l2   = ag::bce_with_logits(logits, targets, 2.0f);    // pos_weight 2
//
// PyTorch's BCEWithLogitsLoss(reduction='mean', pos_weight): per element
//   (1 - t) * x + (1 + (pw - 1) * t) * (log1p(exp(-|x|)) + max(-x, 0))
// -- stable for any |x|. Targets are constants (no gradient), e.g. YOLOv5's detached IoU
// objectness targets. Kernels: ops/cpu/bce.hpp.
#pragma once
#include "../../core/error.hpp"
#include "../../ops/cpu/bce.hpp"
#include "../variable.hpp"

namespace yolite::ag {

template <class T>
Var<T> bce_with_logits(const Var<T>& logits, const Tensor<T>& targets, T pos_weight = 1) {
  YOLITE_CHECK(logits.defined() && targets.defined(), "ag::bce_with_logits: undefined input");
  YOLITE_CHECK(logits.shape() == targets.shape(), "ag::bce_with_logits: shape mismatch, logits ",
               logits.shape().str(), " vs targets ", targets.shape().str(),
               " (expected equal shapes)");
  const int64_t n = logits.value().numel();
  YOLITE_CHECK(n > 0, "ag::bce_with_logits: empty input ", logits.shape().str());
  Tensor<T> y({1});
  y[0] = T(ops::bce_with_logits_sum(logits.value().data(), targets.data(), n, pos_weight) /
           double(n));
  Tensor<T> xv = logits.value(), tv = targets;
  return make_result<T>(std::move(y), {logits}, "bce_with_logits",
                        [xv, tv, n, pos_weight](Node<T>& self) {
    if (Tensor<T>* g = grad_of(self, 0))
      ops::bce_with_logits_backward(xv.data(), tv.data(), n, pos_weight,
                                    T(double(self.grad[0]) / double(n)), g->data());
  });
}

}  // namespace yolite::ag
