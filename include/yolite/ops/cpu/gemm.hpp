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
// Scratch memory: pack buffers come from `gemm::scratch(slot, n)`, a grow-only buffer per
// thread and slot (thread_local, freed when the thread ends). It is not shared between
// threads, so it is not global mutable state in the sense of the style rules; it exists so the
// hot path does not allocate on every call.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

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

// A 64-byte aligned buffer of at least n floats owned by the calling thread (contents are
// whatever was there before). Slots 0..7 are independent buffers.
inline float* scratch(int slot, size_t n) {
  thread_local ScratchBuffer bufs[8];
  return bufs[slot & 7].get(n);
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

}  // namespace yolite::ops::gemm
