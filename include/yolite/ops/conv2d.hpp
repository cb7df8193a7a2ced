// ops/conv2d.hpp -- conv2d dispatch: picks the kernel for a scalar type, device and precision.
//
//   ops::Conv2dParams p{.N = 1, .C = 3, .H = 320, .W = 320, .K = 32, .R = 6, .S = 6, .stride = 2, .pad = 2};
//   ops::conv2d_forward<float>(p, x, w, /*bias=*/nullptr, y);      // y overwritten
//   ops::conv2d_forward<float>(p, x, w, b, y, ops::ConvAct::silu); // y = silu(conv + b)
//   ops::conv2d_backward_input<float>(p, dy, w, dx);               // dx +=  (dx, false: dx =)
//   ops::conv2d_backward_weight<float>(p, x, dy, dw, db);          // dw +=, db += (db may be null)
//
//   {
//     ops::PrecisionGuard bf(ops::Precision::bf16);   // this thread's float convs use bf16
//     ...                                             // (throws if the CPU lacks AVX512_BF16)
//   }
//
// float  -> the fast CPU kernels of cpu/conv2d_fast.hpp (packed GEMM, OpenMP, AVX-512/AVX2) --
//           3x3 pad-1 forward convolutions of stride 1 and 2 and stride-1 input gradients by
//           Winograd-style algorithms (cpu/conv2d_winograd.hpp), weight gradients direct -- or
//           under Precision::bf16 those of cpu/conv2d_bf16.hpp (bf16 products, fp32 sums);
// double -> the reference loops of cpu/conv2d.hpp (used by gradient checks, where speed does
//           not matter and the loops are the specification). Precision does not apply.
// The precision is a per-thread mode set by PrecisionGuard (like NoGradGuard: thread_local, the
// calling thread's, restored when the guard ends), so it never leaks into other threads.
#pragma once
#include <algorithm>
#include <type_traits>

#include "cpu/conv2d.hpp"
#include "cpu/conv2d_bf16.hpp"
#include "cpu/conv2d_fast.hpp"
#include "cpu/conv2d_packed.hpp"

namespace yolite::ops {

enum class Precision { fp32, bf16 };

inline const char* precision_name(Precision p) { return p == Precision::bf16 ? "bf16" : "fp32"; }

// The calling thread's precision for float convolutions (fp32 unless a PrecisionGuard says so).
inline Precision& thread_precision() {
  thread_local Precision p = Precision::fp32;
  return p;
}

// RAII: float convolutions on this thread run in `p` while the guard lives. Asking for bf16 on
// a CPU without AVX512_BF16 throws yolite::Error naming `who` (e.g. "--bf16").
class PrecisionGuard {
 public:
  explicit PrecisionGuard(Precision p, const char* who = "bf16") : saved_(thread_precision()) {
    if (p == Precision::bf16) bf16::require_cpu(who);
    thread_precision() = p;
  }
  PrecisionGuard(const PrecisionGuard&) = delete;
  PrecisionGuard& operator=(const PrecisionGuard&) = delete;
  ~PrecisionGuard() { thread_precision() = saved_; }

 private:
  Precision saved_;
};

// y = act(conv(x, w) + b). The fp32 kernel applies act to each output tile as it finishes it;
// the others run it as a pass over y afterwards (the reference: ref::silu_forward).
template <class T>
void conv2d_forward(const Conv2dParams& p, const T* x, const T* w, const T* b, T* y,
                    ConvAct act = ConvAct::none) {
  p.validate();
  const int64_t ny = int64_t(p.N) * p.K * p.OH() * p.OW();
  if constexpr (std::is_same_v<T, float>) {
    if (thread_precision() == Precision::bf16) {
      bf16::conv2d_forward(p, x, w, b, y);
      if (act == ConvAct::silu) silu_forward(y, y, ny);
    } else if (fast::winograd::applies(p)) {
      fast::winograd::forward_unpacked(p, x, w, b, y, act);
    } else {
      fast::conv2d_forward(p, x, w, b, y, act);
    }
  } else {
    ref::conv2d_forward(p, x, w, b, y);
    if (act == ConvAct::silu) ref::silu_forward(y, y, ny);
  }
}
// accumulate = false writes dx (=) instead of adding to it: for a fresh gradient buffer.
template <class T>
void conv2d_backward_input(const Conv2dParams& p, const T* dy, const T* w, T* dx,
                           bool accumulate = true) {
  p.validate();
  const auto zero_dx = [&] {
    if (!accumulate) std::fill(dx, dx + int64_t(p.N) * p.C * p.H * p.W, T(0));
  };
  if constexpr (std::is_same_v<T, float>) {
    if (thread_precision() == Precision::bf16) {
      zero_dx();
      bf16::conv2d_backward_input(p, dy, w, dx);
    } else if (fast::winograd::applies(p) && p.stride == 1) {  // (applies: symmetric in C, K)
      fast::winograd::backward_input(p, dy, w, dx, accumulate);
    } else {
      fast::conv2d_backward_input(p, dy, w, dx, accumulate);
    }
  } else {
    zero_dx();
    ref::conv2d_backward_input(p, dy, w, dx);
  }
}
template <class T>
void conv2d_backward_weight(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db) {
  p.validate();
  if constexpr (std::is_same_v<T, float>) {
    if (thread_precision() == Precision::bf16)
      bf16::conv2d_backward_weight(p, x, dy, dw, db);
    else
      fast::conv2d_backward_weight(p, x, dy, dw, db);
  } else {
    ref::conv2d_backward_weight(p, x, dy, dw, db);
  }
}

}  // namespace yolite::ops
