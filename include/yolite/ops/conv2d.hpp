// ops/conv2d.hpp -- conv2d dispatch: picks the kernel for a scalar type and device.
//
//   ops::Conv2dParams p{.N = 1, .C = 3, .H = 320, .W = 320, .K = 32, .R = 6, .S = 6, .stride = 2, .pad = 2};
//   ops::conv2d_forward<float>(p, x, w, /*bias=*/nullptr, y);      // y overwritten
//   ops::conv2d_backward_input<float>(p, dy, w, dx);               // dx +=
//   ops::conv2d_backward_weight<float>(p, x, dy, dw, db);          // dw +=, db += (db may be null)
//
// float  -> the fast CPU kernels of cpu/conv2d_fast.hpp (packed GEMM, OpenMP, AVX-512/AVX2);
// double -> the reference loops of cpu/conv2d.hpp (used by gradient checks, where speed does
//           not matter and the loops are the specification).
#pragma once
#include <type_traits>

#include "cpu/conv2d.hpp"
#include "cpu/conv2d_fast.hpp"

namespace yolite::ops {

template <class T>
void conv2d_forward(const Conv2dParams& p, const T* x, const T* w, const T* b, T* y) {
  p.validate();
  if constexpr (std::is_same_v<T, float>)
    fast::conv2d_forward(p, x, w, b, y);
  else
    ref::conv2d_forward(p, x, w, b, y);
}
template <class T>
void conv2d_backward_input(const Conv2dParams& p, const T* dy, const T* w, T* dx) {
  p.validate();
  if constexpr (std::is_same_v<T, float>)
    fast::conv2d_backward_input(p, dy, w, dx);
  else
    ref::conv2d_backward_input(p, dy, w, dx);
}
template <class T>
void conv2d_backward_weight(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db) {
  p.validate();
  if constexpr (std::is_same_v<T, float>)
    fast::conv2d_backward_weight(p, x, dy, dw, db);
  else
    ref::conv2d_backward_weight(p, x, dy, dw, db);
}

}  // namespace yolite::ops
