// ops/cpu/conv2d_fast.hpp -- fast float 2-D convolution on the CPU (forward and both backwards).
//
// Same contract as the reference loops in ops/cpu/conv2d.hpp (NCHW, weights [K,C,R,S], groups 1,
// symmetric padding; forward overwrites y, the backwards ACCUMULATE into dx / dw / db) and tested
// against them in tests/ops/test_conv2d.cpp. Call them through ops/conv2d.hpp:
//
//   ops::Conv2dParams p{.N = 8, .C = 64, .H = 80, .W = 80, .K = 64, .R = 3, .S = 3, .stride = 1, .pad = 1};
//   ops::conv2d_forward<float>(p, x, w, nullptr, y);
//
// Every convolution here is a matrix product computed by the packed micro-kernel of gemm.hpp.
// With CRS = C*R*S and P = OH*OW, and "col" = the im2col matrix of one image (CRS x P,
// col[(c,r,s), (oh,ow)] = x[c, oh*stride-pad+r, ow*stride-pad+s], 0 in the padding):
//
//   forward          y[n]  (K x P)   = w (K x CRS)     * col[n] (CRS x P)      (+ bias)
//   backward_input   dcol  (CRS x P) = w^T (CRS x K)   * dy[n] (K x P),   then dx[n] += col2im(dcol)
//   backward_weight  dw    (K x CRS) += dy[n] (K x P)  * col[n]^T (P x CRS),   summed over n
//
// The im2col matrix is never materialised: the packing routines read x directly while they copy
// a kc x 48 block of "col" into the kernel's panel layout (implicit im2col). A 1x1, stride-1,
// unpadded conv needs no col at all (col = x), and backward_input then adds straight into dx.
//
// Blocking: a block of up to kc (~256-384) reduction steps of A (weights) and of B (pixels) is
// packed per thread; the kernel walks 8-row A panels (kept in L1) against 48-column B panels
// (kept in L2). Threads (OpenMP, static schedules) take whole work items:
//   forward / backward_input: (image, block of output pixels [, block of rows]) -- results do not
//     depend on the thread count at all;
//   backward_weight: a contiguous range of (image, pixel) reduction steps per thread, each thread
//     summing into its own copy of dw, the copies then added in thread order -- deterministic
//     for a given thread count.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <exception>
#include <vector>

#include <omp.h>

#include "../../core/error.hpp"
#include "conv2d.hpp"
#include "gemm.hpp"

namespace yolite::ops::fast {

namespace detail {

using gemm::kMR;
using gemm::kNR;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Splits a reduction of length kd into nearly equal blocks of at most kmax steps.
inline int reduction_block(int64_t kd, int kmax) {
  int64_t nb = ceil_div(kd, kmax);
  return int(ceil_div(kd, nb));
}

inline bool is_pointwise(const Conv2dParams& p) {
  return p.R == 1 && p.S == 1 && p.stride == 1 && p.pad == 0;
}

// out[q] = col[(c,r,s), j0 + q] for q < n: one row segment of the (virtual) im2col matrix of the
// image ximg [C,H,W]. Pixels j run over the output grid row-major (j = oh*OW + ow).
inline void im2col_row(const Conv2dParams& p, const float* ximg, int c, int r, int s, int64_t j0,
                       int n, float* out) {
  const float* xc = ximg + int64_t(c) * p.H * p.W;
  if (is_pointwise(p)) {
    std::memcpy(out, xc + j0, sizeof(float) * size_t(n));
    return;
  }
  const int OW = p.OW(), st = p.stride, W = p.W;
  // output columns ow whose input column iw = ow*st - pad + s lies inside [0, W)
  const int off = s - p.pad;
  const int lo = off >= 0 ? 0 : int(ceil_div(-off, st));
  const int hi = (W - 1 - off) < 0 ? -1 : (W - 1 - off) / st;  // inclusive
  int oh = int(j0 / OW), ow = int(j0 % OW);
  int q = 0;
  while (q < n) {
    const int seg = std::min(OW - ow, n - q);
    float* o = out + q;
    const int ih = oh * st - p.pad + r;
    if (ih < 0 || ih >= p.H) {
      std::fill(o, o + seg, 0.f);
    } else {
      const float* xrow = xc + int64_t(ih) * W;
      const int a = std::clamp(lo, ow, ow + seg), b = std::clamp(hi + 1, a, ow + seg);
      std::fill(o, o + (a - ow), 0.f);
      if (st == 1) {
        std::memcpy(o + (a - ow), xrow + (a + off), sizeof(float) * size_t(b - a));
      } else if (st == 2) {
        const float* src = xrow + (2 * a + off);
        float* dst = o + (a - ow);
        for (int t = 0; t < b - a; ++t) dst[t] = src[2 * t];
      } else {
        for (int t = a; t < b; ++t) o[t - ow] = xrow[t * st + off];
      }
      std::fill(o + (b - ow), o + seg, 0.f);
    }
    q += seg;
    ow = 0;
    ++oh;
  }
}

// The transpose of im2col_row: dx[c, ih, iw] += in[q] for the same (row, pixel) pairs.
inline void col2im_row_add(const Conv2dParams& p, float* dximg, int c, int r, int s, int64_t j0,
                           int n, const float* in) {
  float* xc = dximg + int64_t(c) * p.H * p.W;
  const int OW = p.OW(), st = p.stride, W = p.W;
  const int off = s - p.pad;
  const int lo = off >= 0 ? 0 : int(ceil_div(-off, st));
  const int hi = (W - 1 - off) < 0 ? -1 : (W - 1 - off) / st;
  int oh = int(j0 / OW), ow = int(j0 % OW);
  int q = 0;
  while (q < n) {
    const int seg = std::min(OW - ow, n - q);
    const int ih = oh * st - p.pad + r;
    if (ih >= 0 && ih < p.H) {
      float* xrow = xc + int64_t(ih) * W;
      const float* i = in + q;
      const int a = std::clamp(lo, ow, ow + seg), b = std::clamp(hi + 1, a, ow + seg);
      if (st == 1) {
        float* dst = xrow + (a + off);
        const float* src = i + (a - ow);
        for (int t = 0; t < b - a; ++t) dst[t] += src[t];
      } else {
        for (int t = a; t < b; ++t) xrow[t * st + off] += i[t - ow];
      }
    }
    q += seg;
    ow = 0;
    ++oh;
  }
}

// Packs rows [0, mr) x steps [0, kc) of a matrix whose element (i, kk) is src[i*rs + kk*cs]
// into one A panel: dst[kk*kMR + i], zero rows past mr.
inline void pack_a_panel(const float* src, int64_t rs, int64_t cs, int mr, int kc, float* dst) {
  if (mr == kMR && rs == 1) {
    for (int kk = 0; kk < kc; ++kk)
      for (int i = 0; i < kMR; ++i) dst[kk * kMR + i] = src[kk * cs + i];
    return;
  }
  if (mr == kMR && cs == 1) {
    for (int kk = 0; kk < kc; ++kk)
      for (int i = 0; i < kMR; ++i) dst[kk * kMR + i] = src[i * rs + kk];
    return;
  }
  for (int kk = 0; kk < kc; ++kk)
    for (int i = 0; i < kMR; ++i) dst[kk * kMR + i] = i < mr ? src[i * rs + kk * cs] : 0.f;
}

// Packs all A panels for rows [0, m) (panel ip at dst + ip*kc*kMR).
inline void pack_a(const float* src, int64_t rs, int64_t cs, int m, int kc, float* dst) {
  for (int i0 = 0, ip = 0; i0 < m; i0 += kMR, ++ip)
    pack_a_panel(src + i0 * rs, rs, cs, std::min(kMR, m - i0), kc, dst + int64_t(ip) * kc * kMR);
}

// B panels from row-major rows: element (kk, j) = src[kk*ld + j], columns [0, ncols).
inline void pack_b_rows(const float* src, int64_t ld, int kc, int ncols, float* dst) {
  for (int j0 = 0, pn = 0; j0 < ncols; j0 += kNR, ++pn) {
    const int nr = std::min(kNR, ncols - j0);
    float* d = dst + int64_t(pn) * kc * kNR;
    for (int kk = 0; kk < kc; ++kk) {
      std::memcpy(d + kk * kNR, src + kk * ld + j0, sizeof(float) * size_t(nr));
      if (nr < kNR) std::fill(d + kk * kNR + nr, d + (kk + 1) * kNR, 0.f);
    }
  }
}

// C[m x ncols] (ldc) (+)= A * B over a reduction of length kd, in blocks of kc_max steps.
//   pack_a(k0, kc, dst): all A panels of rows [0, m) for steps [k0, k0+kc)
//   pack_b(k0, kc, dst): all B panels of columns [0, ncols) for steps [k0, k0+kc)
// accumulate=false: the first block overwrites C (starting from bias[row] when bias != nullptr).
template <class PackA, class PackB>
void gemm_blocked(int m, int ncols, int64_t kd, int kc_max, PackA&& pack_a_fn,
                  PackB&& pack_b_fn, float* c, int64_t ldc, bool accumulate, const float* bias,
                  float* abuf, float* bbuf) {
  const int kcb_nominal = reduction_block(kd, kc_max);
  for (int64_t k0 = 0; k0 < kd; k0 += kcb_nominal) {
    const int kc = int(std::min<int64_t>(kcb_nominal, kd - k0));
    pack_b_fn(k0, kc, bbuf);
    pack_a_fn(k0, kc, abuf);
    const bool acc = accumulate || k0 > 0;
    for (int i0 = 0, ip = 0; i0 < m; i0 += kMR, ++ip) {
      const float* ap = abuf + int64_t(ip) * kc * kMR;
      const float* bi = (!acc && bias) ? bias + i0 : nullptr;
      const int mr = std::min(kMR, m - i0);
      for (int j0 = 0, pn = 0; j0 < ncols; j0 += kNR, ++pn)
        gemm::micro_kernel(kc, ap, bbuf + int64_t(pn) * kc * kNR, c + i0 * ldc + j0, ldc, mr,
                           std::min(kNR, ncols - j0), acc, bi);
    }
  }
}

// Tuning constants (measured on AVX-512, 2 MB L2 per core).
inline constexpr int kKcMax = 384;          // reduction steps per packed block
inline constexpr int64_t kBBlockFloats = 96 * 1024;  // target size of one packed B block

// Pixel block: a multiple of kNR with kc*nc about kBBlockFloats, spread evenly over P.
inline int pixel_block(int64_t P, int kc) {
  int64_t nmax = std::max<int64_t>(kNR, kBBlockFloats / std::max(kc, 1) / kNR * kNR);
  int64_t nb = ceil_div(P, nmax);
  return int(ceil_div(ceil_div(P, nb), kNR) * kNR);
}

// Runs body(item, abuf, bbuf, cbuf) for items [0, nitems) over the OpenMP threads (static
// schedule), giving each thread its scratch buffers; rethrows the first exception after the loop.
template <class Body>
void run_items(int64_t nitems, size_t na, size_t nb, size_t ncbuf, Body&& body) {
  std::exception_ptr err = nullptr;
  std::atomic<bool> failed{false};
  const bool par = nitems > 1 && !omp_in_parallel() && omp_get_max_threads() > 1;
#pragma omp parallel if (par)
  {
    try {
      float* abuf = gemm::scratch(0, na);
      float* bbuf = gemm::scratch(1, nb);
      float* cbuf = ncbuf ? gemm::scratch(2, ncbuf) : nullptr;
#pragma omp for schedule(static)
      for (int64_t it = 0; it < nitems; ++it) {
        if (failed.load(std::memory_order_relaxed)) continue;
        try {
          body(it, abuf, bbuf, cbuf);
        } catch (...) {
#pragma omp critical(yolite_conv_err)
          if (!err) err = std::current_exception();
          failed = true;
        }
      }
    } catch (...) {
#pragma omp critical(yolite_conv_err)
      if (!err) err = std::current_exception();
      failed = true;
    }
  }
  if (err) std::rethrow_exception(err);
}

}  // namespace detail

// ---- forward ------------------------------------------------------------------------------
inline void conv2d_forward(const Conv2dParams& p, const float* x, const float* w, const float* b,
                           float* y) {
  using namespace detail;
  const int M = p.K;
  const int RS = p.R * p.S;
  const int64_t CRS = int64_t(p.C) * RS, P = int64_t(p.OH()) * p.OW(), CHW = int64_t(p.C) * p.H * p.W;
  const int kc = reduction_block(CRS, kKcMax);
  const int nc = pixel_block(P, kc);
  const int64_t nj = ceil_div(P, nc);
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  // rows are split too when there are too few (image, pixel block) items to share out evenly
  const int64_t items0 = p.N * nj;
  const int mpan = int(ceil_div(M, kMR));
  const int mparts = (items0 % threads == 0 || items0 >= 4 * threads)
                         ? 1
                         : int(std::min<int64_t>(mpan, threads));
  const int rows_per_part = int(ceil_div(mpan, mparts)) * kMR;
  run_items(items0 * mparts, size_t(kc) * rows_per_part, size_t(kc) * nc, 0,
            [&](int64_t it, float* abuf, float* bbuf, float*) {
              const int mp = int(it % mparts);
              const int64_t jb = (it / mparts) % nj, n = it / mparts / nj;
              const int r0 = mp * rows_per_part;
              const int m = std::min(M - r0, rows_per_part);
              if (m <= 0) return;
              const int64_t j0 = jb * nc;
              const int ncols = int(std::min<int64_t>(nc, P - j0));
              const float* ximg = x + n * CHW;
              auto pa = [&](int64_t k0, int kcb, float* dst) {
                pack_a(w + r0 * CRS + k0, CRS, 1, m, kcb, dst);
              };
              auto pb = [&](int64_t k0, int kcb, float* dst) {
                for (int kk = 0; kk < kcb; ++kk) {
                  const int64_t row = k0 + kk;
                  const int c = int(row / RS), r = int(row % RS) / p.S, s = int(row % p.S);
                  for (int jj = 0, pn = 0; jj < ncols; jj += kNR, ++pn) {
                    const int nr = std::min(kNR, ncols - jj);
                    float* d = dst + int64_t(pn) * kcb * kNR + kk * kNR;
                    im2col_row(p, ximg, c, r, s, j0 + jj, nr, d);
                    if (nr < kNR) std::fill(d + nr, d + kNR, 0.f);
                  }
                }
              };
              gemm_blocked(m, ncols, CRS, kc, pa, pb, y + (n * M + r0) * P + j0, P, false,
                           b ? b + r0 : nullptr, abuf, bbuf);
            });
}

// ---- backward input: dx += conv2d_transpose(dy, w) ------------------------------------------
inline void conv2d_backward_input(const Conv2dParams& p, const float* dy, const float* w,
                                  float* dx) {
  using namespace detail;
  const int K = p.K, RS = p.R * p.S;
  const int64_t CRS = int64_t(p.C) * RS, P = int64_t(p.OH()) * p.OW(), CHW = int64_t(p.C) * p.H * p.W;
  const int kc = reduction_block(K, kKcMax);
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  // A = w^T: element (row = crs, step = k) is w[k*CRS + crs]
  if (is_pointwise(p)) {
    // dx[n] (C x P) += w^T * dy[n], straight into dx: items (image, pixel block, row block)
    const int nc = pixel_block(P, kc);
    const int64_t nj = ceil_div(P, nc);
    const int64_t items0 = p.N * nj;
    const int mpan = int(ceil_div(p.C, kMR));
    const int mparts = (items0 % threads == 0 || items0 >= 4 * threads)
                           ? 1
                           : int(std::min<int64_t>(mpan, threads));
    const int rows_per_part = int(ceil_div(mpan, mparts)) * kMR;
    run_items(items0 * mparts, size_t(kc) * rows_per_part, size_t(kc) * nc, 0,
              [&](int64_t it, float* abuf, float* bbuf, float*) {
                const int mp = int(it % mparts);
                const int64_t jb = (it / mparts) % nj, n = it / mparts / nj;
                const int r0 = mp * rows_per_part;
                const int m = std::min(p.C - r0, rows_per_part);
                if (m <= 0) return;
                const int64_t j0 = jb * nc;
                const int ncols = int(std::min<int64_t>(nc, P - j0));
                const float* dyimg = dy + n * K * P;
                auto pa = [&](int64_t k0, int kcb, float* dst) {
                  pack_a(w + k0 * CRS + r0, 1, CRS, m, kcb, dst);
                };
                auto pb = [&](int64_t k0, int kcb, float* dst) {
                  pack_b_rows(dyimg + k0 * P + j0, P, kcb, ncols, dst);
                };
                gemm_blocked(m, ncols, K, kc, pa, pb, dx + n * CHW + int64_t(r0) * P + j0, P,
                             true, nullptr, abuf, bbuf);
              });
    return;
  }
  // General case: per image and group of input channels (so no two threads add into the same
  // part of dx), dcol blocks go to a scratch buffer and are scattered with col2im.
  const int nc = std::min<int>(pixel_block(P, kc), 240);
  const int64_t nj = ceil_div(P, nc);
  const int cgroups = int(std::min<int64_t>(
      p.C, (p.N % threads == 0 || p.N >= 4 * threads) ? 1 : ceil_div(2 * threads, p.N)));
  const int cper = int(ceil_div(p.C, cgroups));
  const int rows_max = int(std::max<int64_t>(kMR, std::min<int64_t>(int64_t(cper) * RS, 256)));
  const int rows_alloc = int(ceil_div(rows_max, kMR)) * kMR;
  run_items(int64_t(p.N) * cgroups, size_t(kc) * rows_alloc, size_t(kc) * nc,
            size_t(rows_alloc) * nc, [&](int64_t it, float* abuf, float* bbuf, float* cbuf) {
              const int g = int(it % cgroups);
              const int64_t n = it / cgroups;
              const int c0 = g * cper, c1 = std::min(p.C, c0 + cper);
              if (c0 >= c1) return;
              const float* dyimg = dy + n * K * P;
              float* dximg = dx + n * CHW;
              const int64_t row_end = int64_t(c1) * RS;
              for (int64_t jb = 0; jb < nj; ++jb) {
                const int64_t j0 = jb * nc;
                const int ncols = int(std::min<int64_t>(nc, P - j0));
                for (int64_t ra = int64_t(c0) * RS; ra < row_end; ra += rows_max) {
                  const int m = int(std::min<int64_t>(rows_max, row_end - ra));
                  auto pa = [&](int64_t k0, int kcb, float* dst) {
                    pack_a(w + k0 * CRS + ra, 1, CRS, m, kcb, dst);
                  };
                  auto pb = [&](int64_t k0, int kcb, float* dst) {
                    pack_b_rows(dyimg + k0 * P + j0, P, kcb, ncols, dst);
                  };
                  gemm_blocked(m, ncols, K, kc, pa, pb, cbuf, nc, false, nullptr, abuf, bbuf);
                  for (int i = 0; i < m; ++i) {
                    const int64_t row = ra + i;
                    const int c = int(row / RS), r = int(row % RS) / p.S, s = int(row % p.S);
                    col2im_row_add(p, dximg, c, r, s, j0, ncols, cbuf + int64_t(i) * nc);
                  }
                }
              }
            });
}

// ---- backward weight: dw += sum_n dy[n] * col[n]^T,  db += sum dy -------------------------
inline void conv2d_backward_weight(const Conv2dParams& p, const float* x, const float* dy,
                                   float* dw, float* db) {
  using namespace detail;
  const int K = p.K, RS = p.R * p.S;
  const int64_t CRS = int64_t(p.C) * RS, P = int64_t(p.OH()) * p.OW(), CHW = int64_t(p.C) * p.H * p.W;
  const int64_t total = int64_t(p.N) * P;  // reduction steps (image, pixel)
  const int kc = int(std::min<int64_t>(kKcMax, std::max<int64_t>(P, 1)));
  const int nc = int(std::min<int64_t>(CRS, std::max<int64_t>(kNR, kBBlockFloats / kc / kNR * kNR)));
  const int kpan = int(ceil_div(K, kMR)) * kMR;
  const int64_t dwsize = int64_t(K) * CRS;
  const bool par = !omp_in_parallel() && omp_get_max_threads() > 1 && total > kc;
  const int max_team = par ? omp_get_max_threads() : 1;
  std::vector<float*> partial(size_t(max_team), nullptr);
  std::exception_ptr err = nullptr;
  std::atomic<bool> failed{false};
#pragma omp parallel if (par)
  {
    const int T = omp_get_num_threads(), t = omp_get_thread_num();
    float *abuf = nullptr, *bbuf = nullptr, *mine = dw;
    try {
      abuf = gemm::scratch(0, size_t(kc) * kpan);
      bbuf = gemm::scratch(1, size_t(kc) * ceil_div(nc, kNR) * kNR);
      if (t > 0) {
        mine = gemm::scratch(3, size_t(dwsize));
        std::fill(mine, mine + dwsize, 0.f);
      }
      partial[size_t(t)] = mine;
    } catch (...) {
#pragma omp critical(yolite_conv_err)
      if (!err) err = std::current_exception();
      failed = true;
    }
#pragma omp barrier
    if (!failed.load()) {
      // this thread's reduction steps: [q0, q1) of the flattened (image, pixel) range
      const int64_t q0 = total * t / T, q1 = total * (t + 1) / T;
      for (int64_t q = q0; q < q1;) {
        const int64_t n = q / P, pix0 = q % P;
        const int64_t seg_end = std::min(q1, (n + 1) * P);
        const int64_t len = seg_end - q;
        const float* ximg = x + n * CHW;
        const float* dyimg = dy + n * K * P;
        for (int64_t j0 = 0; j0 < CRS; j0 += nc) {
          const int ncols = int(std::min<int64_t>(nc, CRS - j0));
          // A: element (row = k, step = pixel) = dy[n, k, pix0 + step]
          auto pa = [&](int64_t k0, int kcb, float* dst) {
            pack_a(dyimg + pix0 + k0, P, 1, K, kcb, dst);
          };
          // B: element (step = pixel, column = crs) = col[crs, pix0 + step]
          auto pb = [&](int64_t k0, int kcb, float* dst) {
            alignas(64) float row[kKcMax];
            for (int jj = 0; jj < ncols; ++jj) {
              const int64_t crs = j0 + jj;
              const int c = int(crs / RS), r = int(crs % RS) / p.S, s = int(crs % p.S);
              im2col_row(p, ximg, c, r, s, pix0 + k0, kcb, row);
              float* d = dst + int64_t(jj / kNR) * kcb * kNR + (jj % kNR);
              for (int kk = 0; kk < kcb; ++kk) d[kk * kNR] = row[kk];
            }
            // zero the padding columns of the last panel
            const int tail = ncols % kNR;
            if (tail) {
              float* d = dst + int64_t(ncols / kNR) * kcb * kNR;
              for (int kk = 0; kk < kcb; ++kk) std::fill(d + kk * kNR + tail, d + (kk + 1) * kNR, 0.f);
            }
          };
          gemm_blocked(K, ncols, len, kc, pa, pb, mine + j0, CRS, true, nullptr, abuf, bbuf);
        }
        q = seg_end;
      }
    }
#pragma omp barrier
    if (!failed.load() && T > 1) {
#pragma omp for schedule(static)
      for (int64_t e = 0; e < dwsize; ++e) {
        float v = dw[e];
        for (int u = 1; u < T; ++u) v += partial[size_t(u)][e];
        dw[e] = v;
      }
    }
    if (db && !failed.load()) {
#pragma omp for schedule(static)
      for (int k = 0; k < K; ++k) {
        float acc = 0.f;
        for (int64_t n = 0; n < p.N; ++n) {
          const float* row = dy + (n * K + k) * P;
          float s = 0.f;
          for (int64_t j = 0; j < P; ++j) s += row[j];
          acc += s;
        }
        db[k] += acc;
      }
    }
  }
  if (err) std::rethrow_exception(err);
}

}  // namespace yolite::ops::fast
