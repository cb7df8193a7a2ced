// ops/cpu/gemm.hpp -- the float GEMM micro-kernel behind the fast CPU convolutions.
//
// Classic GotoBLAS/BLIS structure, reduced to what conv2d_fast.hpp needs:
//   C[MR x NR tile] (+)= A_panel * B_panel
// where the operands were first copied ("packed") into the layouts the kernel streams:
//   A panel: kc steps x kMR floats   ([kk][i],  i = row of C)      -- broadcast one at a time
//   B panel: kc steps x kNR floats   ([kk][j],  j = column of C)   -- loaded as whole vectors
// The kernel keeps the kMR x kNR tile of C in registers (8 rows x 3 zmm = 24 of AVX-512's 32
// registers) and does kMR*kNR multiply-adds per step; tiles at the edges of C are handled with
// masked loads/stores (mr < kMR rows, nr < kNR columns) instead of padded copies of C.
//
//   float c[...];                                   // row-major, leading dimension ldc
//   gemm::micro_kernel(kc, a_panel, b_panel, c, ldc, mr, nr, /*accumulate=*/false, bias);
//
// Paths: AVX-512 intrinsics (our builds use -march=native), an AVX2/FMA path, and plain loops
// the compiler can vectorise anywhere. All three do the same multiply-adds in the same order
// per element of C, step kk = 0..kc-1, so results do not depend on the thread count.
//
// Scratch memory: pack buffers come from `gemm::scratch(Scratch::pack_a, n)`, a grow-only buffer
// per thread and named slot (thread_local, freed when the thread ends). It is not shared between
// threads, so it is not global mutable state in the sense of the style rules; it exists so the
// hot path does not allocate on every call.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "activation.hpp"

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

namespace yolite::ops::gemm {

inline constexpr int kMR = 8;   // rows of C per micro-tile (broadcast side)
inline constexpr int kNR = 48;  // columns of C per micro-tile (vector side: 3 x 16 floats)

// ---- per-thread scratch -------------------------------------------------------------------
struct ScratchBuffer {
  float* ptr = nullptr;
  size_t cap = 0;
  ScratchBuffer() = default;
  ScratchBuffer(const ScratchBuffer&) = delete;
  ScratchBuffer& operator=(const ScratchBuffer&) = delete;
  ~ScratchBuffer() { std::free(ptr); }
  float* get(size_t n) {
    if (n > cap) {
      std::free(ptr);
      ptr = nullptr;
      cap = 0;
      size_t bytes = (std::max<size_t>(n, 16) * sizeof(float) + 63) / 64 * 64;
      ptr = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!ptr) throw std::bad_alloc();
      cap = bytes / sizeof(float);
    }
    return ptr;
  }
};

// The per-thread scratch buffers, one per kind of data. Kernels that are live at the same time
// (one calling the other, or one holding several buffers) use different slots; the same slot
// in two kernels that never overlap is the same memory, reused.
enum class Scratch : int {
  pack_a = 0,          // GEMM A panels (conv2d_fast forward; bf16 weight-gradient pair panels)
  pack_b = 1,          // GEMM B panels (conv2d_fast forward)
  tile_c = 2,          // GEMM C tile when C is not written in place
  wgrad_taps = 3,      // weight gradient: the thread's tap accumulators
  wgrad_local = 4,     // weight gradient: the thread's local partial sums
  packed_weights = 5,  // forward: weights packed on the fly (fp32 and bf16, when not prepacked)
  wgrad_dy = 6,        // weight gradient: the transposed output gradient
  bf16_pack_b = 7,     // bf16 kernels: packed B panels
  winograd_u = 8,      // Winograd: transformed weights U
  winograd_v = 9,      // Winograd: the transformed input tiles V shared by a block
  count = 10
};

// A 64-byte aligned buffer of at least n floats owned by the calling thread (contents are
// whatever was there before), one per Scratch slot.
inline float* scratch(Scratch slot, size_t n) {
  thread_local ScratchBuffer bufs[int(Scratch::count)];
  return bufs[int(slot)].get(n);
}

// ---- micro-kernel ---------------------------------------------------------------------------
// c[i*ldc + j] for i < mr, j < nr:
//   accumulate:  c += sum_kk a[kk*kMR + i] * b[kk*kNR + j]
//   otherwise:   c  = (bias ? bias[i] : 0) + sum_kk ...
// a and b are packed panels (zero-padded past mr / nr); only the valid part of c is touched.
inline void micro_kernel_generic(int kc, const float* a, const float* b, float* c, int64_t ldc,
                                 int mr, int nr, bool accumulate, const float* bias) {
  float acc[kMR][kNR];
  for (int i = 0; i < kMR; ++i)
    for (int j = 0; j < kNR; ++j) acc[i][j] = 0.f;
  for (int kk = 0; kk < kc; ++kk) {
    const float* bk = b + int64_t(kk) * kNR;
    const float* ak = a + int64_t(kk) * kMR;
    for (int i = 0; i < kMR; ++i)
      for (int j = 0; j < kNR; ++j) acc[i][j] += ak[i] * bk[j];
  }
  for (int i = 0; i < mr; ++i) {
    float* ci = c + i * ldc;
    float init = (!accumulate && bias) ? bias[i] : 0.f;
    for (int j = 0; j < nr; ++j) ci[j] = accumulate ? ci[j] + acc[i][j] : init + acc[i][j];
  }
}

#if defined(__AVX512F__)
// NV = number of 16-float vectors of the tile actually needed (nr <= 16*NV): narrow edge tiles
// skip the columns that are all padding.
template <int NV>
inline void micro_kernel_avx512_nv(int kc, const float* a, const float* b, float* c,
                                   int64_t ldc, int mr, int nr, bool accumulate,
                                   const float* bias) {
  __m512 acc[kMR][NV];
#pragma GCC unroll 8
  for (int i = 0; i < kMR; ++i)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  for (int kk = 0; kk < kc; ++kk) {
    const float* bk = b + int64_t(kk) * kNR;
    const float* ak = a + int64_t(kk) * kMR;
    __m512 bv[NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_load_ps(bk + 16 * v);
#pragma GCC unroll 8
    for (int i = 0; i < kMR; ++i) {
      __m512 ai = _mm512_set1_ps(ak[i]);
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
    }
  }
  __mmask16 mask[NV];
#pragma GCC unroll 3
  for (int v = 0; v < NV; ++v) {
    int left = nr - 16 * v;
    mask[v] = left >= 16 ? __mmask16(0xFFFF) : left <= 0 ? __mmask16(0) : __mmask16((1u << left) - 1);
  }
#pragma GCC unroll 8
  for (int i = 0; i < kMR; ++i) {
    if (i >= mr) break;
    float* ci = c + i * ldc;
    __m512 init = (!accumulate && bias) ? _mm512_set1_ps(bias[i]) : _mm512_setzero_ps();
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) {
      __m512 r = accumulate ? _mm512_add_ps(_mm512_maskz_loadu_ps(mask[v], ci + 16 * v), acc[i][v])
                            : _mm512_add_ps(init, acc[i][v]);
      _mm512_mask_storeu_ps(ci + 16 * v, mask[v], r);
    }
  }
}
#endif

#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__)
// AVX2: 16 ymm registers cannot hold the 8x48 tile, so it is done as four 4x24 sub-tiles
// (12 accumulators each), re-reading the packed panels from L1.
inline void micro_kernel_avx2(int kc, const float* a, const float* b, float* c, int64_t ldc,
                              int mr, int nr, bool accumulate, const float* bias) {
  for (int i0 = 0; i0 < kMR && i0 < mr; i0 += 4)
    for (int j0 = 0; j0 < kNR && j0 < nr; j0 += 24) {
      __m256 acc[4][3];
      for (int i = 0; i < 4; ++i)
        for (int v = 0; v < 3; ++v) acc[i][v] = _mm256_setzero_ps();
      for (int kk = 0; kk < kc; ++kk) {
        const float* bk = b + int64_t(kk) * kNR + j0;
        const float* ak = a + int64_t(kk) * kMR + i0;
        __m256 b0 = _mm256_load_ps(bk), b1 = _mm256_load_ps(bk + 8), b2 = _mm256_load_ps(bk + 16);
        for (int i = 0; i < 4; ++i) {
          __m256 ai = _mm256_broadcast_ss(ak + i);
          acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
          acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
          acc[i][2] = _mm256_fmadd_ps(ai, b2, acc[i][2]);
        }
      }
      for (int i = 0; i < 4 && i0 + i < mr; ++i) {
        alignas(32) float tmp[24];
        for (int v = 0; v < 3; ++v) _mm256_store_ps(tmp + 8 * v, acc[i][v]);
        float* ci = c + (i0 + i) * ldc + j0;
        float init = (!accumulate && bias) ? bias[i0 + i] : 0.f;
        int n = std::min(24, nr - j0);
        for (int j = 0; j < n; ++j) ci[j] = accumulate ? ci[j] + tmp[j] : init + tmp[j];
      }
    }
}
#endif

inline void micro_kernel(int kc, const float* a, const float* b, float* c, int64_t ldc, int mr,
                         int nr, bool accumulate, const float* bias) {
#if defined(__AVX512F__)
  if (nr > 32)
    micro_kernel_avx512_nv<3>(kc, a, b, c, ldc, mr, nr, accumulate, bias);
  else if (nr > 16)
    micro_kernel_avx512_nv<2>(kc, a, b, c, ldc, mr, nr, accumulate, bias);
  else
    micro_kernel_avx512_nv<1>(kc, a, b, c, ldc, mr, nr, accumulate, bias);
#elif defined(__AVX2__) && defined(__FMA__)
  micro_kernel_avx2(kc, a, b, c, ldc, mr, nr, accumulate, bias);
#else
  micro_kernel_generic(kc, a, b, c, ldc, mr, nr, accumulate, bias);
#endif
}


// ---- shifted ("implicit") GEMM kernel ---------------------------------------------------------
// Same product, but B is read in place instead of from a packed panel: step kk of column j is
// b[boff[kk] + j]. For a convolution, b is the (padded, stride-phase split) input image and
// boff[kk] the shift of tap (c, r, s), so no im2col copy is made. The tile's 48 columns are 48
// consecutive positions of a padded output grid; the ones outside the real image are dropped,
// and the kept ones land on consecutive elements of C (see TileMap).
struct TileMap {
  int nr = 0;            // columns computed (lanes past nr are neither read nor written)
  int first = 0;         // destination offset of the first kept column
  bool dense = false;    // every column < nr kept: destinations first, first+1, ...
  uint16_t keep[3] = {};  // kept lanes of each 16-column vector
  int vdst[3] = {};       // destination offset of the first kept lane of each vector
  int dst[kNR] = {};      // destination offset of each column, -1 = dropped (portable path)
};

// c[i*ldc + dst[j]]  (+)=  sum_kk a[kk*kMR + i] * b[boff[kk] + j]   for i < mr, kept j.
inline void shift_kernel_generic(int kc, const float* a, const float* b, const int64_t* boff,
                                 float* c, int64_t ldc, int mr, const TileMap& map,
                                 bool accumulate, const float* bias, bool silu) {
  float acc[kMR][kNR];
  for (int i = 0; i < kMR; ++i)
    for (int j = 0; j < kNR; ++j) acc[i][j] = 0.f;
  const int nr = map.nr;
  for (int kk = 0; kk < kc; ++kk) {
    const float* bk = b + boff[kk];
    const float* ak = a + int64_t(kk) * kMR;
    for (int i = 0; i < kMR; ++i)
      for (int j = 0; j < nr; ++j) acc[i][j] += ak[i] * bk[j];
  }
  for (int i = 0; i < mr; ++i) {
    float* ci = c + i * ldc;
    const float init = (!accumulate && bias) ? bias[i] : 0.f;
    for (int j = 0; j < nr; ++j) {
      const int d = map.dst[j];
      if (d < 0) continue;
      const float v = accumulate ? ci[d] + acc[i][j] : init + acc[i][j];
      ci[d] = silu ? v * sigmoid_fast(v) : v;
    }
  }
}

#if defined(__AVX512F__)
template <int NV>
inline void shift_kernel_avx512_nv(int kc, const float* a, const float* b, const int64_t* boff,
                                   float* c, int64_t ldc, int mr, const TileMap& map,
                                   bool accumulate, const float* bias, bool silu) {
  __m512 acc[kMR][NV];
#pragma GCC unroll 8
  for (int i = 0; i < kMR; ++i)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  __mmask16 lm[NV];
#pragma GCC unroll 3
  for (int v = 0; v < NV; ++v) {
    int left = map.nr - 16 * v;
    lm[v] = left >= 16 ? __mmask16(0xFFFF) : left <= 0 ? __mmask16(0) : __mmask16((1u << left) - 1);
  }
  for (int kk = 0; kk < kc; ++kk) {
    const float* bk = b + boff[kk];
    const float* ak = a + int64_t(kk) * kMR;
    __m512 bv[NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_maskz_loadu_ps(lm[v], bk + 16 * v);
#pragma GCC unroll 8
    for (int i = 0; i < kMR; ++i) {
      __m512 ai = _mm512_set1_ps(ak[i]);
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
    }
  }
  if (map.dense) {
#pragma GCC unroll 8
    for (int i = 0; i < kMR; ++i) {
      if (i >= mr) break;
      float* ci = c + i * ldc + map.first;
      __m512 init = (!accumulate && bias) ? _mm512_set1_ps(bias[i]) : _mm512_setzero_ps();
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) {
        __m512 r = accumulate ? _mm512_add_ps(_mm512_maskz_loadu_ps(lm[v], ci + 16 * v), acc[i][v])
                              : _mm512_add_ps(init, acc[i][v]);
        if (silu) r = silu16(r);
        _mm512_mask_storeu_ps(ci + 16 * v, lm[v], r);
      }
    }
    return;
  }
  __mmask16 km[NV], cm[NV];
#pragma GCC unroll 3
  for (int v = 0; v < NV; ++v) {
    km[v] = __mmask16(map.keep[v] & lm[v]);
    const int cnt = __builtin_popcount(unsigned(km[v]));
    cm[v] = cnt >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << cnt) - 1);
  }
#pragma GCC unroll 8
  for (int i = 0; i < kMR; ++i) {
    if (i >= mr) break;
    float* ci = c + i * ldc;
    __m512 init = (!accumulate && bias) ? _mm512_set1_ps(bias[i]) : _mm512_setzero_ps();
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) {
      if (!cm[v]) continue;
      float* d = ci + map.vdst[v];
      __m512 r = _mm512_maskz_compress_ps(km[v], acc[i][v]);
      r = accumulate ? _mm512_add_ps(_mm512_maskz_loadu_ps(cm[v], d), r) : _mm512_add_ps(init, r);
      if (silu) r = silu16(r);
      _mm512_mask_storeu_ps(d, cm[v], r);
    }
  }
}
#endif

// silu = true: each stored value v is replaced by v * sigmoid(v) (the forward's epilogue, done
// in registers on the last reduction block).
inline void shift_kernel(int kc, const float* a, const float* b, const int64_t* boff, float* c,
                         int64_t ldc, int mr, const TileMap& map, bool accumulate,
                         const float* bias, bool silu = false) {
#if defined(__AVX512F__)
  if (map.nr > 32)
    shift_kernel_avx512_nv<3>(kc, a, b, boff, c, ldc, mr, map, accumulate, bias, silu);
  else if (map.nr > 16)
    shift_kernel_avx512_nv<2>(kc, a, b, boff, c, ldc, mr, map, accumulate, bias, silu);
  else
    shift_kernel_avx512_nv<1>(kc, a, b, boff, c, ldc, mr, map, accumulate, bias, silu);
#else
  shift_kernel_generic(kc, a, b, boff, c, ldc, mr, map, accumulate, bias, silu);
#endif
}

// ---- row-pointer kernel (A read in place) ---------------------------------------------------
// c[i*ldc + j] += sum_kk a[i][kk] * b[kk*ldb + j] for i < mr, j < nr, where row i of A is read
// straight from memory at a[i] (the weight gradient reads its A rows -- shifted input planes --
// this way, without packing). B is a packed panel ldb = 16, 32 or 48 floats wide (64-byte
// aligned rows). accumulate=false overwrites c instead.
inline void rowptr_kernel_generic(int kc, const float* const* a, const float* b, int ldb,
                                  float* c, int64_t ldc, int mr, int nr, bool accumulate) {
  float acc[kMR][kNR];
  for (int i = 0; i < kMR; ++i)
    for (int j = 0; j < kNR; ++j) acc[i][j] = 0.f;
  for (int kk = 0; kk < kc; ++kk) {
    const float* bk = b + int64_t(kk) * ldb;
    for (int i = 0; i < mr; ++i) {
      const float ai = a[i][kk];
      for (int j = 0; j < nr; ++j) acc[i][j] += ai * bk[j];
    }
  }
  for (int i = 0; i < mr; ++i)
    for (int j = 0; j < nr; ++j) c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}

#if defined(__AVX512F__)
template <int NV>
inline void rowptr_kernel_avx512_nv(int kc, const float* const* a, const float* b, int ldb,
                                    float* c, int64_t ldc, int mr, int nr, bool accumulate) {
  __m512 acc[kMR][NV];
#pragma GCC unroll 8
  for (int i = 0; i < kMR; ++i)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  const float* ar[kMR];
#pragma GCC unroll 8
  for (int i = 0; i < kMR; ++i) ar[i] = a[i < mr ? i : 0];  // rows past mr: any valid row
  for (int kk = 0; kk < kc; ++kk) {
    const float* bk = b + int64_t(kk) * ldb;
    __m512 bv[NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) bv[v] = _mm512_load_ps(bk + 16 * v);
#pragma GCC unroll 8
    for (int i = 0; i < kMR; ++i) {
      __m512 ai = _mm512_set1_ps(ar[i][kk]);
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
    }
  }
  __mmask16 mask[NV];
#pragma GCC unroll 3
  for (int v = 0; v < NV; ++v) {
    int left = nr - 16 * v;
    mask[v] = left >= 16 ? __mmask16(0xFFFF) : left <= 0 ? __mmask16(0) : __mmask16((1u << left) - 1);
  }
#pragma GCC unroll 8
  for (int i = 0; i < kMR; ++i) {
    if (i >= mr) break;
    float* ci = c + i * ldc;
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v)
      _mm512_mask_storeu_ps(
          ci + 16 * v, mask[v],
          accumulate ? _mm512_add_ps(_mm512_maskz_loadu_ps(mask[v], ci + 16 * v), acc[i][v])
                     : acc[i][v]);
  }
}
#endif

inline void rowptr_kernel(int kc, const float* const* a, const float* b, int ldb, float* c,
                          int64_t ldc, int mr, int nr, bool accumulate = true) {
#if defined(__AVX512F__)
  if (nr > 32)
    rowptr_kernel_avx512_nv<3>(kc, a, b, ldb, c, ldc, mr, nr, accumulate);
  else if (nr > 16)
    rowptr_kernel_avx512_nv<2>(kc, a, b, ldb, c, ldc, mr, nr, accumulate);
  else
    rowptr_kernel_avx512_nv<1>(kc, a, b, ldb, c, ldc, mr, nr, accumulate);
#else
  rowptr_kernel_generic(kc, a, b, ldb, c, ldc, mr, nr, accumulate);
#endif
}

}  // namespace yolite::ops::gemm
