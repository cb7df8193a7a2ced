// ops/cpu/conv2d_winograd.hpp -- 3x3, stride-1, pad-1 float convolutions by Winograd's minimal
// filtering F(2x2, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016).
//
// Every 2x2 block of outputs (a "tile") of output channel k is
//
//   Y = A^T [ sum_c (G g[k,c] G^T) .* (B^T d[c] B) ] A          (.* = element-wise)
//
// with d[c] the 4x4 input patch under the tile (rows 2ty-1 .. 2ty+2, zero outside the image),
// g[k,c] the 3x3 kernel and
//
//   B^T = [1  0 -1  0]     G = [ 1    0    0 ]     A^T = [1  1  1  0]
//         [0  1  1  0]         [1/2  1/2  1/2]           [0  1 -1 -1]
//         [0 -1  1  0]         [1/2 -1/2  1/2]
//         [0  1  0 -1]         [ 0    0    1 ]
//
// Writing U = G g G^T and V = B^T d B, the sum over c is, for each of the 16 elements xi of the
// 4x4 transforms, a matrix product  M[xi] (K x tiles) = U[xi] (K x C) * V[xi] (C x tiles).
// Those 16 products run on gemm::micro_kernel, and cost 16*C multiply-adds per tile of 4
// outputs: 4*C per output instead of the direct convolution's 9*C (2.25x fewer). The
// transforms themselves are additions only (and U is computed once per weight tensor).
//
//   std::vector<float> u(winograd::packed_size(p));
//   winograd::pack_weights(p, w, u.data());                       // p: C, K used
//   winograd::forward(p, x, u.data(), b, y, ops::ConvAct::silu);  // y = silu(conv(x, w) + b)
//
// Rounding: the transforms add up to 16 inputs before the products, so results differ from the
// direct convolution's in the last bits (tests/ops/test_conv2d_winograd.cpp bounds the error
// against the double-precision reference loops). For one input and thread count the result is
// always the same: every output is computed by exactly one work item, in a fixed order.
//
// Work items: (part of the output channels, image, block of up to 48 tiles). An item
//   1. transforms its tiles' input patches, every channel, into V: 16 x C x 48 floats, which is
//      the micro-kernel's packed-B layout (48 tiles = the kernel's 48 columns) -- or, when the
//      channels are split in parts (batch 1, small maps), finds V done for every part by a
//      first parallel pass over (block, group of 16 channels);
//   2. runs the 16 products for its rows of output channels into M: 16 x rows x 48, reduction
//      blocks of at most 128 channels (a B panel of 24 KB stays in L1 while the A panels --
//      the packed U -- stream past it);
//   3. applies A^T . A, the bias and the activation, and stores the 2x2 outputs.
// Callers: PackedConvWeights (ops/cpu/conv2d_packed.hpp; inference, U packed once) and, for
// training, ops::conv2d_forward / ops::conv2d_backward_input (ops/conv2d.hpp; U packed per call:
// the input gradient of a 3x3 stride-1 pad-1 convolution is one too). The weight gradient
// stays direct.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#include <omp.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "activation.hpp"
#include "conv2d.hpp"
#include "conv2d_fast.hpp"
#include "gemm.hpp"

namespace yolite::ops::fast::winograd {

using gemm::kMR;
using gemm::kNR;

inline constexpr int kTiles = kNR;   // tiles per work item: the micro-kernel's 48 columns
inline constexpr int kKcMax = 128;   // channels per reduction block (B panel 128 x 48 floats)

// Where F(2x2,3x3) is used: 3x3 kernels, stride 1, padding 1 (the output is the input's size),
// and enough channels that the 16 products, not the transforms, are the work.
inline bool applies(const Conv2dParams& p) {
  return p.R == 3 && p.S == 3 && p.stride == 1 && p.pad == 1 && p.C >= 16 && p.K >= 16;
}

// Layout of the packed U: transform xi at xi*Mpad*C; inside it, reduction block c0 at c0*Mpad,
// its row panel ip at + ip*kcb*kMR, element (channel c0+cc, row ip*kMR+i) at + cc*kMR + i
// (kcb = the block's channel count; rows past K are zero).
struct Plan {
  int kc = 0, mpan = 0;
  int64_t Mpad = 0;
};
inline Plan plan(const Conv2dParams& p) {
  Plan f;
  f.kc = detail::reduction_block(p.C, kKcMax);
  f.mpan = int(detail::ceil_div(p.K, kMR));
  f.Mpad = int64_t(f.mpan) * kMR;
  return f;
}
inline int64_t packed_size(const Conv2dParams& p) { return 16 * plan(p).Mpad * p.C; }

// u = G g G^T for every (k, c), packed as above (packed_size(p) floats), where
// g(k, c, r, s) gives element (r, s) of the 3x3 kernel from input channel c to output channel k
// of the convolution p. Computed in double and rounded once.
template <class Get>
void pack_weights_from(const Conv2dParams& p, Get&& g, float* u) {
  YOLITE_CHECK(p.R == 3 && p.S == 3, "winograd::pack_weights: needs a 3x3 kernel, got ", p.R,
               "x", p.S);
  const Plan f = plan(p);
  const int C = p.C, K = p.K;
  const int64_t xi_stride = f.Mpad * C;
  // one row panel (kMR output channels, lanes i) at a time: every store below is a contiguous
  // run of kMR floats, and every float of u is written (rows past K get zero kernels)
#pragma omp parallel for schedule(static) if (int64_t(K) * C >= 4096 && !omp_in_parallel())
  for (int ip = 0; ip < f.mpan; ++ip) {
    for (int c = 0; c < C; ++c) {
      double gk[3][3][kMR];
      for (int i = 0; i < kMR; ++i) {
        const int k = ip * kMR + i;
        for (int r = 0; r < 3; ++r)
          for (int s = 0; s < 3; ++s) gk[r][s][i] = k < K ? double(g(k, c, r, s)) : 0.0;
      }
      double gg[4][3][kMR];  // G g: rows g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2
      for (int s = 0; s < 3; ++s)
        for (int i = 0; i < kMR; ++i) {
          gg[0][s][i] = gk[0][s][i];
          gg[1][s][i] = 0.5 * (gk[0][s][i] + gk[1][s][i] + gk[2][s][i]);
          gg[2][s][i] = 0.5 * (gk[0][s][i] - gk[1][s][i] + gk[2][s][i]);
          gg[3][s][i] = gk[2][s][i];
        }
      const int c0 = c / f.kc * f.kc, kcb = std::min(f.kc, C - c0);
      float* dst = u + int64_t(c0) * f.Mpad + int64_t(ip) * kcb * kMR + int64_t(c - c0) * kMR;
      for (int a = 0; a < 4; ++a) {  // (G g) G^T: columns likewise
        float* d = dst + int64_t(a * 4) * xi_stride;
        for (int i = 0; i < kMR; ++i) {
          d[i] = float(gg[a][0][i]);
          d[xi_stride + i] = float(0.5 * (gg[a][0][i] + gg[a][1][i] + gg[a][2][i]));
          d[2 * xi_stride + i] = float(0.5 * (gg[a][0][i] - gg[a][1][i] + gg[a][2][i]));
          d[3 * xi_stride + i] = float(gg[a][2][i]);
        }
      }
    }
  }
}

// The same for weights w [K, C, 3, 3] as stored.
inline void pack_weights(const Conv2dParams& p, const float* w, float* u) {
  const int64_t C = p.C;
  pack_weights_from(
      p, [&](int k, int c, int r, int s) { return double(w[((k * C + c) * 3 + r) * 3 + s]); }, u);
}

namespace detail {

// B^T d B of 4x4 patches d, over lanes: d[i][j] are 16-lane (or scalar) values.
//   t = B^T d: rows d0 - d2, d1 + d2, d2 - d1, d1 - d3; then the same on the columns of t.
// out[(i*4 + j) * xs] receives element (i, j).
#if defined(__AVX512F__)
inline void bt_d_b(const __m512 (&d)[4][4], __mmask16 m, float* out, int64_t xs) {
  __m512 t[4][4];
  for (int j = 0; j < 4; ++j) {
    t[0][j] = _mm512_sub_ps(d[0][j], d[2][j]);
    t[1][j] = _mm512_add_ps(d[1][j], d[2][j]);
    t[2][j] = _mm512_sub_ps(d[2][j], d[1][j]);
    t[3][j] = _mm512_sub_ps(d[1][j], d[3][j]);
  }
  for (int i = 0; i < 4; ++i) {
    _mm512_mask_storeu_ps(out + (i * 4 + 0) * xs, m, _mm512_sub_ps(t[i][0], t[i][2]));
    _mm512_mask_storeu_ps(out + (i * 4 + 1) * xs, m, _mm512_add_ps(t[i][1], t[i][2]));
    _mm512_mask_storeu_ps(out + (i * 4 + 2) * xs, m, _mm512_sub_ps(t[i][2], t[i][1]));
    _mm512_mask_storeu_ps(out + (i * 4 + 3) * xs, m, _mm512_sub_ps(t[i][1], t[i][3]));
  }
}

// lanes l of P[row][m0 + l], P = the row zero-padded by one column each side (P[m] = x[m-1])
inline __m512 load_padded(const float* xrow, int W, int m0) {
  const int lo = m0 - 1;  // x column of lane 0
  if (!xrow || lo >= W || lo + 16 <= 0) return _mm512_setzero_ps();
  uint32_t mask = 0xFFFFu;
  if (lo < 0) mask &= 0xFFFFu << -lo;
  if (W - lo < 16) mask &= (1u << (W - lo)) - 1;
  // masked-off lanes are not read, so lanes before column 0 or past W never touch memory
  return _mm512_maskz_loadu_ps(__mmask16(mask), xrow + lo);
}
#endif

// V[xi*xs + j] for tiles tx = tx0 .. tx0+n-1 of one tile row (j = 0 .. n-1): xr[i] is the image
// row under patch row i (2ty+i-1), nullptr where that row is padding.
inline void input_segment(const float* const (&xr)[4], int W, int tx0, int n, float* v,
                          int64_t xs) {
#if defined(__AVX512F__)
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512i next = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
  const __m512i next1 = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17);
  for (int c0 = 0; c0 < n; c0 += 16) {
    const int cnt = std::min(16, n - c0);
    const __mmask16 m = __mmask16(cnt >= 16 ? 0xFFFFu : (1u << cnt) - 1);
    const int p0 = 2 * (tx0 + c0);  // padded column of lane 0's patch
    __m512 d[4][4];
    for (int i = 0; i < 4; ++i) {
      const __m512 a = load_padded(xr[i], W, p0), b = load_padded(xr[i], W, p0 + 16);
      const __m512 c = load_padded(xr[i], W, p0 + 32);
      d[i][0] = _mm512_permutex2var_ps(a, even, b);        // P[p0 + 2l]
      d[i][1] = _mm512_permutex2var_ps(a, odd, b);         // P[p0 + 2l + 1]
      d[i][2] = _mm512_permutex2var_ps(d[i][0], next, c);  // P[p0 + 2l + 2]
      d[i][3] = _mm512_permutex2var_ps(d[i][1], next1, c); // P[p0 + 2l + 3]
    }
    bt_d_b(d, m, v + c0, xs);
  }
#else
  for (int j = 0; j < n; ++j) {
    const int p0 = 2 * (tx0 + j);
    float d[4][4];
    for (int i = 0; i < 4; ++i)
      for (int q = 0; q < 4; ++q) {
        const int col = p0 + q - 1;
        d[i][q] = (xr[i] && col >= 0 && col < W) ? xr[i][col] : 0.f;
      }
    float t[4][4];
    for (int q = 0; q < 4; ++q) {
      t[0][q] = d[0][q] - d[2][q];
      t[1][q] = d[1][q] + d[2][q];
      t[2][q] = d[2][q] - d[1][q];
      t[3][q] = d[1][q] - d[3][q];
    }
    for (int i = 0; i < 4; ++i) {
      v[(i * 4 + 0) * xs + j] = t[i][0] - t[i][2];
      v[(i * 4 + 1) * xs + j] = t[i][1] + t[i][2];
      v[(i * 4 + 2) * xs + j] = t[i][2] - t[i][1];
      v[(i * 4 + 3) * xs + j] = t[i][1] - t[i][3];
    }
  }
#endif
}

// V[xi][c][j] = (B^T d B)[xi] of tile t0 + j of channel c, j < nt, for channels c in
// [cbegin, cend) of C; slots nt..ceil16(nt) zeroed (the micro-kernel reads whole 16-float
// vectors). x: one image [C, H, W]; TW tiles per row.
inline void input_transform(const float* x, int C, int cbegin, int cend, int H, int W, int TW,
                            int64_t t0, int nt, float* V) {
  const int ty0 = int(t0 / TW), ty1 = int((t0 + nt - 1) / TW);
  const int64_t xs = int64_t(C) * kNR;  // distance between transforms xi
  const int ntz = int(std::min<int64_t>(kNR, (nt + 15) / 16 * 16));
  for (int c = cbegin; c < cend; ++c) {
    const float* xc = x + int64_t(c) * H * W;
    float* vc = V + int64_t(c) * kNR;
    for (int ty = ty0; ty <= ty1; ++ty) {
      const int txa = ty == ty0 ? int(t0 % TW) : 0;
      const int txb = ty == ty1 ? int((t0 + nt - 1) % TW) + 1 : TW;
      const int j0 = int(int64_t(ty) * TW + txa - t0);
      const float* xr[4];
      for (int i = 0; i < 4; ++i) {
        const int iy = 2 * ty + i - 1;
        xr[i] = iy >= 0 && iy < H ? xc + int64_t(iy) * W : nullptr;
      }
      input_segment(xr, W, txa, txb - txa, vc + j0, xs);
    }
    for (int xi = 0; xi < 16; ++xi)
      for (int j = nt; j < ntz; ++j) vc[xi * xs + j] = 0.f;
  }
}

// One output row segment: tiles tx = tx0 .. tx0+n-1 of tile row ty, output channel plane yk
// [H, W]; m[xi*xs + j] = transform xi of tile tx0 + j. Y = A^T m A + bias, then act:
//   s = A^T m: rows m0 + m1 + m2, m1 - m2 - m3; Y = s A: columns likewise.
inline void output_segment(const float* m, int64_t xs, float bias, ConvAct act, bool accumulate,
                           float* yk, int H, int W, int ty, int tx0, int n) {
#if defined(__AVX512F__)
  const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const __m512 bv = _mm512_set1_ps(bias);
  for (int c0 = 0; c0 < n; c0 += 16) {
    const int cnt = std::min(16, n - c0);
    const __mmask16 mk = __mmask16(cnt >= 16 ? 0xFFFFu : (1u << cnt) - 1);
    __m512 s[2][4];
    for (int b = 0; b < 4; ++b) {
      const __m512 m0 = _mm512_maskz_loadu_ps(mk, m + (0 * 4 + b) * xs + c0);
      const __m512 m1 = _mm512_maskz_loadu_ps(mk, m + (1 * 4 + b) * xs + c0);
      const __m512 m2 = _mm512_maskz_loadu_ps(mk, m + (2 * 4 + b) * xs + c0);
      const __m512 m3 = _mm512_maskz_loadu_ps(mk, m + (3 * 4 + b) * xs + c0);
      s[0][b] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
      s[1][b] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
    }
    const int col0 = 2 * (tx0 + c0);
    const int cols = std::min(2 * cnt, W - col0);  // outputs of this chunk inside the row
    const __mmask16 mlo = __mmask16(cols >= 16 ? 0xFFFFu : (1u << cols) - 1);
    const __mmask16 mhi = __mmask16(cols >= 32 ? 0xFFFFu : cols <= 16 ? 0u : (1u << (cols - 16)) - 1);
    for (int a = 0; a < 2; ++a) {
      const int oy = 2 * ty + a;
      if (oy >= H) break;
      __m512 y0 = _mm512_add_ps(bv, _mm512_add_ps(_mm512_add_ps(s[a][0], s[a][1]), s[a][2]));
      __m512 y1 = _mm512_add_ps(bv, _mm512_sub_ps(_mm512_sub_ps(s[a][1], s[a][2]), s[a][3]));
      if (act == ConvAct::silu) {
        y0 = silu16(y0);
        y1 = silu16(y1);
      }
      float* yr = yk + int64_t(oy) * W + col0;
      __m512 r0 = _mm512_permutex2var_ps(y0, lo, y1), r1 = _mm512_permutex2var_ps(y0, hi, y1);
      if (accumulate) {
        r0 = _mm512_add_ps(r0, _mm512_maskz_loadu_ps(mlo, yr));
        r1 = _mm512_add_ps(r1, _mm512_maskz_loadu_ps(mhi, yr + 16));
      }
      _mm512_mask_storeu_ps(yr, mlo, r0);
      if (mhi) _mm512_mask_storeu_ps(yr + 16, mhi, r1);
    }
  }
#else
  for (int j = 0; j < n; ++j) {
    float s[2][4];
    for (int b = 0; b < 4; ++b) {
      const float m0 = m[(0 * 4 + b) * xs + j], m1 = m[(1 * 4 + b) * xs + j];
      const float m2 = m[(2 * 4 + b) * xs + j], m3 = m[(3 * 4 + b) * xs + j];
      s[0][b] = m0 + m1 + m2;
      s[1][b] = m1 - m2 - m3;
    }
    const int col = 2 * (tx0 + j);
    for (int a = 0; a < 2; ++a) {
      const int oy = 2 * ty + a;
      if (oy >= H) break;
      float y0 = bias + (s[a][0] + s[a][1] + s[a][2]);
      float y1 = bias + (s[a][1] - s[a][2] - s[a][3]);
      if (act == ConvAct::silu) {
        y0 = y0 * sigmoid_fast(y0);
        y1 = y1 * sigmoid_fast(y1);
      }
      float* yr = yk + int64_t(oy) * W + col;
      yr[0] = accumulate ? yr[0] + y0 : y0;
      if (col + 1 < W) yr[1] = accumulate ? yr[1] + y1 : y1;
    }
  }
#endif
}

// y[k][2ty+a][2tx+b] = act(bias[k] + (A^T m A)[a][b]) for rows k = r0 .. r0+m-1 and tiles
// t0 .. t0+nt-1 of one image (y: [K, H, W]); M[(xi*ldm + i)*kNR + j] = m[xi] of row r0+i, tile
// t0+j. Outputs past the image's last row / column (odd H or W) are dropped.
inline void output_transform(const float* M, int ldm, int r0, int m, const float* bias,
                             ConvAct act, bool accumulate, float* y, int H, int W, int TW,
                             int64_t t0, int nt) {
  const int ty0 = int(t0 / TW), ty1 = int((t0 + nt - 1) / TW);
  const int64_t xs = int64_t(ldm) * kNR;
  for (int i = 0; i < m; ++i) {
    const int k = r0 + i;
    const float* mi = M + int64_t(i) * kNR;
    float* yk = y + int64_t(k) * H * W;
    for (int ty = ty0; ty <= ty1; ++ty) {
      const int txa = ty == ty0 ? int(t0 % TW) : 0;
      const int txb = ty == ty1 ? int((t0 + nt - 1) % TW) + 1 : TW;
      const int j0 = int(int64_t(ty) * TW + txa - t0);
      output_segment(mi + j0, xs, bias ? bias[k] : 0.f, act, accumulate, yk, H, W, ty, txa,
                     txb - txa);
    }
  }
}

}  // namespace detail

// y = act(conv(x, w) + b) for a 3x3, stride-1, pad-1 convolution, from U packed by
// pack_weights (same C and K). Overwrites y [N, K, H, W]; accumulate = true adds conv(x, w) + b
// to it instead (act must then be none).
inline void forward(const Conv2dParams& p, const float* x, const float* u, const float* b,
                    float* y, ConvAct act = ConvAct::none, bool accumulate = false) {
  YOLITE_CHECK(p.R == 3 && p.S == 3 && p.stride == 1 && p.pad == 1,
               "winograd::forward: needs a 3x3 stride-1 pad-1 convolution, got ", p.R, "x", p.S,
               " stride ", p.stride, " pad ", p.pad);
  YOLITE_CHECK(!(accumulate && act != ConvAct::none),
               "winograd::forward: an activation cannot be applied to an accumulated output");
  const Plan f = plan(p);
  const int C = p.C, K = p.K, H = p.H, W = p.W;
  const int TH = (H + 1) / 2, TW = (W + 1) / 2;
  const int64_t T = int64_t(TH) * TW;
  const int64_t nblk = fast::detail::ceil_div(T, kTiles);
  const int64_t items0 = p.N * nblk;
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  // Few blocks (batch 1, small maps): every thread takes a share of the output channels of
  // every block (item order part-major, so a static schedule gives thread t part t), and the
  // input transforms are done once for all parts, first, split by groups of channels (the
  // prologue of run_items), into a V shared by the parts.
  const int mparts = (items0 % threads == 0 || items0 >= 8 * threads)
                         ? 1
                         : int(std::min<int64_t>(f.mpan, threads));
  const int rows_per_part = int(fast::detail::ceil_div(f.mpan, mparts)) * kMR;
  const int64_t xi_stride = f.Mpad * C;
  const size_t nv = size_t(16) * C * kNR, nm = size_t(16) * rows_per_part * kNR;
  const int64_t CHW = int64_t(C) * H * W, KHW = int64_t(K) * H * W;
  const bool shared = mparts > 1;
  float* vshared = shared ? gemm::scratch(7, nv * size_t(items0)) : nullptr;
  constexpr int kGroup = 16;  // channels per prologue job
  const int64_t ngroups = fast::detail::ceil_div(C, kGroup);
  const auto tiles = [&](int64_t blk, int64_t& t0, int& nt) {
    t0 = blk * kTiles;
    nt = int(std::min<int64_t>(kTiles, T - t0));
  };
  fast::detail::run_items(
      shared ? items0 * ngroups : 0,
      [&](int64_t j) {
        const int64_t i = j / ngroups, n = i / nblk;
        const int c0 = int(j % ngroups) * kGroup;
        int64_t t0;
        int nt;
        tiles(i % nblk, t0, nt);
        detail::input_transform(x + n * CHW, C, c0, std::min(C, c0 + kGroup), H, W, TW, t0, nt,
                                vshared + size_t(i) * nv);
      },
      items0 * mparts, shared ? 0 : nv, nm, 0,
      [&](int64_t it, float* Vown, float* M, float*) {
        const int part = int(it / items0);
        const int64_t n = it % items0 / nblk, blk = it % nblk;
        const int r0 = part * rows_per_part, m = std::min(K - r0, rows_per_part);
        if (m <= 0) return;
        int64_t t0;
        int nt;
        tiles(blk, t0, nt);
        const float* V = Vown;
        if (shared)
          V = vshared + size_t(it % items0) * nv;
        else
          detail::input_transform(x + n * CHW, C, 0, C, H, W, TW, t0, nt, Vown);
        for (int xi = 0; xi < 16; ++xi)
          for (int c0 = 0; c0 < C; c0 += f.kc) {
            const int kcb = std::min(f.kc, C - c0);
            const float* bp = V + (int64_t(xi) * C + c0) * kNR;
            const float* ab = u + xi * xi_stride + int64_t(c0) * f.Mpad;
            for (int i0 = 0; i0 < m; i0 += kMR) {
              const float* ap = ab + int64_t((r0 + i0) / kMR) * kcb * kMR;
              gemm::micro_kernel(kcb, ap, bp, M + (int64_t(xi) * rows_per_part + i0) * kNR, kNR,
                                 std::min(kMR, m - i0), nt, /*accumulate=*/c0 > 0, nullptr);
            }
          }
        detail::output_transform(M, rows_per_part, r0, m, b, act, accumulate, y + n * KHW, H, W,
                                 TW, t0, nt);
      });
}

// ---- unpacked entry points (training: the weights change every step) -------------------------
// U is packed on every call into the calling thread's scratch (gemm::scratch slot 6).

// y = act(conv(x, w) + b), w [K, C, 3, 3] as stored.
inline void forward_unpacked(const Conv2dParams& p, const float* x, const float* w,
                             const float* b, float* y, ConvAct act = ConvAct::none) {
  float* u = gemm::scratch(6, size_t(packed_size(p)));
  pack_weights(p, w, u);
  forward(p, x, u, b, y, act);
}

// The input gradient of a 3x3 stride-1 pad-1 convolution p: dx (+)= conv(dy, w'), the
// correlation of dy with w'[c, k, r, s] = w[k, c, 2-r, 2-s] (kernel flipped in space,
// transposed in channels), itself a 3x3 stride-1 pad-1 convolution from K to C channels.
inline void backward_input(const Conv2dParams& p, const float* dy, const float* w, float* dx,
                           bool accumulate) {
  Conv2dParams q = p;
  q.C = p.K, q.K = p.C;
  float* u = gemm::scratch(6, size_t(packed_size(q)));
  const int64_t C = p.C;
  pack_weights_from(
      q,
      [&](int c, int k, int r, int s) { return double(w[((k * C + c) * 3 + 2 - r) * 3 + 2 - s]); },
      u);
  forward(q, dy, u, nullptr, dx, ConvAct::none, accumulate);
}

}  // namespace yolite::ops::fast::winograd
