// ops/cpu/conv2d_fast.hpp -- fast float 2-D convolution on the CPU (forward and both backwards).
//
// Same contract as the reference loops in ops/cpu/conv2d.hpp (NCHW, weights [K,C,R,S], groups 1,
// symmetric padding; forward overwrites y, the backwards ACCUMULATE into dx / dw / db) and tested
// against them in tests/ops/test_conv2d.cpp. Call them through ops/conv2d.hpp:
//
//   ops::Conv2dParams p{.N = 8, .C = 64, .H = 80, .W = 80, .K = 64, .R = 3, .S = 3, .stride = 1, .pad = 1};
//   ops::conv2d_forward<float>(p, x, w, nullptr, y);
//
// Every convolution here is a matrix product done by the register-tiled kernels of gemm.hpp.
// With CRS = C*R*S taps and P = OH*OW output pixels, "col" = the im2col matrix of one image
// (CRS x P, col[(c,r,s), (oh,ow)] = x[c, oh*stride-pad+r, ow*stride-pad+s], 0 in the padding):
//
//   forward          y[n]  (K x P)   = w (K x CRS)    * col[n]            (+ bias)
//   backward_input   dx[n]           += col2im( w^T (CRS x K) * dy[n] )
//   backward_weight  dw    (K x CRS) += sum_n dy[n] (K x P) * col[n]^T
//
// col is never materialised. The "shifted GEMM" (see ShiftLayout) splits the zero-padded input
// by stride phase into planes on which every tap (c,r,s) is a constant shift of the output
// position, so the kernel reads B = col straight from the planes (a 1x1 stride-1 conv reads x
// itself), and computes a few dropped positions at the right edge of each row instead.
//   forward:                 shift_conv, B read in place, weights packed once per call.
//   backward_input stride 1: the same shift_conv on dy with the kernel flipped and transposed.
//   backward_input stride>1: packed GEMM into a dcol block, then col2im (scatter-add).
//   backward_weight:         row-pointer kernel: taps read in place from the planes, dy
//                            transposed per block of positions.
// Threads (OpenMP, static schedules) take whole work items: forward / backward_input split by
// (image, block of output positions [, block of rows]) or (image, group of input channels),
// so their results do not depend on the thread count; backward_weight splits the positions and
// adds per-thread partial sums in thread order -- deterministic for a given thread count.
// Scratch buffers come from gemm::scratch (per thread, grow-only, reused between calls).
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <exception>
#include <optional>
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

// col2im of one row segment: for the im2col row (c, r, s) (col[(c,r,s), (oh,ow)] =
// x[c, oh*stride-pad+r, ow*stride-pad+s]) and pixels j0..j0+n-1 of the output grid (row-major),
// dx[c, ih, iw] += in[j - j0] wherever that input position lies inside the image.
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
      } else if (st == 2) {
        float* dst = xrow + (2 * a + off);
        const float* src = i + (a - ow);
        int t = 0;
#if defined(__AVX512F__)
        // 16 sources spread onto the even lanes of 32 destinations (odd lanes left untouched)
        const __m512i lo = _mm512_setr_epi32(0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0);
        const __m512i hi = _mm512_setr_epi32(8, 0, 9, 0, 10, 0, 11, 0, 12, 0, 13, 0, 14, 0, 15, 0);
        for (; t < b - a; t += 16) {
          const int n = std::min(16, b - a - t);  // sources; destinations span 2n-1 floats
          const __m512 v = _mm512_maskz_loadu_ps(__mmask16((1u << n) - 1), src + t);
          const int d0 = std::min(16, 2 * n - 1), d1 = 2 * n - 1 - d0;
          const __mmask16 m0 = __mmask16(((1u << d0) - 1) & 0x5555u);
          const __mmask16 m1 = __mmask16(((1u << d1) - 1) & 0x5555u);
          float* d = dst + 2 * t;
          const __m512 x0 = _mm512_maskz_loadu_ps(m0, d), x1 = _mm512_maskz_loadu_ps(m1, d + 16);
          _mm512_mask_storeu_ps(d, m0, _mm512_add_ps(x0, _mm512_maskz_permutexvar_ps(__mmask16(0x5555), lo, v)));
          _mm512_mask_storeu_ps(d + 16, m1, _mm512_add_ps(x1, _mm512_maskz_permutexvar_ps(__mmask16(0x5555), hi, v)));
        }
#endif
        for (; t < b - a; ++t) dst[2 * t] += src[t];
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

// Tuning constants (measured on AVX-512, 2 MB L2 per core).
inline constexpr int kKcMax = 384;          // reduction steps per packed block
inline constexpr int64_t kBBlockFloats = 96 * 1024;  // target size of one packed B block

// Pixel block: a multiple of kNR with kc*nc about kBBlockFloats, spread evenly over P.
inline int pixel_block(int64_t P, int kc) {
  int64_t nmax = std::max<int64_t>(kNR, kBBlockFloats / std::max(kc, 1) / kNR * kNR);
  int64_t nb = ceil_div(P, nmax);
  return int(ceil_div(ceil_div(P, nb), kNR) * kNR);
}

// Runs prologue(j) for j in [0, nprologue), then body(item, abuf, bbuf, cbuf) for items
// [0, nitems), in one OpenMP parallel region (static schedules), giving each thread its scratch
// buffers; rethrows the first exception after the loops.
template <class Prologue, class Body>
void run_items(int64_t nprologue, Prologue&& prologue, int64_t nitems, size_t na, size_t nb,
               size_t ncbuf, Body&& body) {
  std::exception_ptr err = nullptr;
  std::atomic<bool> failed{false};
  auto record = [&] {
#pragma omp critical(yolite_conv_err)
    if (!err) err = std::current_exception();
    failed = true;
  };
  const bool par =
      (nitems > 1 || nprologue > 1) && !omp_in_parallel() && omp_get_max_threads() > 1;
#pragma omp parallel if (par)
  {
    float *abuf = nullptr, *bbuf = nullptr, *cbuf = nullptr;
    try {
      abuf = gemm::scratch(gemm::Scratch::pack_a, na);
      bbuf = gemm::scratch(gemm::Scratch::pack_b, nb);
      cbuf = ncbuf ? gemm::scratch(gemm::Scratch::tile_c, ncbuf) : nullptr;
    } catch (...) {
      record();
    }
    // every thread reaches both loops (worksharing constructs must be met by the whole team);
    // after a failure they only skip the work
#pragma omp for schedule(static)
    for (int64_t j = 0; j < nprologue; ++j) {
      if (failed.load(std::memory_order_relaxed)) continue;
      try {
        prologue(j);
      } catch (...) {
        record();
      }
    }
    // (implicit barrier: what the prologue wrote is visible to every item)
#pragma omp for schedule(static)
    for (int64_t it = 0; it < nitems; ++it) {
      if (failed.load(std::memory_order_relaxed)) continue;
      try {
        body(it, abuf, bbuf, cbuf);
      } catch (...) {
        record();
      }
    }
  }
  if (err) std::rethrow_exception(err);
}

}  // namespace detail

// ---- shifted GEMM: the forward convolution without an im2col copy -------------------------
namespace detail {

// The input as the kernel reads it. A stride-st conv reads x[st*oh + r - pad][st*ow + s - pad];
// writing r = st*(r/st) + r%st, that is plane (r%st, s%st) of the zero-padded input split by
// stride phase, at row oh + r/st, column ow + s/st. On a plane Wq columns wide, output pixel
// (oh, ow) <-> position q = oh*Wq + ow, and tap (c,r,s) reads position q + (r/st)*Wq + s/st:
// one fixed shift per tap, so B[(c,r,s), q] = planes[offset(c,r,s) + q] with no copy. The
// Wq - OW columns past the image's right edge are computed and dropped when storing.
// A 1x1, stride-1, unpadded conv reads x itself (direct).
struct ShiftLayout {
  int st = 1, Hq = 0, Wq = 0;
  int64_t plane = 0;  // floats per plane (Hq*Wq)
  int64_t image = 0;  // floats per image (C*st*st*plane)
  bool direct = false;
  int64_t positions = 0;  // q range that holds every output pixel: (OH-1)*Wq + OW
};

inline ShiftLayout shift_layout(const Conv2dParams& p) {
  ShiftLayout L;
  L.st = p.stride;
  L.direct = is_pointwise(p);
  L.Hq = p.OH() + (p.R - 1) / p.stride;
  L.Wq = p.OW() + (p.S - 1) / p.stride;
  if (L.direct) L.Hq = p.H, L.Wq = p.W;
  L.plane = int64_t(L.Hq) * L.Wq;
  L.image = int64_t(p.C) * L.st * L.st * L.plane;
  L.positions = int64_t(p.OH() - 1) * L.Wq + p.OW();
  return L;
}

// planes of channel c of one image: dst[(a*st + b)*plane + i*Wq + j] = x[c][st*i+a-pad][st*j+b-pad]
// (phase_stride = distance between the st*st planes of the channel; L.plane when packed)
// Only plane rows [row0, row1) are built (row0 lands at dst); row1 < 0 means all Hq rows.
inline void build_planes(const Conv2dParams& p, const ShiftLayout& L, const float* xc,
                         float* dst, int64_t phase_stride, int row0 = 0, int row1 = -1) {
  const int st = L.st;
  if (L.direct) {
    std::memcpy(dst, xc, sizeof(float) * size_t(L.plane));
    return;
  }
  if (row1 < 0) row1 = L.Hq;
  for (int a = 0; a < st; ++a)
    for (int b = 0; b < st; ++b) {
      float* pl = dst + int64_t(a * st + b) * phase_stride;
      // columns j with iw = st*j + b - pad inside [0, W)
      const int off = b - p.pad;
      const int lo = std::min(L.Wq, off >= 0 ? 0 : int(ceil_div(-off, st)));
      const int hi = std::max(lo, std::min(L.Wq, (p.W - 1 - off) < 0 ? 0 : (p.W - 1 - off) / st + 1));
      for (int i = row0; i < row1; ++i) {
        float* row = pl + int64_t(i - row0) * L.Wq;
        const int ih = st * i + a - p.pad;
        if (ih < 0 || ih >= p.H) {
          std::fill(row, row + L.Wq, 0.f);
          continue;
        }
        const float* xr = xc + int64_t(ih) * p.W;
        std::fill(row, row + lo, 0.f);
        if (st == 1) {
          std::memcpy(row + lo, xr + lo + off, sizeof(float) * size_t(hi - lo));
        } else if (st == 2) {
          int j = lo;
#if defined(__AVX512F__)
          // 16 outputs from 32 inputs: keep the even lanes (masked loads never read past
          // the row's last input, W-1)
          const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22,
                                                 24, 26, 28, 30);
          for (; j < hi; j += 16) {
            const int n = std::min(16, hi - j);
            const float* src = xr + 2 * j + off;
            const int avail = std::min(32, p.W - (2 * j + off));  // inputs left in the row
            const __mmask16 m0 = avail >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << avail) - 1);
            const int a1 = avail - 16;
            const __mmask16 m1 = a1 >= 16 ? __mmask16(0xFFFF)
                                 : a1 <= 0 ? __mmask16(0)
                                           : __mmask16((1u << a1) - 1);
            const __m512 v0 = _mm512_maskz_loadu_ps(m0, src), v1 = _mm512_maskz_loadu_ps(m1, src + 16);
            const __m512 r = _mm512_permutex2var_ps(v0, even, v1);
            _mm512_mask_storeu_ps(row + j, __mmask16((1u << n) - 1), r);
          }
#endif
          for (; j < hi; ++j) row[j] = xr[2 * j + off];
        } else {
          for (int j = lo; j < hi; ++j) row[j] = xr[st * j + off];
        }
        std::fill(row + hi, row + L.Wq, 0.f);
      }
    }
}

// Where the 48 positions [q0, q0+nr) of a tile go in the compact OH x OW output.
inline void make_tile_map(const ShiftLayout& L, int OW, int64_t q0, int nr, gemm::TileMap& m) {
  m.nr = nr;
  m.keep[0] = m.keep[1] = m.keep[2] = 0;
  m.vdst[0] = m.vdst[1] = m.vdst[2] = 0;
  int first = -1;
  bool dense = true;
  int prev = -2;
  int64_t oh = q0 / L.Wq;
  int ow = int(q0 % L.Wq);
  for (int j = 0; j < kNR; ++j) {
    int d = -1;
    if (j < nr && ow < OW) d = int(oh * OW + ow);
    m.dst[j] = d;
    if (j < nr) {
      if (d < 0 || (prev >= 0 && d != prev + 1)) dense = false;
      if (d >= 0) {
        if (first < 0) first = d;
        const int v = j / 16;
        if (!(m.keep[v])) m.vdst[v] = d;
        m.keep[v] = uint16_t(m.keep[v] | (1u << (j % 16)));
        prev = d;
      }
    }
    if (++ow == L.Wq) ow = 0, ++oh;
  }
  m.first = first < 0 ? 0 : first;
  m.dense = dense;
}

inline constexpr int kShiftTiles = 16;  // tiles (of kNR positions) per work item at most

// How the forward packs its weights: reduction blocks of kc taps (whole input channels, as many
// as keep one tile's B data -- the 48-wide input segments its taps read -- within about 28 KB
// of L1, so the kernel reuses it for every 8-row A panel; taps sharing a plane row overlap, so
// a channel costs st*st*ceil(R/st) segments, 1 for a pointwise conv), and M = K rows in mpan
// panels of kMR. Depends on (C, K, R, S, stride, pad) only, never on the image size, so packed
// weights can be kept and reused (PackedConvWeights).
struct ForwardPlan {
  int kc = 0, mpan = 0;
  int64_t CRS = 0, Mpad = 0, nkb = 0;
};
inline ForwardPlan forward_plan(const Conv2dParams& p) {
  const ShiftLayout L = shift_layout(p);
  const int RS = p.R * p.S, st = L.st;
  ForwardPlan f;
  f.CRS = int64_t(p.C) * RS;
  const int64_t seg_per_channel = L.direct ? 1 : int64_t(st) * st * ceil_div(p.R, st);
  const int64_t seg_bytes = int64_t(kNR + p.S) * 4;
  const int64_t ch_per_block = std::clamp<int64_t>(28 * 1024 / (seg_per_channel * seg_bytes), 1,
                                                   std::max<int64_t>(1, 512 / RS));
  f.kc = reduction_block(f.CRS, int(ch_per_block * RS));
  f.mpan = int(ceil_div(p.K, kMR));
  f.Mpad = int64_t(f.mpan) * kMR;
  f.nkb = ceil_div(f.CRS, f.kc);
  return f;
}

// Packs job jb of the plan (reduction block jb / mpan, row panel jb % mpan of a K-row weight
// matrix) into apack: block k0 at apack + k0*Mpad, panel ip of it at + ip*kcb*kMR.
// pack_w(r0, m, k0, kc, dst) as in shift_conv.
template <class PackW>
void pack_forward_job(const ForwardPlan& plan, int K, int64_t jb, PackW&& pack_w, float* apack) {
  const int64_t k0 = jb / plan.mpan * plan.kc;
  const int ip = int(jb % plan.mpan);
  const int kcb = int(std::min<int64_t>(plan.kc, plan.CRS - k0));
  pack_w(ip * kMR, std::min(kMR, K - ip * kMR), k0, kcb,
         apack + k0 * plan.Mpad + int64_t(ip) * kcb * kMR);
}

// y[n] (=|+=) conv(x[n], w) (+ bias), y compact NCHW. accumulate=true adds into y.
// pack_w(r0, m, k0, kc, dst) packs the A panels of weight rows [r0, r0+m) (output channels),
// reduction steps [k0, k0+kc) (taps (c,r,s)) -- so callers can feed a transformed weight
// tensor without materialising it. prepacked != nullptr: the panels are already there, in the
// layout below (forward_plan), and pack_w is not called. act is applied to every output once
// its last reduction block is done (not with accumulate).
template <class PackW>
void shift_conv(const Conv2dParams& p, const float* x, PackW&& pack_w, const float* b, float* y,
                bool accumulate, const float* prepacked = nullptr, ConvAct act = ConvAct::none) {
  const ShiftLayout L = shift_layout(p);
  const int M = p.K, RS = p.R * p.S, st = L.st;
  const int64_t P = int64_t(p.OH()) * p.OW();
  const int64_t CHW = int64_t(p.C) * p.H * p.W;
  const ForwardPlan plan = forward_plan(p);
  const int kc = plan.kc;
  const int64_t CRS = plan.CRS;
  const int64_t Q = L.positions;
  const int64_t nqmax = int64_t(kShiftTiles) * kNR;
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  int64_t nqb = ceil_div(Q, nqmax);
  // Few items (batch 1): make their count a multiple of the thread count, or the static
  // schedule leaves threads idle -- 9 position blocks of an 80x80 map on 2 threads are 5 + 4.
  // (Fewer than 2 blocks per thread are split by output rows instead: mparts below.)
  if (threads > 1 && nqb >= 2 * threads && p.N * nqb < 8 * threads)
    while ((p.N * nqb) % threads != 0) ++nqb;
  const int64_t nq = ceil_div(ceil_div(Q, nqb), kNR) * kNR;
  nqb = ceil_div(Q, nq);  // (rounding nq up to whole tiles can leave fewer blocks)
  // Each work item builds, in its own scratch (L2-sized), just the plane rows its nq positions
  // read: rows [q0/Wq, (q1-1+maxshift)/Wq]. The per-tap offsets are into that local copy, whose
  // planes are len = rows_max*Wq floats apart. (A direct conv reads x in place.)
  const int64_t maxshift = int64_t((p.R - 1) / st) * L.Wq + (p.S - 1) / st;
  const int64_t rows_max = std::min<int64_t>(L.Hq, ceil_div(nq + maxshift, L.Wq) + 1);
  const int64_t len = rows_max * L.Wq;
  const int64_t local_size = L.direct ? 16 : int64_t(p.C) * st * st * len;
  std::vector<int64_t> boff(static_cast<size_t>(CRS));
  for (int64_t t = 0; t < CRS; ++t) {
    const int c = int(t / RS), r = int(t % RS) / p.S, s = int(t % p.S);
    boff[size_t(t)] = L.direct ? int64_t(c) * L.plane
                               : (int64_t(c) * st * st + (r % st) * st + (s % st)) * len +
                                     int64_t(r / st) * L.Wq + s / st;
  }
  const int64_t items0 = p.N * nqb;
  const int mpan = plan.mpan;
  const int mparts = (items0 % threads == 0 || items0 >= 4 * threads)
                         ? 1
                         : int(std::min<int64_t>(mpan, threads));
  const int rows_per_part = int(ceil_div(mpan, mparts)) * kMR;
  const int OW = p.OW();
  // The weights are packed once per call into A panels (all rows, every reduction block:
  // block k0 at apack + k0*Mpad, panel ip of it at + ip*kcb*kMR) shared by all work items.
  const int64_t Mpad = plan.Mpad;
  const int64_t nkb = plan.nkb;
  float* own = prepacked ? nullptr : gemm::scratch(gemm::Scratch::packed_weights, size_t(Mpad * CRS));
  const float* apack = prepacked ? prepacked : own;
  auto pack_job = [&](int64_t jb) { pack_forward_job(plan, M, jb, pack_w, own); };
  run_items(prepacked ? 0 : nkb * mpan, pack_job, items0 * mparts, 16, size_t(local_size), 0,
            [&](int64_t it, float*, float* local, float*) {
              const int mp = int(it % mparts);
              const int64_t qb = (it / mparts) % nqb, n = it / mparts / nqb;
              const int r0 = mp * rows_per_part;
              const int m = std::min(M - r0, rows_per_part);
              if (m <= 0) return;
              const int64_t q0 = qb * nq, q1 = std::min(Q, q0 + nq);
              gemm::TileMap maps[kShiftTiles];
              int ntiles = 0;
              for (int64_t q = q0; q < q1; q += kNR)
                make_tile_map(L, OW, q, int(std::min<int64_t>(kNR, q1 - q)), maps[ntiles++]);
              const float* bimg;  // position q of the tile reads bimg + boff[tap] + q
              if (L.direct) {
                bimg = x + n * CHW;
              } else {
                const int row0 = int(q0 / L.Wq);
                const int row1 = int(std::min<int64_t>(L.Hq, (q1 - 1 + maxshift) / L.Wq + 1));
                for (int c = 0; c < p.C; ++c)
                  build_planes(p, L, x + n * CHW + int64_t(c) * p.H * p.W,
                               local + int64_t(c) * st * st * len, len, row0, row1);
                bimg = local - int64_t(row0) * L.Wq;
              }
              float* yimg = y + (n * M + r0) * P;
              for (int64_t k0 = 0; k0 < CRS; k0 += kc) {
                const int kcb = int(std::min<int64_t>(kc, CRS - k0));
                const float* abuf = apack + k0 * Mpad + int64_t(r0 / kMR) * kcb * kMR;
                const bool acc = accumulate || k0 > 0;
                // the epilogue (act) goes with the last reduction block, in registers
                const bool silu = act == ConvAct::silu && k0 + kcb >= CRS && !accumulate;
                const int64_t* bo = boff.data() + k0;
                // tile outer, A panels inner: the tile's input segments stay in L1 while the
                // packed A panels stream through in order
                for (int t = 0; t < ntiles; ++t) {
                  // ask for the next tile's input segments now: a direct conv reads kcb rows
                  // of x far apart, more streams than the hardware prefetchers follow
                  if (t + 1 < ntiles) {
                    const float* nb0 = bimg + q0 + int64_t(t + 1) * kNR;
                    for (int kk = 0; kk < kcb; ++kk)
                      for (int l = 0; l < kNR; l += 16) __builtin_prefetch(nb0 + bo[kk] + l, 0, 3);
                  }
                  for (int i0 = 0, ip = 0; i0 < m; i0 += kMR, ++ip) {
                    const float* ap = abuf + int64_t(ip) * kcb * kMR;
                    const float* bi = (!acc && b) ? b + r0 + i0 : nullptr;
                    const int mr = std::min(kMR, m - i0);
                    gemm::shift_kernel(kcb, ap, bimg + q0 + int64_t(t) * kNR, bo,
                                       yimg + int64_t(i0) * P, P, mr, maps[t], acc, bi, silu);
                  }
                }
              }
            });
}

}  // namespace detail

// ---- forward ------------------------------------------------------------------------------
// y = act(conv(x, w) + b): act is done on each tile as it is finished (no extra pass over y).
inline void conv2d_forward(const Conv2dParams& p, const float* x, const float* w, const float* b,
                           float* y, ConvAct act = ConvAct::none) {
  const int64_t CRS = int64_t(p.C) * p.R * p.S;
  detail::shift_conv(
      p, x,
      [&](int r0, int m, int64_t k0, int kc, float* dst) {
        detail::pack_a(w + r0 * CRS + k0, CRS, 1, m, kc, dst);
      },
      b, y, false, nullptr, act);
}

// ---- backward input: dx += conv2d_transpose(dy, w) ------------------------------------------
// accumulate = false: dx = conv2d_transpose(dy, w) (a fresh gradient buffer, any contents).
inline void conv2d_backward_input(const Conv2dParams& p, const float* dy, const float* w,
                                  float* dx, bool accumulate = true) {
  using namespace detail;
  const int K = p.K, RS = p.R * p.S;
  const int64_t CRS = int64_t(p.C) * RS, P = int64_t(p.OH()) * p.OW(), CHW = int64_t(p.C) * p.H * p.W;
  const int kc = reduction_block(K, kKcMax);
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  // Stride 1: dx += conv(dy, w'), the "full" correlation of dy with the kernel flipped in space
  // and transposed in channels (w'[c,k,r,s] = w[k,c,R-1-r,S-1-s]), padded by R-1-pad.
  if (p.stride == 1 && p.R == p.S && p.pad <= p.R - 1) {
    Conv2dParams q = p;
    q.C = K, q.K = p.C, q.H = p.OH(), q.W = p.OW(), q.pad = p.R - 1 - p.pad;
    const int R = p.R, S = p.S;
    // A(row = c, step = (k, r', s')) = w[k, c, R-1-r', S-1-s']
    auto pack_wt = [&](int r0, int m, int64_t k0, int kc, float* dst) {
      for (int i0 = 0, ip = 0; i0 < m; i0 += kMR, ++ip) {
        const int mr = std::min(kMR, m - i0);
        float* d = dst + int64_t(ip) * kc * kMR;
        for (int kk = 0; kk < kc; ++kk) {
          const int64_t step = k0 + kk;
          const int64_t k = step / RS;
          const int rr = int(step % RS) / S, ss = int(step % S);
          const float* src = w + ((k * p.C + r0 + i0) * R + (R - 1 - rr)) * S + (S - 1 - ss);
          for (int i = 0; i < kMR; ++i) d[kk * kMR + i] = i < mr ? src[int64_t(i) * RS] : 0.f;
        }
      }
    };
    shift_conv(q, dy, pack_wt, nullptr, dx, accumulate);
    return;
  }
  if (!accumulate) std::memset(dx, 0, size_t(p.N) * size_t(CHW) * sizeof(float));
  // General case (stride > 1): per image and group of input channels (so no two threads add
  // into the same part of dx), dcol blocks go to a scratch buffer and are scattered with
  // col2im. A = w^T is packed once per call (all rows, every reduction block: block k0 at
  // apack + k0*Mpad, panel ip at + ip*kcb*kMR), B = a block of dy columns once per block.
  const int nc = std::min<int>(pixel_block(P, kc), 240);
  const int ncpad = int(ceil_div(nc, kNR) * kNR);
  const int64_t nj = ceil_div(P, nc);
  const int cgroups = int(std::min<int64_t>(
      p.C, (p.N % threads == 0 || p.N >= 4 * threads) ? 1 : ceil_div(2 * threads, p.N)));
  const int cper = int(ceil_div(p.C, cgroups));
  const int rows_max = 256;  // rows of dcol per chunk (a multiple of kMR)
  const int64_t mpan = ceil_div(CRS, kMR), Mpad = mpan * kMR;
  float* apack = gemm::scratch(gemm::Scratch::packed_weights, size_t(Mpad * K));
  auto pack_job = [&](int64_t jb) {
    const int64_t k0 = (jb / mpan) * kc, i0 = (jb % mpan) * kMR;
    const int kcb = int(std::min<int64_t>(kc, K - k0));
    pack_a_panel(w + k0 * CRS + i0, 1, CRS, int(std::min<int64_t>(kMR, CRS - i0)), kcb,
                 apack + k0 * Mpad + (i0 / kMR) * kcb * kMR);
  };
  run_items(ceil_div(K, kc) * mpan, pack_job, int64_t(p.N) * cgroups, 16, size_t(K) * ncpad, size_t(rows_max + kMR) * nc,
            [&](int64_t it, float*, float* bbuf, float* cbuf) {
              const int g = int(it % cgroups);
              const int64_t n = it / cgroups;
              const int c0 = g * cper, c1 = std::min(p.C, c0 + cper);
              if (c0 >= c1) return;
              const float* dyimg = dy + n * K * P;
              float* dximg = dx + n * CHW;
              const int64_t row_begin = int64_t(c0) * RS, row_end = int64_t(c1) * RS;
              for (int64_t jb = 0; jb < nj; ++jb) {
                const int64_t j0 = jb * nc;
                const int ncols = int(std::min<int64_t>(nc, P - j0));
                for (int64_t k0 = 0; k0 < K; k0 += kc) {
                  const int kcb = int(std::min<int64_t>(kc, K - k0));
                  pack_b_rows(dyimg + k0 * P + j0, P, kcb, ncols, bbuf + k0 * ncpad);
                }
                // chunks of panel-aligned rows; only the rows this item owns are scattered
                for (int64_t ra = row_begin / kMR * kMR; ra < row_end; ra += rows_max) {
                  const int64_t rb = std::min(row_end, ra + rows_max);
                  for (int64_t k0 = 0; k0 < K; k0 += kc) {
                    const int kcb = int(std::min<int64_t>(kc, K - k0));
                    for (int64_t i0 = ra; i0 < rb; i0 += kMR) {
                      const float* ap = apack + k0 * Mpad + (i0 / kMR) * kcb * kMR;
                      const int mr = int(std::min<int64_t>(kMR, CRS - i0));
                      for (int jj = 0, pn = 0; jj < ncols; jj += kNR, ++pn)
                        gemm::micro_kernel(kcb, ap, bbuf + k0 * ncpad + int64_t(pn) * kcb * kNR,
                                           cbuf + (i0 - ra) * nc + jj, nc, mr,
                                           std::min(kNR, ncols - jj), k0 > 0, nullptr);
                    }
                  }
                  for (int64_t row = std::max(ra, row_begin); row < rb; ++row) {
                    const int c = int(row / RS), r = int(row % RS) / p.S, s = int(row % p.S);
                    col2im_row_add(p, dximg, c, r, s, j0, ncols, cbuf + (row - ra) * nc);
                  }
                }
              }
            });
}

// ---- backward weight: dw += sum_n dy[n] * col[n]^T,  db += sum dy -------------------------
namespace detail {

// 16 x 16 transpose: out[j][i] = in[i][j]. (The maskz_ forms with a full mask are the plain
// shuffles; they avoid a GCC 12 false -Wmaybe-uninitialized inside the plain intrinsics.)
#if defined(__AVX512F__)
inline void transpose16(const __m512* in, __m512* out) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_maskz_unpacklo_ps(__mmask16(0xFFFF), in[2 * i], in[2 * i + 1]);
    t[2 * i + 1] = _mm512_maskz_unpackhi_ps(__mmask16(0xFFFF), in[2 * i], in[2 * i + 1]);
  }
  for (int g = 0; g < 4; ++g) {  // rows 4g..4g+3: u[4g+c] = column (4*lane + c) in each lane
    const __m512d a0 = _mm512_castps_pd(t[4 * g]), a1 = _mm512_castps_pd(t[4 * g + 1]);
    const __m512d b0 = _mm512_castps_pd(t[4 * g + 2]), b1 = _mm512_castps_pd(t[4 * g + 3]);
    u[4 * g + 0] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(__mmask8(0xFF), a0, b0));
    u[4 * g + 1] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(__mmask8(0xFF), a0, b0));
    u[4 * g + 2] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(__mmask8(0xFF), a1, b1));
    u[4 * g + 3] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(__mmask8(0xFF), a1, b1));
  }
  for (int c = 0; c < 4; ++c) {
    const __m512 x0 = _mm512_maskz_shuffle_f32x4(__mmask16(0xFFFF), u[c], u[4 + c], 0x44);
    const __m512 x1 = _mm512_maskz_shuffle_f32x4(__mmask16(0xFFFF), u[c], u[4 + c], 0xEE);
    const __m512 y0 = _mm512_maskz_shuffle_f32x4(__mmask16(0xFFFF), u[8 + c], u[12 + c], 0x44);
    const __m512 y1 = _mm512_maskz_shuffle_f32x4(__mmask16(0xFFFF), u[8 + c], u[12 + c], 0xEE);
    out[c] = _mm512_maskz_shuffle_f32x4(__mmask16(0xFFFF), x0, y0, 0x88);
    out[4 + c] = _mm512_maskz_shuffle_f32x4(__mmask16(0xFFFF), x0, y0, 0xDD);
    out[8 + c] = _mm512_maskz_shuffle_f32x4(__mmask16(0xFFFF), x1, y1, 0x88);
    out[12 + c] = _mm512_maskz_shuffle_f32x4(__mmask16(0xFFFF), x1, y1, 0xDD);
  }
}
#endif

// dy of one image transposed onto the padded position grid, for positions [q0, q0+n):
// d[j*ld + i] = dy[k0+i, oh, ow] at q0 + j = oh*Wq + ow (i < 16; 0 past K and at dropped
// positions ow >= OW).
inline void transpose_dy16(const float* dyimg, int K, int k0, int OW, int Wq, int64_t P,
                           int64_t q0, int n, float* d, int ld) {
#if defined(__AVX512F__)
  const float* rows[16];
  for (int i = 0; i < 16; ++i) rows[i] = k0 + i < K ? dyimg + int64_t(k0 + i) * P : nullptr;
  const __m512 zero = _mm512_setzero_ps();
  int64_t q = q0;
  const int64_t qend = q0 + n;
  while (q < qend) {
    const int64_t oh = q / Wq;
    const int ow0 = int(q % Wq);
    const int64_t row_end = std::min(qend, (oh + 1) * Wq);
    // valid part of this grid row: ow in [ow0, min(OW, ...))
    const int ow_end = int(std::min<int64_t>(OW, row_end - oh * Wq));
    for (int ow = ow0; ow < ow_end; ow += 16) {
      const int cnt = std::min(16, ow_end - ow);
      const __mmask16 m = cnt >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << cnt) - 1);
      __m512 in[16], out[16];
      for (int i = 0; i < 16; ++i)
        in[i] = rows[i] ? _mm512_maskz_loadu_ps(m, rows[i] + oh * OW + ow) : zero;
      transpose16(in, out);
      float* dst = d + (oh * Wq + ow - q0) * ld;
      for (int j = 0; j < cnt; ++j) _mm512_store_ps(dst + j * ld, out[j]);
    }
    for (int64_t g = std::max<int64_t>(q, oh * Wq + OW); g < row_end; ++g)
      _mm512_store_ps(d + (g - q0) * ld, zero);
    q = row_end;
  }
#else
  for (int j = 0; j < n; ++j) {
    const int64_t q = q0 + j, oh = q / Wq;
    const int ow = int(q % Wq);
    for (int i = 0; i < 16; ++i)
      d[j * ld + i] = (ow < OW && k0 + i < K) ? dyimg[int64_t(k0 + i) * P + oh * OW + ow] : 0.f;
  }
#endif
}

// The weight gradient's frame, shared by the fp32 kernel below and the bf16 one
// (conv2d_bf16.hpp), which differ only in how one block of positions is multiplied: the
// shapes, the tap offsets into the input planes, the split of the (image, position) range over
// threads, the plane rows each block needs, every thread's private dwT (taps x Kpad), the sum
// of those into dw in thread order (deterministic for a given thread count) and db.
struct WgradGeometry {
  ShiftLayout L;
  int64_t CRS = 0, P = 0, CHW = 0, Q = 0;
  int nb = 0, kpan = 0;
  int64_t Kpad = 0, taps_pad = 0;
  int kcq = 0;  // positions per block: at least 4 grid rows, so the halo rows stay cheap (even)
  int64_t maxshift = 0, len = 0, local_size = 0;
  std::vector<int64_t> boff;  // tap t of position qs + j reads base + boff[t] + j
};

inline WgradGeometry wgrad_geometry(const Conv2dParams& p) {
  WgradGeometry G;
  const int K = p.K, st = p.stride, RS = p.R * p.S;
  G.L = shift_layout(p);
  G.CRS = int64_t(p.C) * RS, G.P = int64_t(p.OH()) * p.OW(), G.CHW = int64_t(p.C) * p.H * p.W;
  G.Q = G.L.positions;
  G.nb = K >= kNR ? kNR : int(ceil_div(K, 16) * 16);
  G.kpan = int(ceil_div(K, G.nb));
  G.Kpad = int64_t(G.kpan) * G.nb;
  G.taps_pad = ceil_div(G.CRS, kMR) * kMR;
  G.kcq = int(std::clamp<int64_t>(4 * int64_t(G.L.Wq), 256, 1024));
  G.maxshift = int64_t((p.R - 1) / st) * G.L.Wq + (p.S - 1) / st;
  const int64_t rows_max = std::min<int64_t>(G.L.Hq, ceil_div(G.kcq + G.maxshift, G.L.Wq) + 1);
  G.len = rows_max * G.L.Wq;  // floats between local planes
  G.local_size = G.L.direct ? 16 : int64_t(p.C) * st * st * G.len;
  G.boff.resize(static_cast<size_t>(G.CRS));
  for (int64_t t = 0; t < G.CRS; ++t) {
    const int c = int(t / RS), r = int(t % RS) / p.S, s = int(t % p.S);
    G.boff[size_t(t)] = G.L.direct ? int64_t(c) * G.P
                                   : (int64_t(c) * st * st + (r % st) * st + (s % st)) * G.len +
                                         int64_t(r / st) * G.L.Wq + s / st;
  }
  return G;
}

// Runs the frame: make_worker() is called once per thread (it takes that thread's scratch and
// may throw; the error is rethrown after the parallel region) and returns a callable
// worker(base, n, qs, kc, dwT, first) that adds block [qs, qs + kc) of image n into dwT
// (overwriting it when `first`), reading tap t of position qs + j at base + boff[t] + j.
template <class MakeWorker>
void wgrad_run(const Conv2dParams& p, const WgradGeometry& G, const float* x, float* dw, float* db,
               const float* dy, MakeWorker&& make_worker) {
  const int K = p.K, st = p.stride;
  const int max_team = (!omp_in_parallel() && omp_get_max_threads() > 1) ? omp_get_max_threads() : 1;
  std::vector<float*> partial(size_t(max_team), nullptr);
  std::exception_ptr err = nullptr;
  std::atomic<bool> failed{false};
#pragma omp parallel if (max_team > 1)
  {
    const int T = omp_get_num_threads(), t = omp_get_thread_num();
    float *mine = nullptr, *local = nullptr;
    std::optional<decltype(make_worker())> worker;
    try {
      mine = gemm::scratch(gemm::Scratch::wgrad_taps, size_t(G.taps_pad * G.Kpad));
      local = gemm::scratch(gemm::Scratch::wgrad_local, size_t(G.local_size));
      worker.emplace(make_worker());
      partial[size_t(t)] = mine;
    } catch (...) {
#pragma omp critical(yolite_conv_err)
      if (!err) err = std::current_exception();
      failed = true;
    }
#pragma omp barrier
    if (!failed.load()) {
      const int64_t total = int64_t(p.N) * G.Q;
      const int64_t g0 = total * t / T, g1 = total * (t + 1) / T;
      // the first block overwrites this thread's dwT (so it needs no zeroing)
      if (g0 >= g1) std::fill(mine, mine + G.taps_pad * G.Kpad, 0.f);
      bool first = true;
      for (int64_t g = g0; g < g1;) {
        const int64_t n = g / G.Q, qs = g % G.Q;
        const int kc = int(std::min<int64_t>({int64_t(G.kcq), g1 - g, G.Q - qs}));
        const float* ximg = x + n * G.CHW;
        const float* base;
        if (G.L.direct) {
          base = ximg + qs;
        } else {
          const int row0 = int(qs / G.L.Wq);
          const int row1 = int(std::min<int64_t>(G.L.Hq, (qs + kc - 1 + G.maxshift) / G.L.Wq + 1));
          for (int c = 0; c < p.C; ++c)
            build_planes(p, G.L, ximg + int64_t(c) * p.H * p.W, local + int64_t(c) * st * st * G.len,
                         G.len, row0, row1);
          base = local + (qs - int64_t(row0) * G.L.Wq);
        }
        (*worker)(base, n, qs, kc, mine, first);
        first = false;
        g += kc;
      }
    }
#pragma omp barrier
    if (!failed.load()) {
      // dw[k, tp] += sum_u dwT_u[tp, k], in 16 x 64 blocks (a transpose: keep both sides in cache)
      const int64_t kblocks = ceil_div(K, 16);
#pragma omp for schedule(static) nowait
      for (int64_t kb = 0; kb < kblocks; ++kb) {
        const int k0 = int(kb * 16), k1 = std::min(K, k0 + 16);
        for (int64_t tb = 0; tb < G.CRS; tb += 64) {
          const int64_t te = std::min(G.CRS, tb + 64);
          float blk[64][16];
          for (int64_t tp = tb; tp < te; ++tp) {
            float* row = blk[tp - tb];
            const float* src0 = partial[0] + tp * G.Kpad;
            for (int k = k0; k < k1; ++k) row[k - k0] = src0[k];
            for (int u = 1; u < T; ++u) {
              const float* src = partial[size_t(u)] + tp * G.Kpad;
              for (int k = k0; k < k1; ++k) row[k - k0] += src[k];
            }
          }
          for (int k = k0; k < k1; ++k) {
            float* dwk = dw + int64_t(k) * G.CRS;
            for (int64_t tp = tb; tp < te; ++tp) dwk[tp] += blk[tp - tb][k - k0];
          }
        }
      }
      if (db) {
#pragma omp for schedule(static)
        for (int k = 0; k < K; ++k) {
          float acc = 0.f;
          for (int64_t n = 0; n < p.N; ++n) {
            const float* row = dy + (n * K + k) * G.P;
            float s = 0.f;
            for (int64_t j = 0; j < G.P; ++j) s += row[j];
            acc += s;
          }
          db[k] += acc;
        }
      }
    }
  }
  if (err) std::rethrow_exception(err);
}

}  // namespace detail

// dw[k, t] = sum over positions q (of every image) of dy[k, q] * planes[offset(t) + q], with
// t = tap (c,r,s) and q on the padded grid of the shifted GEMM (dropped positions count 0).
// Computed transposed, dwT[t, k], by the row-pointer kernel: 8 taps are the A rows, read in
// place from the input planes; B is dy transposed into panels [q][k] of nb = 16/32/48
// channels. Threads split the (image, position) range; each walks its range in blocks of kcq
// positions, building just the plane rows and the dyT panel the block needs (L2-sized, so
// nothing round-trips through memory), and sums into a private dwT; the copies are added into
// dw in thread order (detail::wgrad_run, shared with the bf16 kernel).
inline void conv2d_backward_weight(const Conv2dParams& p, const float* x, const float* dy,
                                   float* dw, float* db) {
  using namespace detail;
  const WgradGeometry G = wgrad_geometry(p);
  const int K = p.K;
  wgrad_run(p, G, x, dw, db, dy, [&] {
    float* dyt = gemm::scratch(gemm::Scratch::wgrad_dy, size_t(G.kcq) * G.Kpad);
    return [&G, &p, dy, dyt, K](const float* base, int64_t n, int64_t qs, int kc, float* mine, bool first) {
      for (int kg = 0; kg < int(G.Kpad / 16); ++kg) {
        const int kp = kg * 16 / G.nb, within = kg * 16 % G.nb;
        transpose_dy16(dy + n * K * G.P, K, kg * 16, p.OW(), G.L.Wq, G.P, qs, kc,
                       dyt + int64_t(kp) * kc * G.nb + within, G.nb);
      }
      for (int64_t t0 = 0; t0 < G.CRS; t0 += kMR) {
        const int mr = int(std::min<int64_t>(kMR, G.CRS - t0));
        const float* arows[kMR];
        for (int i = 0; i < mr; ++i) arows[i] = base + G.boff[size_t(t0 + i)];
        for (int kp = 0; kp < G.kpan; ++kp)
          gemm::rowptr_kernel(kc, arows, dyt + int64_t(kp) * kc * G.nb, G.nb,
                              mine + t0 * G.Kpad + int64_t(kp) * G.nb, G.Kpad, mr,
                              std::min(G.nb, K - kp * G.nb), !first);
      }
    };
  });
}

}  // namespace yolite::ops::fast
