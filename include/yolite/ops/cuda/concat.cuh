// ops/cuda/concat.cuh -- channel concatenation of NCHW device tensors.
//
//   ops::cuda::concat_forward(ctx, xs, channels, N, HW, y);     // y[n, off_i + c] = xs[i][n, c]
//   ops::cuda::concat_backward(ctx, dy, channels, N, HW, dxs);  // dxs[i][n, c] += dy[n, off_i + c]
// xs / dxs are host vectors of device pointers (dxs[i] == nullptr skips input i); same meaning
// as ops/cpu/concat.hpp. One grid-stride copy per input. CUDA sources only.
#pragma once
#include <vector>

#include "common.cuh"

namespace yolite::ops::cuda {

namespace detail {
template <class T>
struct ConcatF {  // one input: j runs over its N * ci * HW values
  const T* src;
  T* dst;
  int64_t plane_in;    // ci * HW
  int64_t plane_out;   // Ct * HW
  int64_t off;         // off_i * HW
  bool backward;       // false: dst(y) = src(x); true: dst(dx) += src(dy)
  __device__ void operator()(int64_t j) const {
    const int64_t n = j / plane_in, r = j % plane_in, o = n * plane_out + off + r;
    if (backward)
      dst[j] += src[o];
    else
      dst[o] = src[j];
  }
};

inline int64_t concat_total(const std::vector<int>& channels, size_t nptr, const char* who) {
  YOLITE_CHECK(nptr == channels.size(), who, ": ", nptr, " tensors but ", channels.size(),
               " channel counts");
  int64_t t = 0;
  for (size_t i = 0; i < channels.size(); ++i) {
    YOLITE_CHECK(channels[i] >= 0, who, ": input ", i, " has ", channels[i], " channels");
    t += channels[i];
  }
  return t;
}
}  // namespace detail

template <class T>
void concat_forward(Context& ctx, const std::vector<const T*>& xs, const std::vector<int>& channels,
                    int N, int64_t HW, T* y) {
  const int64_t Ct = detail::concat_total(channels, xs.size(), "ops::cuda::concat_forward");
  int64_t off = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const int64_t pin = int64_t(channels[i]) * HW;
    detail::map(ctx, int64_t(N) * pin,
                detail::ConcatF<T>{xs[i], y, pin, Ct * HW, off * HW, false});
    off += channels[i];
  }
}

template <class T>
void concat_backward(Context& ctx, const T* dy, const std::vector<int>& channels, int N,
                     int64_t HW, const std::vector<T*>& dxs) {
  const int64_t Ct = detail::concat_total(channels, dxs.size(), "ops::cuda::concat_backward");
  int64_t off = 0;
  for (size_t i = 0; i < dxs.size(); ++i) {
    const int64_t pin = int64_t(channels[i]) * HW;
    if (dxs[i])
      detail::map(ctx, int64_t(N) * pin,
                  detail::ConcatF<T>{dy, dxs[i], pin, Ct * HW, off * HW, true});
    off += channels[i];
  }
}

}  // namespace yolite::ops::cuda
