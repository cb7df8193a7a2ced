// ops/cpu/conv2d_bf16.hpp -- float convolutions computed with bf16 dot products (AVX512_BF16).
//
//   if (!ops::bf16::cpu_supported()) ...;                 // runtime CPU check (CPUID)
//   ops::bf16::conv2d_forward(p, x, w, b, y);             // same contract as the fp32 kernels
//   ops::bf16::conv2d_backward_input(p, dy, w, dx);       //   (dx +=)
//   ops::bf16::conv2d_backward_weight(p, x, dy, dw, db);  //   (dw +=, db +=)
// Normally reached through ops/conv2d.hpp under an ops::PrecisionGuard(Precision::bf16).
//
// What is bf16 here: both operands of every product are rounded to bfloat16 (8 mantissa bits,
// round to nearest even) just before the multiply, and the products are summed in fp32 by
// VDPBF16PS (two products per fp32 lane per instruction). Inputs, outputs, weights (the fp32
// "master" weights the optimiser updates) and every accumulator stay fp32, as do the bias and
// db. So a result differs from fp32 by about 2^-8 relative per product, averaging out over the
// sum; the tests (tests/ops/test_conv2d_bf16.cpp) hold every kernel to the exact result of the
// reference loops run on bf16-rounded operands in double, and to fp32 within a bf16 bound.
//
// Structure: the shifted GEMM of conv2d_fast.hpp (same ShiftLayout planes, TileMap stores,
// work items and static schedules, so results do not depend on the thread count), with the
// reduction taken two steps at a time: packed A panels hold bf16 pairs [kp][i] (one 32-bit
// broadcast per row), packed B panels hold bf16 pairs [kp][j][2] (48 columns = 3 vectors). A
// kernel step is 8 rows x 3 vectors of VDPBF16PS.
//   forward:                 weights packed once per call; B packed from the planes per block.
//   backward_input stride 1: the forward on dy with the flipped, transposed kernel.
//   backward_input stride>1: dcol = w^T * dy[n] per block of columns, then col2im (scatter-add).
//   backward_weight:         dwT[tap, k] = sum_q planes[tap, q] * dy[k, q], A = tap rows
//                            (pairs of positions), B = dy transposed (pairs of positions).
// The kernels are compiled for AVX512_BF16 by function attributes whatever the build flags, and
// run only after cpu_supported() said yes (callers check; these functions check too).
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <exception>
#include <vector>

#include <immintrin.h>
#include <omp.h>

#include "../../core/error.hpp"
#include "conv2d.hpp"
#include "conv2d_fast.hpp"
#include "gemm.hpp"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define YOLITE_BF16_KERNELS 1
#define YOLITE_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#else
#define YOLITE_BF16_TARGET
#endif

namespace yolite::ops::bf16 {

// True when this CPU executes AVX512_BF16 (and AVX512BW, used for the pair shuffles).
inline bool cpu_supported() {
#if defined(YOLITE_BF16_KERNELS)
  return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw");
#else
  return false;
#endif
}

// Throws yolite::Error naming `who` (a flag or option) when the CPU lacks AVX512_BF16.
inline void require_cpu(const char* who) {
  YOLITE_CHECK(cpu_supported(), who,
               ": bf16 needs a CPU with AVX512_BF16 (Intel Cooper Lake / Sapphire Rapids or "
               "later, AMD Zen 4 or later); this CPU does not have it -- run in fp32 (drop the "
               "bf16 option)");
}

// ---- scalar reference conversions ----------------------------------------------------------
// fp32 -> bf16 bits, rounding to nearest even (NaN stays NaN), as VCVTNE2PS2BF16 does (which
// also flushes denormal inputs to zero; the reference does too).
inline uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7F800000u) == 0 && (u & 0x007FFFFFu) != 0) u &= 0x80000000u;  // denormal -> +-0
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return uint16_t((u >> 16) | 0x40);  // quiet NaN
  u += 0x7FFFu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}
inline float from_bf16(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline float round_bf16(float f) { return from_bf16(to_bf16(f)); }

#if defined(YOLITE_BF16_KERNELS)
namespace kern {

using gemm::kMR;
using gemm::kNR;

// Two pairs' worth of sources to one vector of 16 bf16 pairs: out[2j] = lo[j], out[2j+1] = hi[j].
YOLITE_BF16_TARGET inline __m512i pair16(__m512 lo, __m512 hi) {
  const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9,
                                       24, 8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1,
                                       16, 0);
  const __m512bh v = _mm512_cvtne2ps_pbh(hi, lo);  // elements 0..15 = lo, 16..31 = hi
  __m512i vi;
  std::memcpy(&vi, &v, 64);
  return _mm512_permutexvar_epi16(idx, vi);
}

inline __mmask16 lanes(int n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

// C tile (mr x nr) (+)= sum_kp A[kp][i] . B[kp][j], A pairs packed [kp][kMR] (uint32 = two
// bf16), B pairs packed [kp][kNR][2]. Stores like gemm::shift_kernel when map != nullptr
// (columns through the TileMap), else to c[i*ldc + j], j < nr.
template <int NV>
YOLITE_BF16_TARGET void kernel_nv(int npairs, const uint32_t* a, const uint16_t* b, float* c,
                                  int64_t ldc, int mr, int nr, const gemm::TileMap* map,
                                  bool accumulate, const float* bias) {
  __m512 acc[kMR][NV];
#pragma GCC unroll 8
  for (int i = 0; i < kMR; ++i)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  for (int kp = 0; kp < npairs; ++kp) {
    const uint16_t* bk = b + int64_t(kp) * kNR * 2;
    const uint32_t* ak = a + int64_t(kp) * kMR;
    __m512bh bv[NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) {
      const __m512i t = _mm512_load_si512(bk + 32 * v);
      std::memcpy(&bv[v], &t, 64);
    }
#pragma GCC unroll 8
    for (int i = 0; i < kMR; ++i) {
      const __m512i ai = _mm512_set1_epi32(int(ak[i]));
      __m512bh ab;
      std::memcpy(&ab, &ai, 64);
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_dpbf16_ps(acc[i][v], ab, bv[v]);
    }
  }
  __mmask16 lm[NV];
#pragma GCC unroll 3
  for (int v = 0; v < NV; ++v) lm[v] = lanes(nr - 16 * v);
  if (!map || map->dense) {
    const int64_t first = map ? map->first : 0;
#pragma GCC unroll 8
    for (int i = 0; i < kMR; ++i) {
      if (i >= mr) break;
      float* ci = c + i * ldc + first;
      const __m512 init = (!accumulate && bias) ? _mm512_set1_ps(bias[i]) : _mm512_setzero_ps();
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) {
        const __m512 r = accumulate
                             ? _mm512_add_ps(_mm512_maskz_loadu_ps(lm[v], ci + 16 * v), acc[i][v])
                             : _mm512_add_ps(init, acc[i][v]);
        _mm512_mask_storeu_ps(ci + 16 * v, lm[v], r);
      }
    }
    return;
  }
  __mmask16 km[NV], cm[NV];
#pragma GCC unroll 3
  for (int v = 0; v < NV; ++v) {
    km[v] = __mmask16(map->keep[v] & lm[v]);
    cm[v] = lanes(__builtin_popcount(unsigned(km[v])));
  }
#pragma GCC unroll 8
  for (int i = 0; i < kMR; ++i) {
    if (i >= mr) break;
    float* ci = c + i * ldc;
    const __m512 init = (!accumulate && bias) ? _mm512_set1_ps(bias[i]) : _mm512_setzero_ps();
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) {
      if (!cm[v]) continue;
      float* d = ci + map->vdst[v];
      __m512 r = _mm512_maskz_compress_ps(km[v], acc[i][v]);
      r = accumulate ? _mm512_add_ps(_mm512_maskz_loadu_ps(cm[v], d), r) : _mm512_add_ps(init, r);
      _mm512_mask_storeu_ps(d, cm[v], r);
    }
  }
}

inline void kernel(int npairs, const uint32_t* a, const uint16_t* b, float* c, int64_t ldc,
                   int mr, int nr, const gemm::TileMap* map, bool accumulate, const float* bias) {
  if (nr > 32)
    kernel_nv<3>(npairs, a, b, c, ldc, mr, nr, map, accumulate, bias);
  else if (nr > 16)
    kernel_nv<2>(npairs, a, b, c, ldc, mr, nr, map, accumulate, bias);
  else
    kernel_nv<1>(npairs, a, b, c, ldc, mr, nr, map, accumulate, bias);
}

// One B panel from rows read in place: step kk of column j is src[off[kk] + j] (kk < nsteps;
// steps past nsteps are 0), columns j < nr (the rest 0). dst: [kp][kNR][2], 64-byte aligned.
YOLITE_BF16_TARGET inline void pack_b_rows(const float* src, const int64_t* off, int nsteps,
                                           int nr, uint16_t* dst) {
  const int npairs = (nsteps + 1) / 2;
  __mmask16 lm[3];
  for (int v = 0; v < 3; ++v) lm[v] = lanes(nr - 16 * v);
  for (int kp = 0; kp < npairs; ++kp) {
    const float* r0 = src + off[2 * kp];
    const bool has1 = 2 * kp + 1 < nsteps;
    const float* r1 = has1 ? src + off[2 * kp + 1] : nullptr;
    uint16_t* d = dst + int64_t(kp) * kNR * 2;
    for (int v = 0; v < 3; ++v) {
      const __m512 lo = _mm512_maskz_loadu_ps(lm[v], r0 + 16 * v);
      const __m512 hi = has1 ? _mm512_maskz_loadu_ps(lm[v], r1 + 16 * v) : _mm512_setzero_ps();
      _mm512_store_si512(d + 32 * v, pair16(lo, hi));
    }
  }
}

// One B panel of the weight gradient: dyt holds dy transposed, fp32 [q][k] with row length ld
// (16-column groups; rows past nq read as 0); the panel pairs positions: dst[kp][j][2] =
// (dyt[2kp][j], dyt[2kp+1][j]), j < nb (nb = 16, 32 or 48).
YOLITE_BF16_TARGET inline void pack_b_dyt(const float* dyt, int64_t ld, int nq, int nb,
                                          uint16_t* dst) {
  const int npairs = (nq + 1) / 2;
  for (int kp = 0; kp < npairs; ++kp) {
    const float* r0 = dyt + int64_t(2 * kp) * ld;
    const bool has1 = 2 * kp + 1 < nq;
    uint16_t* d = dst + int64_t(kp) * kNR * 2;
    for (int v = 0; v < nb / 16; ++v) {
      const __m512 lo = _mm512_load_ps(r0 + 16 * v);
      const __m512 hi = has1 ? _mm512_load_ps(r0 + ld + 16 * v) : _mm512_setzero_ps();
      _mm512_store_si512(d + 32 * v, pair16(lo, hi));
    }
  }
}

// One A panel of the weight gradient: rows i < mr are tap rows read in place at rows[i]
// (positions 0..nq-1, paired), rows past mr 0. dst: [kp][kMR] pairs.
inline void pack_a_rowptr(const float* const* rows, int mr, int nq, uint32_t* dst) {
  const int npairs = (nq + 1) / 2;
  for (int kp = 0; kp < npairs; ++kp)
    for (int i = 0; i < kMR; ++i) {
      uint32_t v = 0;
      if (i < mr) {
        const uint16_t lo = to_bf16(rows[i][2 * kp]);
        const uint16_t hi = 2 * kp + 1 < nq ? to_bf16(rows[i][2 * kp + 1]) : uint16_t(0);
        v = uint32_t(lo) | (uint32_t(hi) << 16);
      }
      dst[int64_t(kp) * kMR + i] = v;
    }
}

// A panels from an element accessor: rows [r0, r0+m), steps [k0, k0+kc) of a(row, step);
// panel ip at dst + ip*npairs*kMR, steps past kc and rows past m are 0.
template <class AEl>
void pack_a(AEl&& a, int r0, int m, int64_t k0, int kc, uint32_t* dst) {
  const int npairs = (kc + 1) / 2;
  for (int i0 = 0, ip = 0; i0 < m; i0 += kMR, ++ip) {
    uint32_t* d = dst + int64_t(ip) * npairs * kMR;
    for (int kp = 0; kp < npairs; ++kp)
      for (int i = 0; i < kMR; ++i) {
        uint32_t v = 0;
        if (i0 + i < m) {
          const uint16_t lo = to_bf16(a(r0 + i0 + i, k0 + 2 * kp));
          const uint16_t hi = 2 * kp + 1 < kc ? to_bf16(a(r0 + i0 + i, k0 + 2 * kp + 1)) : uint16_t(0);
          v = uint32_t(lo) | (uint32_t(hi) << 16);
        }
        d[int64_t(kp) * kMR + i] = v;
      }
  }
}

// Scratch of n elements of type U from gemm::scratch's per-thread buffers (a gemm::Scratch slot).
template <class U>
U* scratch_as(gemm::Scratch slot, size_t n) {
  return reinterpret_cast<U*>(gemm::scratch(slot, (n * sizeof(U) + sizeof(float) - 1) / sizeof(float)));
}

// y[n] (=|+=) conv(x[n], a) (+ bias) through the shifted GEMM, a(row, tap) the weights as an
// element accessor (row = output channel, tap = (c, r, s) of this conv).
template <class AEl>
void shift_conv(const Conv2dParams& p, const float* x, AEl&& a, const float* b, float* y,
                bool accumulate) {
  using namespace fast::detail;
  const ShiftLayout L = shift_layout(p);
  const int M = p.K, RS = p.R * p.S, st = L.st;
  const int64_t CRS = int64_t(p.C) * RS, P = int64_t(p.OH()) * p.OW();
  const int64_t CHW = int64_t(p.C) * p.H * p.W;
  // reduction block: an even number of taps, B block (kc x nq bf16) about 400 KB
  const int kc = int(std::min<int64_t>((CRS + 1) / 2 * 2, 256));
  const int64_t Q = L.positions;
  const int64_t nqmax = int64_t(kShiftTiles) * kNR;
  const int64_t nqb = ceil_div(Q, nqmax);
  const int64_t nq = ceil_div(ceil_div(Q, nqb), kNR) * kNR;
  const int ntiles_max = int(nq / kNR);
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
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const int64_t items0 = p.N * nqb;
  const int mpan = int(ceil_div(M, kMR));
  const int mparts = (items0 % threads == 0 || items0 >= 4 * threads)
                         ? 1
                         : int(std::min<int64_t>(mpan, threads));
  const int rows_per_part = int(ceil_div(mpan, mparts)) * kMR;
  const int OW = p.OW();
  const int64_t nkb = ceil_div(CRS, kc);
  const int64_t kpairs = (kc + 1) / 2;  // pairs per full block
  // packed A: block kb at apack + kb*mpan*kpairs*kMR, panel ip of it at + ip*npairs(kb)*kMR
  const int64_t ablock = int64_t(mpan) * kpairs * kMR;
  uint32_t* apack = scratch_as<uint32_t>(gemm::Scratch::packed_weights, size_t(nkb * ablock));
  const size_t bpanel = size_t(kpairs) * kNR * 2;  // uint16 per B panel
  auto pack_job = [&](int64_t jb) {
    const int64_t kb = jb / mpan;
    const int ip = int(jb % mpan);
    const int64_t k0 = kb * kc;
    const int kcb = int(std::min<int64_t>(kc, CRS - k0));
    const int npairs = (kcb + 1) / 2;
    pack_a(a, ip * kMR, std::min(kMR, M - ip * kMR), k0, kcb,
           apack + kb * ablock + int64_t(ip) * npairs * kMR);
  };
  fast::detail::run_items(
      nkb * mpan, pack_job, items0 * mparts, 16, size_t(local_size), 0,
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
        const float* bimg;
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
        uint16_t* bpack = scratch_as<uint16_t>(gemm::Scratch::bf16_pack_b, bpanel * size_t(ntiles_max));
        float* yimg = y + (n * M + r0) * P;
        for (int64_t kb = 0; kb < nkb; ++kb) {
          const int64_t k0 = kb * kc;
          const int kcb = int(std::min<int64_t>(kc, CRS - k0));
          const int npairs = (kcb + 1) / 2;
          for (int t = 0; t < ntiles; ++t)
            pack_b_rows(bimg + q0 + int64_t(t) * kNR, boff.data() + k0, kcb, maps[t].nr,
                        bpack + size_t(t) * bpanel);
          const uint32_t* ablk = apack + kb * ablock + int64_t(r0 / kMR) * npairs * kMR;
          const bool acc = accumulate || kb > 0;
          for (int t = 0; t < ntiles; ++t)
            for (int i0 = 0, ip = 0; i0 < m; i0 += kMR, ++ip) {
              const float* bi = (!acc && b) ? b + r0 + i0 : nullptr;
              kernel(npairs, ablk + int64_t(ip) * npairs * kMR, bpack + size_t(t) * bpanel,
                     yimg + int64_t(i0) * P, P, std::min(kMR, m - i0), maps[t].nr, &maps[t], acc,
                     bi);
            }
        }
      });
}

}  // namespace kern
#endif  // YOLITE_BF16_KERNELS

// ---- forward ------------------------------------------------------------------------------
inline void conv2d_forward(const Conv2dParams& p, const float* x, const float* w, const float* b,
                           float* y) {
  require_cpu("conv2d (bf16)");
#if defined(YOLITE_BF16_KERNELS)
  const int64_t CRS = int64_t(p.C) * p.R * p.S;
  kern::shift_conv(p, x, [&](int row, int64_t tap) { return w[row * CRS + tap]; }, b, y, false);
#else
  (void)p, (void)x, (void)w, (void)b, (void)y;
#endif
}

// ---- backward input: dx += conv2d_transpose(dy, w) ------------------------------------------
inline void conv2d_backward_input(const Conv2dParams& p, const float* dy, const float* w,
                                  float* dx) {
  require_cpu("conv2d backward (bf16)");
#if defined(YOLITE_BF16_KERNELS)
  if (p.stride == 1 && p.R == p.S && p.pad <= p.R - 1) {
    // as fast::conv2d_backward_input: the full correlation of dy with w'[c,k,r,s] =
    // w[k,c,R-1-r,S-1-s], padded by R-1-pad
    Conv2dParams q = p;
    q.C = p.K, q.K = p.C, q.H = p.OH(), q.W = p.OW(), q.pad = p.R - 1 - p.pad;
    const int R = p.R, S = p.S, RS = R * S, C = p.C;
    kern::shift_conv(
        q, dy,
        [&](int c, int64_t step) {
          const int64_t k = step / RS;
          const int rr = int(step % RS) / S, ss = int(step % S);
          return w[((k * C + c) * R + (R - 1 - rr)) * S + (S - 1 - ss)];
        },
        nullptr, dx, true);
    return;
  }
  // stride > 1 (as the fp32 kernel): per image and group of input channels, dcol blocks =
  // w^T (CRS x K) * dy[n] (K x columns) go to a scratch buffer and are scattered with col2im.
  using namespace fast::detail;
  using gemm::kMR;
  using gemm::kNR;
  const int K = p.K, RS = p.R * p.S;
  const int64_t CRS = int64_t(p.C) * RS, P = int64_t(p.OH()) * p.OW(), CHW = int64_t(p.C) * p.H * p.W;
  const int kc = int(std::min<int64_t>((K + 1) / 2 * 2, 256));
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const int nc = std::min<int>(pixel_block(P, kc), 240);
  const int ntiles = int(ceil_div(nc, kNR));
  const int64_t nj = ceil_div(P, nc);
  const int cgroups = int(std::min<int64_t>(
      p.C, (p.N % threads == 0 || p.N >= 4 * threads) ? 1 : ceil_div(2 * threads, p.N)));
  const int cper = int(ceil_div(p.C, cgroups));
  const int rows_max = 256;  // rows of dcol per chunk (a multiple of kMR)
  const int64_t mpan = ceil_div(CRS, kMR);
  const int64_t nkb = ceil_div(K, kc);
  const int64_t kpairs = kc / 2;
  const int64_t ablock = mpan * kpairs * kMR;  // block kb at apack + kb*ablock
  uint32_t* apack = kern::scratch_as<uint32_t>(gemm::Scratch::packed_weights, size_t(nkb * ablock));
  std::vector<int64_t> koff(static_cast<size_t>(K));
  for (int k = 0; k < K; ++k) koff[size_t(k)] = int64_t(k) * P;
  auto wt = [&](int t, int64_t k) { return w[k * CRS + t]; };
  auto pack_job = [&](int64_t jb) {
    const int64_t kb = jb / mpan, ip = jb % mpan;
    const int64_t k0 = kb * kc;
    const int kcb = int(std::min<int64_t>(kc, K - k0));
    kern::pack_a(wt, int(ip * kMR), int(std::min<int64_t>(kMR, CRS - ip * kMR)), k0, kcb,
                 apack + kb * ablock + ip * ((kcb + 1) / 2) * kMR);
  };
  const size_t bpanel = size_t(kpairs) * kNR * 2;
  run_items(nkb * mpan, pack_job, int64_t(p.N) * cgroups, 16, 16, size_t(rows_max + kMR) * nc,
            [&](int64_t it, float*, float*, float* cbuf) {
              const int g = int(it % cgroups);
              const int64_t n = it / cgroups;
              const int c0 = g * cper, c1 = std::min(p.C, c0 + cper);
              if (c0 >= c1) return;
              const float* dyimg = dy + n * K * P;
              float* dximg = dx + n * CHW;
              uint16_t* bpack = kern::scratch_as<uint16_t>(gemm::Scratch::bf16_pack_b, bpanel * size_t(ntiles) * size_t(nkb));
              const int64_t row_begin = int64_t(c0) * RS, row_end = int64_t(c1) * RS;
              for (int64_t jb = 0; jb < nj; ++jb) {
                const int64_t j0 = jb * nc;
                const int ncols = int(std::min<int64_t>(nc, P - j0));
                for (int64_t kb = 0; kb < nkb; ++kb) {
                  const int kcb = int(std::min<int64_t>(kc, K - kb * kc));
                  for (int tt = 0; tt < ntiles && tt * kNR < ncols; ++tt)
                    kern::pack_b_rows(dyimg + j0 + tt * kNR, koff.data() + kb * kc, kcb,
                                      std::min(kNR, ncols - tt * kNR),
                                      bpack + (size_t(kb) * ntiles + size_t(tt)) * bpanel);
                }
                for (int64_t ra = row_begin / kMR * kMR; ra < row_end; ra += rows_max) {
                  const int64_t rb = std::min(row_end, ra + rows_max);
                  for (int64_t kb = 0; kb < nkb; ++kb) {
                    const int kcb = int(std::min<int64_t>(kc, K - kb * kc));
                    const int npairs = (kcb + 1) / 2;
                    for (int64_t i0 = ra; i0 < rb; i0 += kMR) {
                      const uint32_t* ap = apack + kb * ablock + (i0 / kMR) * npairs * kMR;
                      const int mr = int(std::min<int64_t>(kMR, CRS - i0));
                      for (int tt = 0; tt < ntiles && tt * kNR < ncols; ++tt)
                        kern::kernel(npairs, ap, bpack + (size_t(kb) * ntiles + size_t(tt)) * bpanel,
                                     cbuf + (i0 - ra) * nc + tt * kNR, nc, mr,
                                     std::min(kNR, ncols - tt * kNR), nullptr, kb > 0, nullptr);
                    }
                  }
                  for (int64_t row = std::max(ra, row_begin); row < rb; ++row) {
                    const int c = int(row / RS), r = int(row % RS) / p.S, s = int(row % p.S);
                    col2im_row_add(p, dximg, c, r, s, j0, ncols, cbuf + (row - ra) * nc);
                  }
                }
              }
            });
#else
  fast::conv2d_backward_input(p, dy, w, dx);
#endif
}

// ---- backward weight: dw += sum_n dy[n] * col[n]^T,  db += sum dy -------------------------
// fast::conv2d_backward_weight's frame (fast::detail::wgrad_run: the same split of positions
// over threads, per-thread dwT summed in thread order), with the products of each block in
// bf16 pairs of positions.
inline void conv2d_backward_weight(const Conv2dParams& p, const float* x, const float* dy,
                                   float* dw, float* db) {
  require_cpu("conv2d backward (bf16)");
#if defined(YOLITE_BF16_KERNELS)
  using namespace fast::detail;
  using gemm::kMR;
  using gemm::kNR;
  const WgradGeometry G = wgrad_geometry(p);
  const int K = p.K, kpairs = G.kcq / 2;
  wgrad_run(p, G, x, dw, db, dy, [&] {
    float* dyt = gemm::scratch(gemm::Scratch::wgrad_dy, size_t(G.kcq + 1) * G.Kpad);
    uint16_t* bpack = kern::scratch_as<uint16_t>(gemm::Scratch::bf16_pack_b, size_t(G.kpan) * kpairs * kNR * 2);
    uint32_t* apan = kern::scratch_as<uint32_t>(gemm::Scratch::pack_a, size_t(kpairs) * kMR);
    return [&G, &p, dy, dyt, bpack, apan, K, kpairs](const float* base, int64_t n, int64_t qs, int kc, float* mine,
                                                     bool first) {
      const int npairs = (kc + 1) / 2;
      // dy transposed (fp32, [q][k], 16-wide groups), then paired into bf16 B panels
      for (int kg = 0; kg < int(G.Kpad / 16); ++kg) {
        const int kp = kg * 16 / G.nb, within = kg * 16 % G.nb;
        transpose_dy16(dy + n * K * G.P, K, kg * 16, p.OW(), G.L.Wq, G.P, qs, kc,
                       dyt + int64_t(kp) * (G.kcq + 1) * G.nb + within, G.nb);
      }
      for (int kp = 0; kp < G.kpan; ++kp)
        kern::pack_b_dyt(dyt + int64_t(kp) * (G.kcq + 1) * G.nb, G.nb, kc, G.nb, bpack + size_t(kp) * kpairs * kNR * 2);
      for (int64_t t0 = 0; t0 < G.CRS; t0 += kMR) {
        const int mr = int(std::min<int64_t>(kMR, G.CRS - t0));
        const float* arows[kMR];
        for (int i = 0; i < mr; ++i) arows[i] = base + G.boff[size_t(t0 + i)];
        kern::pack_a_rowptr(arows, mr, kc, apan);
        for (int kp = 0; kp < G.kpan; ++kp)
          kern::kernel(npairs, apan, bpack + size_t(kp) * kpairs * kNR * 2, mine + t0 * G.Kpad + int64_t(kp) * G.nb,
                       G.Kpad, mr, std::min(G.nb, K - kp * G.nb), nullptr, !first, nullptr);
      }
    };
  });
#else
  (void)p, (void)x, (void)dy, (void)dw, (void)db;
#endif
}

}  // namespace yolite::ops::bf16
