// ops/cpu/maxpool.hpp -- 2-D max pooling (NCHW), padding counts as -inf.
//
//   ops::Pool2dParams p{N, C, H, W, k, stride, pad};
//   ops::max_pool2d_forward(p, x, y, idx);    // y[N,C,OH,OW]; idx = argmax (h*W + w, in plane)
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
#include <vector>

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
                     2 * pad <= k && H + 2 * pad >= k && W + 2 * pad >= k,
                 "max_pool2d: bad parameters N=", N, " C=", C, " H=", H, " W=", W, " k=", k,
                 " stride=", stride, " pad=", pad,
                 " (expected positive sizes, pad <= k/2 and the padded input at least k x k)");
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

template <class T>
void max_pool2d_forward(const Pool2dParams& p, const T* x, T* y, int32_t* idx) {
  const int OH = p.OH(), OW = p.OW(), H = p.H, W = p.W, k = p.k, st = p.stride, pad = p.pad;
  const T ninf = -std::numeric_limits<T>::infinity();
  for_planes(int64_t(p.N) * p.C, int64_t(p.H) * p.W, [&](int64_t q) {
    const T* xp = x + q * H * W;
    std::vector<T> row(size_t(W + 2 * pad + k), ninf);  // one input row, -inf padded
    std::vector<T> rmax(size_t(H) * OW);                 // pass 1: row max per (ih, ow)
    std::vector<int32_t> rarg(size_t(H) * OW);           //         and its column iw
    for (int ih = 0; ih < H; ++ih) {
      for (int w = 0; w < W; ++w) row[size_t(pad + w)] = xp[int64_t(ih) * W + w];
      T* m = rmax.data() + int64_t(ih) * OW;
      int32_t* a = rarg.data() + int64_t(ih) * OW;
      const T* rp = row.data();
      for (int ow = 0; ow < OW; ++ow) {  // start at the window's first real column
        const int c0 = std::max(ow * st, pad);
        m[ow] = rp[c0];
        a[ow] = c0;
      }
      for (int s = 1; s < k; ++s)
        for (int ow = 0; ow < OW; ++ow) {
          T v = rp[ow * st + s];
          bool gt = v > m[ow];
          m[ow] = gt ? v : m[ow];
          a[ow] = gt ? ow * st + s : a[ow];
        }
      for (int ow = 0; ow < OW; ++ow) a[ow] -= pad;  // padded column -> input column
    }
    // pass 2: column max over the k rows of each window (rows outside the input are skipped)
    T* yp = y + q * OH * OW;
    int32_t* ip = idx + q * OH * OW;
    for (int oh = 0; oh < OH; ++oh) {
      const int r0 = std::max(0, oh * st - pad), r1 = std::min(H, oh * st - pad + k);
      T* yo = yp + int64_t(oh) * OW;
      int32_t* io = ip + int64_t(oh) * OW;
      const T* m0 = rmax.data() + int64_t(r0) * OW;
      const int32_t* a0 = rarg.data() + int64_t(r0) * OW;
      for (int ow = 0; ow < OW; ++ow) {
        yo[ow] = m0[ow];
        io[ow] = r0 * W + a0[ow];
      }
      for (int r = r0 + 1; r < r1; ++r) {
        const T* mr = rmax.data() + int64_t(r) * OW;
        const int32_t* ar = rarg.data() + int64_t(r) * OW;
        const int32_t base = r * W;
        for (int ow = 0; ow < OW; ++ow) {
          bool gt = mr[ow] > yo[ow];
          yo[ow] = gt ? mr[ow] : yo[ow];
          io[ow] = gt ? base + ar[ow] : io[ow];
        }
      }
    }
  });
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
