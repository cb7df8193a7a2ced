// autograd/ops/conv2d.hpp -- differentiable 2-D convolution (groups 1, dilation 1).
//
//   Var<float> y = ag::conv2d(x, w, b, /*stride=*/2, /*pad=*/1);   // b may be Var<float>{}
//
// x [N,C,H,W], w [K,C,R,S], b [K] or undefined (no bias) -> y [N,K,OH,OW] with
// OH = (H + 2*pad - R)/stride + 1. The kernels are ops::conv2d_forward / backward_input /
// backward_weight (ops/conv2d.hpp picks fast or reference). Backward skips the input gradient
// when x does not require grad (the network's stem: images are not trained).
#pragma once
#include "../../core/error.hpp"
#include "../../ops/conv2d.hpp"
#include "../variable.hpp"

namespace yolite::ag {

template <class T>
Var<T> conv2d(const Var<T>& x, const Var<T>& w, const Var<T>& b, int stride, int pad) {
  YOLITE_CHECK(x.defined() && w.defined(), "ag::conv2d: undefined input or weight");
  const Shape& xs = x.shape();
  const Shape& ws = w.shape();
  YOLITE_CHECK(xs.ndim() == 4 && ws.ndim() == 4, "ag::conv2d: expected input [N,C,H,W] and weight "
               "[K,C,R,S], got input ", xs.str(), " and weight ", ws.str());
  YOLITE_CHECK(xs[1] == ws[1], "ag::conv2d: input ", xs.str(), " has ", xs[1],
               " channels but weight ", ws.str(), " expects ", ws[1]);
  const bool has_bias = b.defined();
  if (has_bias)
    YOLITE_CHECK(b.shape() == Shape({ws[0]}), "ag::conv2d: bias ", b.shape().str(),
                 " does not match weight ", ws.str(), " (expected [", ws[0], "])");
  YOLITE_CHECK(stride > 0 && pad >= 0 && xs[2] + 2 * pad >= ws[2] && xs[3] + 2 * pad >= ws[3],
               "ag::conv2d: input ", xs.str(), " with weight ", ws.str(), " stride ", stride,
               " pad ", pad, " gives an empty output");
  ops::Conv2dParams p;
  p.N = int(xs[0]), p.C = int(xs[1]), p.H = int(xs[2]), p.W = int(xs[3]);
  p.K = int(ws[0]), p.R = int(ws[2]), p.S = int(ws[3]);
  p.stride = stride, p.pad = pad;
  p.validate();
  Tensor<T> y = Tensor<T>::uninit({p.N, p.K, p.OH(), p.OW()});
  ops::conv2d_forward<T>(p, x.value().data(), w.value().data(),
                         has_bias ? b.value().data() : nullptr, y.data());
  std::vector<Var<T>> parents = has_bias ? std::vector<Var<T>>{x, w, b} : std::vector<Var<T>>{x, w};
  Tensor<T> xv = x.value(), wv = w.value();
  return make_result<T>(std::move(y), std::move(parents), "conv2d",
                        [p, xv, wv, has_bias](Node<T>& self) {
    const T* dy = self.grad.data();
    if (Tensor<T>* gx = grad_of(self, 0)) ops::conv2d_backward_input<T>(p, dy, wv.data(), gx->data());
    Tensor<T>* gw = grad_of(self, 1);
    Tensor<T>* gb = has_bias ? grad_of(self, 2) : nullptr;
    if (!gw && !gb) return;
    Tensor<T> scratch;
    if (!gw) {
      scratch = Tensor<T>(wv.shape());  // only the bias trains: weight gradient discarded
      gw = &scratch;
    }
    ops::conv2d_backward_weight<T>(p, xv.data(), dy, gw->data(), gb ? gb->data() : nullptr);
  });
}

}  // namespace yolite::ag
