// autograd/ops/conv2d.hpp -- differentiable 2-D convolution (groups 1, dilation 1).
//
//   Var<float> y = ag::conv2d(x, w, b, /*stride=*/2, /*pad=*/1);   // b may be Var<float>{}
//   Var<float> z = ag::conv2d_silu(x, w, b, 2, 1);                  // silu(conv2d(...)), below
//
// x [N,C,H,W], w [K,C,R,S], b [K] or undefined (no bias) -> y [N,K,OH,OW] with
// OH = (H + 2*pad - R)/stride + 1. The kernels are ops::conv2d_forward / backward_input /
// backward_weight (ops/conv2d.hpp picks fast or reference). Backward skips the input gradient
// when x does not require grad (the network's stem: images are not trained).
#pragma once
#include <type_traits>

#include "../../core/error.hpp"
#include "../../ops/conv2d.hpp"
#include "../variable.hpp"
#include "activation.hpp"

namespace yolite::ag {

namespace detail {
// The kernel parameters of conv2d(x, w, b, stride, pad), after checking the shapes.
template <class T>
ops::Conv2dParams conv2d_params(const char* who, const Var<T>& x, const Var<T>& w,
                                const Var<T>& b, int stride, int pad) {
  YOLITE_CHECK(x.defined() && w.defined(), who, ": undefined input or weight");
  const Shape& xs = x.shape();
  const Shape& ws = w.shape();
  YOLITE_CHECK(xs.ndim() == 4 && ws.ndim() == 4, who, ": expected input [N,C,H,W] and weight "
               "[K,C,R,S], got input ", xs.str(), " and weight ", ws.str());
  YOLITE_CHECK(xs[1] == ws[1], who, ": input ", xs.str(), " has ", xs[1],
               " channels but weight ", ws.str(), " expects ", ws[1]);
  if (b.defined())
    YOLITE_CHECK(b.shape() == Shape({ws[0]}), who, ": bias ", b.shape().str(),
                 " does not match weight ", ws.str(), " (expected [", ws[0], "])");
  YOLITE_CHECK(stride > 0 && pad >= 0 && xs[2] + 2 * pad >= ws[2] && xs[3] + 2 * pad >= ws[3],
               who, ": input ", xs.str(), " with weight ", ws.str(), " stride ", stride,
               " pad ", pad, " gives an empty output");
  ops::Conv2dParams p;
  p.N = int(xs[0]), p.C = int(xs[1]), p.H = int(xs[2]), p.W = int(xs[3]);
  p.K = int(ws[0]), p.R = int(ws[2]), p.S = int(ws[3]);
  p.stride = stride, p.pad = pad;
  p.validate();
  return p;
}
}  // namespace detail

template <class T>
Var<T> conv2d(const Var<T>& x, const Var<T>& w, const Var<T>& b, int stride, int pad) {
  const ops::Conv2dParams p = detail::conv2d_params("ag::conv2d", x, w, b, stride, pad);
  const bool has_bias = b.defined();
  Tensor<T> y = Tensor<T>::uninit({p.N, p.K, p.OH(), p.OW()});
  ops::conv2d_forward<T>(p, x.value().data(), w.value().data(),
                         has_bias ? b.value().data() : nullptr, y.data());
  std::vector<Var<T>> parents = has_bias ? std::vector<Var<T>>{x, w, b} : std::vector<Var<T>>{x, w};
  Tensor<T> xv = x.value(), wv = w.value();
  return make_result<T>(std::move(y), std::move(parents), "conv2d",
                        [p, xv, wv, has_bias](Node<T>& self) {
    const T* dy = self.grad.data();
    bool fresh = false;
    if (Tensor<T>* gx = grad_for_write(self, 0, &fresh))
      ops::conv2d_backward_input<T>(p, dy, wv.data(), gx->data(), /*accumulate=*/!fresh);
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

// act(conv2d(x, w, b)) for inference: when no graph is recorded (NoGradGuard, or nothing
// requires grad) the activation runs inside the convolution as each output tile is finished --
// no second pass over y -- and, for float in fp32, `packed` (weights prepared once by
// ops::fast::pack_conv2d_weights from w) saves preparing them on every call (and holds the
// Winograd form for 3x3 pad-1 convolutions of stride 1 or 2). With a graph it is conv2d(...)
// followed by silu() if asked.
template <class T>
Var<T> conv2d_act(const Var<T>& x, const Var<T>& w, const Var<T>& b, int stride, int pad,
                  ops::ConvAct act, const ops::fast::PackedConvWeights* packed = nullptr) {
  const ops::Conv2dParams p = detail::conv2d_params("ag::conv2d_act", x, w, b, stride, pad);
  const bool graph =
      grad_enabled() && (x.requires_grad() || w.requires_grad() || (b.defined() && b.requires_grad()));
  if (graph) {
    Var<T> y = conv2d(x, w, b, stride, pad);
    return act == ops::ConvAct::silu ? silu(y) : y;
  }
  Tensor<T> y = Tensor<T>::uninit({p.N, p.K, p.OH(), p.OW()});
  const T* bias = b.defined() ? b.value().data() : nullptr;
  if constexpr (std::is_same_v<T, float>) {
    if (packed && ops::thread_precision() == ops::Precision::fp32) {
      ops::fast::conv2d_forward_packed(p, x.value().data(), *packed, bias, y.data(), act);
      return Var<T>(std::move(y));
    }
  }
  ops::conv2d_forward<T>(p, x.value().data(), w.value().data(), bias, y.data(), act);
  return Var<T>(std::move(y));
}

// silu(conv2d(x, w, b)): YOLOv5's Conv block with its BatchNorm folded in (nn::Conv after
// fuse()); conv2d_act with the SiLU.
template <class T>
Var<T> conv2d_silu(const Var<T>& x, const Var<T>& w, const Var<T>& b, int stride, int pad,
                   const ops::fast::PackedConvWeights* packed = nullptr) {
  return conv2d_act(x, w, b, stride, pad, ops::ConvAct::silu, packed);
}

}  // namespace yolite::ag
