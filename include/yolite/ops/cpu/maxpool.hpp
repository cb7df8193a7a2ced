// ops/cpu/maxpool.hpp -- 2-D max pooling (NCHW), padding counts as -inf.
//
//   ops::Pool2dParams p{N, C, H, W, k, stride, pad};
//   ops::max_pool2d_forward(p, x, y, idx);    // y[N,C,OH,OW]; idx = argmax (h*W + w, in plane)
//                                             // (idx = nullptr: values only)
//   ops::max_pool2d_backward(p, dy, idx, dx); // dx[plane][idx] += dy    (ACCUMULATES)
// OH = (H + 2*pad - k)/stride + 1 (floor, like PyTorch's ceil_mode=False); pad <= k/2 so
// every window holds at least one real value. Ties go to the FIRST maximum in row-major
// window order (PyTorch's rule), so the gradient lands on one element.
//
// ops::ref:: scans each k x k window. ops:: runs planes in parallel (OpenMP, static) and
// splits the window in two 1-D passes: a row max (with its column) over a -inf padded copy of
// each input row, then a column max over k of those. Taking the first row that holds the
// window maximum, and in it the first column, is exactly the row-major first maximum, so
// both kernels return the same values and indices. k*(H*OW + OH*OW) comparisons instead of
// k*k*OH*OW; both passes are plain loops the compiler vectorises (SPPF's k5 s1 p2).
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include <omp.h>

#include "../../core/error.hpp"
#include "elementwise.hpp"

namespace yolite::ops {

struct Pool2dParams {
  int N = 1, C = 1, H = 1, W = 1;
  int k = 1, stride = 1, pad = 0;
  int OH() const { return (H + 2 * pad - k) / stride + 1; }
  int OW() const { return (W + 2 * pad - k) / stride + 1; }
  void validate() const {
    YOLITE_CHECK(N > 0 && C > 0 && H > 0 && W > 0 && k > 0 && stride > 0 && pad >= 0 &&
                     2 * pad <= k && H + 2 * pad >= k && W + 2 * pad >= k &&
                     int64_t(H) * W <= std::numeric_limits<int32_t>::max(),
                 "max_pool2d: bad parameters N=", N, " C=", C, " H=", H, " W=", W, " k=", k,
                 " stride=", stride, " pad=", pad,
                 " (expected positive sizes, pad <= k/2, the padded input at least k x k and H*W < 2^31)");
  }
};

namespace ref {
template <class T>
void max_pool2d_forward(const Pool2dParams& p, const T* x, T* y, int32_t* idx) {
  const int OH = p.OH(), OW = p.OW();
  for (int64_t q = 0; q < int64_t(p.N) * p.C; ++q)
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow) {
        T best = -std::numeric_limits<T>::infinity();
        int32_t bi = -1;
        for (int r = 0; r < p.k; ++r) {
          int ih = oh * p.stride - p.pad + r;
          if (ih < 0 || ih >= p.H) continue;
          for (int s = 0; s < p.k; ++s) {
            int iw = ow * p.stride - p.pad + s;
            if (iw < 0 || iw >= p.W) continue;
            T v = x[(q * p.H + ih) * p.W + iw];
            if (bi < 0 || v > best) {
              best = v;
              bi = ih * p.W + iw;
            }
          }
        }
        y[(q * OH + oh) * OW + ow] = best;
        idx[(q * OH + oh) * OW + ow] = bi;
      }
}
template <class T>
void max_pool2d_backward(const Pool2dParams& p, const T* dy, const int32_t* idx, T* dx) {
  const int64_t out = int64_t(p.OH()) * p.OW(), in = int64_t(p.H) * p.W;
  for (int64_t q = 0; q < int64_t(p.N) * p.C; ++q)
    for (int64_t j = 0; j < out; ++j) dx[q * in + idx[q * out + j]] += dy[q * out + j];
}
}  // namespace ref

namespace detail {
// One plane of the separable max pool. Sizes come by value and the scratch rows are local, so
// the compiler sees that no store aliases a loop bound and vectorises every inner loop over
// ow (compare + blend of value and index). kUnit: stride 1 (SPPF), contiguous row reads.
// kIdx = false (inference, ip == nullptr): values only, no argmax bookkeeping.
template <class T, bool kUnit, bool kIdx>
void max_pool_plane(const T* __restrict xp, T* __restrict yp, int32_t* __restrict ip, int H,
                    int W, int OH, int OW, int k, int st, int pad, T* __restrict row,
                    T* __restrict rmax, int32_t* __restrict rarg) {
  const int step = kUnit ? 1 : st;
  // pass 1: per input row ih and output column ow, the max over the k columns and its column
  for (int ih = 0; ih < H; ++ih) {
    for (int w = 0; w < W; ++w) row[pad + w] = xp[int64_t(ih) * W + w];
    T* __restrict m = rmax + int64_t(ih) * OW;
    int32_t* __restrict a = rarg + int64_t(ih) * OW;
    for (int ow = 0; ow < OW; ++ow) {  // start at the window's first real column
      const int c0 = std::max(ow * step, pad);
      m[ow] = row[c0];
      if constexpr (kIdx) a[ow] = c0 - pad;
    }
    for (int s = 1; s < k; ++s) {
      const int col = s - pad;
      for (int ow = 0; ow < OW; ++ow) {
        const T v = row[ow * step + s];
        if constexpr (kIdx) {
          const bool gt = v > m[ow];
          m[ow] = gt ? v : m[ow];
          a[ow] = gt ? ow * step + col : a[ow];
        } else {
          m[ow] = v > m[ow] ? v : m[ow];
        }
      }
    }
  }
  // pass 2: column max over the k rows of each window (rows outside the input are skipped)
  for (int oh = 0; oh < OH; ++oh) {
    const int r0 = std::max(0, oh * step - pad), r1 = std::min(H, oh * step - pad + k);
    T* __restrict yo = yp + int64_t(oh) * OW;
    const T* m0 = rmax + int64_t(r0) * OW;
    for (int ow = 0; ow < OW; ++ow) yo[ow] = m0[ow];
    if constexpr (kIdx) {
      int32_t* __restrict io = ip + int64_t(oh) * OW;
      const int32_t* a0 = rarg + int64_t(r0) * OW;
      const int32_t base0 = r0 * W;
      for (int ow = 0; ow < OW; ++ow) io[ow] = base0 + a0[ow];
      for (int r = r0 + 1; r < r1; ++r) {
        const T* mr = rmax + int64_t(r) * OW;
        const int32_t* ar = rarg + int64_t(r) * OW;
        const int32_t base = r * W;
        for (int ow = 0; ow < OW; ++ow) {
          const bool gt = mr[ow] > yo[ow];
          yo[ow] = gt ? mr[ow] : yo[ow];
          io[ow] = gt ? base + ar[ow] : io[ow];
        }
      }
    } else {
      for (int r = r0 + 1; r < r1; ++r) {
        const T* mr = rmax + int64_t(r) * OW;
        for (int ow = 0; ow < OW; ++ow) yo[ow] = mr[ow] > yo[ow] ? mr[ow] : yo[ow];
      }
    }
  }
}
}  // namespace detail

// idx == nullptr: values only (inference; nothing to backpropagate).
template <class T>
void max_pool2d_forward(const Pool2dParams& p, const T* x, T* y, int32_t* idx) {
  const int OH = p.OH(), OW = p.OW(), H = p.H, W = p.W, k = p.k, st = p.stride, pad = p.pad;
  const int64_t in = int64_t(H) * W, out = int64_t(OH) * OW, P = int64_t(p.N) * p.C;
  // a plane costs about k compares per input and per output element: parallel when that is
  // worth a team (SPPF at 10x10: 256 planes of 100)
  const bool par = P > 1 && P * (in + out) * k >= kMinParallelWork && !omp_in_parallel();
#pragma omp parallel if (par)
  {
    // scratch rows once per thread, not per plane
    std::vector<T> row(size_t(W + 2 * pad + k), -std::numeric_limits<T>::infinity());
    std::vector<T> rmax(size_t(H) * OW);
    std::vector<int32_t> rarg(idx ? rmax.size() : 0);
#pragma omp for schedule(static)
    for (int64_t q = 0; q < P; ++q) {
      auto plane = [&](auto unit, auto with_idx) {
        detail::max_pool_plane<T, decltype(unit)::value, decltype(with_idx)::value>(
            x + q * in, y + q * out, idx ? idx + q * out : nullptr, H, W, OH, OW, k, st, pad,
            row.data(), rmax.data(), rarg.data());
      };
      using Yes = std::true_type;
      using No = std::false_type;
      if (st == 1)
        idx ? plane(Yes{}, Yes{}) : plane(Yes{}, No{});
      else
        idx ? plane(No{}, Yes{}) : plane(No{}, No{});
    }
  }
}

template <class T>
void max_pool2d_backward(const Pool2dParams& p, const T* dy, const int32_t* idx, T* dx) {
  const int64_t out = int64_t(p.OH()) * p.OW(), in = int64_t(p.H) * p.W;
  for_planes(int64_t(p.N) * p.C, int64_t(p.H) * p.W, [&](int64_t q) {
    T* d = dx + q * in;
    const T* g = dy + q * out;
    const int32_t* ix = idx + q * out;
    for (int64_t j = 0; j < out; ++j) d[ix[j]] += g[j];
  });
}

}  // namespace yolite::ops
