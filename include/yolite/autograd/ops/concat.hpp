// autograd/ops/concat.hpp -- differentiable concatenation along channels (dim 1 of NCHW).
//
//   Var<float> y = ag::concat<float>({a, b, c});   // [N,Ca,H,W] + [N,Cb,H,W] + ... -> [N,Ca+Cb+..,H,W]
//
// Backward hands each input its channel slice of the output gradient. Kernels:
// ops/cpu/concat.hpp.
#pragma once
#include <vector>

#include "../../core/error.hpp"
#include "../../ops/cpu/concat.hpp"
#include "../variable.hpp"

namespace yolite::ag {

template <class T>
Var<T> concat(const std::vector<Var<T>>& xs) {
  YOLITE_CHECK(!xs.empty(), "ag::concat: no inputs");
  for (size_t i = 0; i < xs.size(); ++i)
    YOLITE_CHECK(xs[i].defined(), "ag::concat: input ", i, " is undefined");
  const Shape& s0 = xs[0].shape();
  YOLITE_CHECK(s0.ndim() == 4, "ag::concat: expected [N,C,H,W] inputs, input 0 is ", s0.str());
  std::vector<int> channels;
  std::vector<const T*> ptrs;
  int64_t Ct = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Shape& s = xs[i].shape();
    YOLITE_CHECK(s.ndim() == 4 && s[0] == s0[0] && s[2] == s0[2] && s[3] == s0[3],
                 "ag::concat: input ", i, " has shape ", s.str(), " but input 0 has ", s0.str(),
                 " (expected equal N, H, W)");
    channels.push_back(int(s[1]));
    ptrs.push_back(xs[i].value().data());
    Ct += s[1];
  }
  const int N = int(s0[0]);
  const int64_t HW = s0[2] * s0[3];
  Tensor<T> y = Tensor<T>::uninit({s0[0], Ct, s0[2], s0[3]});
  ops::concat_forward(ptrs, channels, N, HW, y.data());
  return make_result<T>(std::move(y), xs, "concat", [channels, N, HW](Node<T>& self) {
    std::vector<T*> dxs(channels.size(), nullptr);
    bool any = false;
    std::vector<bool> fresh(channels.size(), false);
    for (size_t i = 0; i < channels.size(); ++i) {
      bool f = false;
      if (Tensor<T>* g = grad_for_write(self, i, &f)) {
        dxs[i] = g->data();
        fresh[i] = f;  // (an input listed twice is fresh only the first time: written, then +=)
        any = true;
      }
    }
    if (any) ops::concat_backward(self.grad.data(), channels, N, HW, dxs, fresh);
  });
}

}  // namespace yolite::ag
