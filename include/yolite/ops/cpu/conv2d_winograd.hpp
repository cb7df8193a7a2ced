// ops/cpu/conv2d_winograd.hpp -- 3x3, pad-1 float convolutions of stride 1 or 2 by Winograd-style
// minimal filtering algorithms (Lavin & Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016), 2x2 outputs per tile.
//
// Every 2x2 block of outputs (a "tile") of output channel k is
//
//   Y = A^T [ sum_c (G g[k,c] G^T) .* (B^T d[c] B) ] A          (.* = element-wise)
//
// with d[c] the a x a input patch under the tile (zero outside the image) and g[k,c] the 3x3
// kernel. Stride 1 is F(2x2,3x3), a = 4, patch rows 2ty-1 .. 2ty+2:
//
//   B^T = [1  0 -1  0]     G = [ 1    0    0 ]     A^T = [1  1  1  0]
//         [0  1  1  0]         [1/2  1/2  1/2]           [0  1 -1 -1]
//         [0 -1  1  0]         [1/2 -1/2  1/2]
//         [0  1  0 -1]         [ 0    0    1 ]
//
// Stride 2, a = 5, patch rows 4ty-1 .. 4ty+3: per dimension the two outputs are
// y0 = d0 g0 + d1 g1 + d2 g2 and y1 = d2 g0 + d3 g1 + d4 g2. The odd taps (g1) meet d1, d3 once
// each; the even ones are F(2,2) on d0, d2, d4: (d0 - d2) g0, d2 (g0 + g2), (d4 - d2) g2. Five
// products instead of six:
//
//   B^T = [0  1  0  0  0]  G = [0 1 0]   A^T = [1 0 1 1 0]
//         [0  0  0  1  0]      [0 1 0]         [0 1 0 1 1]
//         [1  0 -1  0  0]      [1 0 0]
//         [0  0  1  0  0]      [1 0 1]
//         [0  0 -1  0  1]      [0 0 1]
//
// Writing U = G g G^T and V = B^T d B, the sum over c is, for each of the a*a elements xi of
// the transforms, a matrix product  M[xi] (K x tiles) = U[xi] (K x C) * V[xi] (C x tiles).
// Those products run on gemm::micro_kernel and cost a*a*C multiply-adds per tile of 4 outputs:
// 4*C per output at stride 1 and 6.25*C at stride 2, instead of the direct convolution's 9*C
// (2.25x and 1.44x fewer). The transforms are additions only; U is computed once per weight
// tensor (its coefficients at stride 2 are 0 and 1: U is exact).
//
//   std::vector<float> u(winograd::packed_size(p));
//   winograd::pack_weights(p, w, u.data());                       // p: C, K, stride used
//   winograd::forward(p, x, u.data(), b, y, ops::ConvAct::silu);  // y = silu(conv(x, w) + b)
//
// Rounding: the transforms add up to a*a inputs before the products, so results differ from the
// direct convolution's in the last bits (tests/ops/test_conv2d_winograd.cpp bounds the error
// against the double-precision reference loops). For one input and thread count the result is
// always the same: every output is computed by exactly one work item, in a fixed order.
//
// Work items: (part of the output channels, image, block of up to 48 tiles). An item
//   1. transforms its tiles' input patches, every channel, into V: a*a x C x 48 floats, which
//      is the micro-kernel's packed-B layout (48 tiles = the kernel's 48 columns) -- or, when
//      the channels are split in parts (batch 1, small maps), finds V done for every part by a
//      first parallel pass over (block, group of 16 channels);
//   2. runs the a*a products for its rows of output channels into M: a*a x rows x 48,
//      reduction blocks of at most 128 channels (a B panel of 24 KB stays in L1 while the A
//      panels -- the packed U -- stream past it);
//   3. applies A^T . A, the bias and the activation, and stores the 2x2 outputs.
// Callers: PackedConvWeights (ops/cpu/conv2d_packed.hpp; inference, U packed once) and, for
// training, ops::conv2d_forward / ops::conv2d_backward_input (ops/conv2d.hpp; U packed per call:
// the input gradient of a 3x3 stride-1 pad-1 convolution is one too). Weight gradients and
// stride-2 input gradients stay direct.
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

// Where these algorithms are used: 3x3 kernels, padding 1, stride 1 or 2, and enough channels
// that the products, not the transforms, are the work.
inline bool applies(const Conv2dParams& p) {
  return p.R == 3 && p.S == 3 && (p.stride == 1 || p.stride == 2) && p.pad == 1 && p.C >= 16 &&
         p.K >= 16;
}
// transform size a per dimension, by stride
constexpr int alpha_of(int stride) { return stride == 1 ? 4 : 5; }

// Layout of the packed U: transform xi at xi*Mpad*C; inside it, reduction block c0 at c0*Mpad,
// its row panel ip at + ip*kcb*kMR, element (channel c0+cc, row ip*kMR+i) at + cc*kMR + i
// (kcb = the block's channel count; rows past K are zero).
struct Plan {
  int kc = 0, mpan = 0, nxi = 0;
  int64_t Mpad = 0;
};
inline Plan plan(const Conv2dParams& p) {
  Plan f;
  f.kc = detail::reduction_block(p.C, kKcMax);
  f.mpan = int(detail::ceil_div(p.K, kMR));
  f.Mpad = int64_t(f.mpan) * kMR;
  f.nxi = alpha_of(p.stride) * alpha_of(p.stride);
  return f;
}
inline int64_t packed_size(const Conv2dParams& p) {
  const Plan f = plan(p);
  return f.nxi * f.Mpad * p.C;
}

namespace detail {
// (G h)[0..a) for one kernel column or row h[0..3), lanes i (kMR output channels)
template <int S>
void g_times(const double (&h)[3][kMR], double (&out)[alpha_of(S)][kMR]) {
  for (int i = 0; i < kMR; ++i) {
    if constexpr (S == 1) {
      out[0][i] = h[0][i];
      out[1][i] = 0.5 * (h[0][i] + h[1][i] + h[2][i]);
      out[2][i] = 0.5 * (h[0][i] - h[1][i] + h[2][i]);
      out[3][i] = h[2][i];
    } else {
      out[0][i] = h[1][i];
      out[1][i] = h[1][i];
      out[2][i] = h[0][i];
      out[3][i] = h[0][i] + h[2][i];
      out[4][i] = h[2][i];
    }
  }
}
}  // namespace detail

template <int S, class Get>
void pack_weights_s(const Conv2dParams& p, Get&& g, float* u) {
  constexpr int A = alpha_of(S);
  const Plan f = plan(p);
  const int C = p.C, K = p.K;
  const int64_t xi_stride = f.Mpad * C;
  // one row panel (kMR output channels, lanes i) at a time: every store below is a contiguous
  // run of kMR floats, and every float of u is written (rows past K get zero kernels)
#pragma omp parallel for schedule(static) if (int64_t(K) * C >= 4096 && !omp_in_parallel())
  for (int ip = 0; ip < f.mpan; ++ip) {
    for (int c = 0; c < C; ++c) {
      double col[3][3][kMR];  // col[s][r]: kernel column s
      for (int i = 0; i < kMR; ++i) {
        const int k = ip * kMR + i;
        for (int r = 0; r < 3; ++r)
          for (int s = 0; s < 3; ++s) col[s][r][i] = k < K ? double(g(k, c, r, s)) : 0.0;
      }
      double gg[3][A][kMR];  // gg[s] = G (column s): rows of G g
      for (int s = 0; s < 3; ++s) detail::g_times<S>(col[s], gg[s]);
      const int c0 = c / f.kc * f.kc, kcb = std::min(f.kc, C - c0);
      float* dst = u + int64_t(c0) * f.Mpad + int64_t(ip) * kcb * kMR + int64_t(c - c0) * kMR;
      for (int a = 0; a < A; ++a) {  // row a of G g, times G^T
        double row[3][kMR], out[A][kMR];
        for (int s = 0; s < 3; ++s)
          for (int i = 0; i < kMR; ++i) row[s][i] = gg[s][a][i];
        detail::g_times<S>(row, out);
        for (int b = 0; b < A; ++b)
          for (int i = 0; i < kMR; ++i) dst[(a * A + b) * xi_stride + i] = float(out[b][i]);
      }
    }
  }
}

// u = G g G^T for every (k, c), packed as above (packed_size(p) floats), where
// g(k, c, r, s) gives element (r, s) of the 3x3 kernel from input channel c to output channel k
// of the convolution p. Computed in double and rounded once.
template <class Get>
void pack_weights_from(const Conv2dParams& p, Get&& g, float* u) {
  YOLITE_CHECK(p.R == 3 && p.S == 3 && (p.stride == 1 || p.stride == 2),
               "winograd::pack_weights: needs a 3x3 kernel of stride 1 or 2, got ", p.R, "x",
               p.S, " stride ", p.stride);
  if (p.stride == 1)
    pack_weights_s<1>(p, g, u);
  else
    pack_weights_s<2>(p, g, u);
}

// The same for weights w [K, C, 3, 3] as stored.
inline void pack_weights(const Conv2dParams& p, const float* w, float* u) {
  const int64_t C = p.C;
  pack_weights_from(
      p, [&](int k, int c, int r, int s) { return double(w[((k * C + c) * 3 + r) * 3 + s]); }, u);
}

namespace detail {

// The transforms' combinations, written once for a float (portable path) and for __m512 (GCC's
// and Clang's vector types have + and -): out = B^T in and (y0, y1) = A^T in, for one column
// (or row) of a values.
template <int S, class V>
inline void bt_combine(const V (&in)[alpha_of(S)], V (&out)[alpha_of(S)]) {
  if constexpr (S == 1) {
    out[0] = in[0] - in[2];
    out[1] = in[1] + in[2];
    out[2] = in[2] - in[1];
    out[3] = in[1] - in[3];
  } else {
    out[0] = in[1];
    out[1] = in[3];
    out[2] = in[0] - in[2];
    out[3] = in[2];
    out[4] = in[4] - in[2];
  }
}
template <int S, class V>
inline void at_combine(const V (&in)[alpha_of(S)], V& y0, V& y1) {
  if constexpr (S == 1) {
    y0 = in[0] + in[1] + in[2];
    y1 = in[1] - in[2] - in[3];
  } else {
    y0 = in[0] + in[2] + in[3];
    y1 = in[1] + in[3] + in[4];
  }
}

// v = B^T d B: the combination on the columns of d, then on the rows of the result.
template <int S, class V>
inline void bt_d_b(const V (&d)[alpha_of(S)][alpha_of(S)], V (&v)[alpha_of(S)][alpha_of(S)]) {
  constexpr int A = alpha_of(S);
  V t[A][A];
  for (int j = 0; j < A; ++j) {
    V col[A], out[A];
    for (int i = 0; i < A; ++i) col[i] = d[i][j];
    bt_combine<S>(col, out);
    for (int i = 0; i < A; ++i) t[i][j] = out[i];
  }
  for (int i = 0; i < A; ++i) bt_combine<S>(t[i], v[i]);
}

// y = A^T m A (2 x 2) of one tile's a x a values m (m(i, j) gives element (i, j)).
template <int S, class V, class Get>
inline void at_m_a(Get&& m, V (&y)[2][2]) {
  constexpr int A = alpha_of(S);
  V s[2][A];  // A^T m
  for (int b = 0; b < A; ++b) {
    V col[A];
    for (int i = 0; i < A; ++i) col[i] = m(i, b);
    at_combine<S>(col, s[0][b], s[1][b]);
  }
  for (int a = 0; a < 2; ++a) at_combine<S>(s[a], y[a][0], y[a][1]);
}

#if defined(__AVX512F__)
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
// row under patch row i, nullptr where that row is padding. Tile tx's patch starts at padded
// column 2*S*tx.
template <int S>
inline void input_segment(const float* const (&xr)[alpha_of(S)], int W, int tx0, int n, float* v,
                          int64_t xs) {
  constexpr int A = alpha_of(S);
#if defined(__AVX512F__)
  const __m512i next = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
  const __m512i next1 = _mm512_setr_epi32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512i by4 = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28);
  for (int c0 = 0; c0 < n; c0 += 16) {
    const int cnt = std::min(16, n - c0);
    const __mmask16 m = __mmask16(cnt >= 16 ? 0xFFFFu : (1u << cnt) - 1);
    const int p0 = 2 * S * (tx0 + c0);  // padded column of lane 0's patch
    __m512 d[A][A];
    for (int i = 0; i < A; ++i) {
      if constexpr (S == 1) {
        const __m512 a = load_padded(xr[i], W, p0), b = load_padded(xr[i], W, p0 + 16);
        const __m512 c = load_padded(xr[i], W, p0 + 32);
        d[i][0] = _mm512_permutex2var_ps(a, even, b);         // P[p0 + 2l]
        d[i][1] = _mm512_permutex2var_ps(a, odd, b);          // P[p0 + 2l + 1]
        d[i][2] = _mm512_permutex2var_ps(d[i][0], next, c);   // P[p0 + 2l + 2]
        d[i][3] = _mm512_permutex2var_ps(d[i][1], next1, c);  // P[p0 + 2l + 3]
      } else {
        // P[p0 + 4l + q]: lanes 0-7 from the first 32 columns, lanes 8-15 from the next 32
        const __m512 a = load_padded(xr[i], W, p0), b = load_padded(xr[i], W, p0 + 16);
        const __m512 c = load_padded(xr[i], W, p0 + 32), e = load_padded(xr[i], W, p0 + 48);
        const __m512 f = load_padded(xr[i], W, p0 + 64);
        for (int q = 0; q < 4; ++q) {
          const __m512i idx = _mm512_add_epi32(by4, _mm512_set1_epi32(q));
          d[i][q] = _mm512_mask_blend_ps(__mmask16(0xFF00), _mm512_permutex2var_ps(a, idx, b),
                                         _mm512_permutex2var_ps(c, idx, e));
        }
        d[i][4] = _mm512_permutex2var_ps(d[i][0], next, f);  // P[p0 + 4l + 4]
      }
    }
    __m512 vv[A][A];
    bt_d_b<S>(d, vv);
    for (int i = 0; i < A; ++i)
      for (int j = 0; j < A; ++j) _mm512_mask_storeu_ps(v + (i * A + j) * xs + c0, m, vv[i][j]);
  }
#else
  for (int j = 0; j < n; ++j) {
    const int p0 = 2 * S * (tx0 + j);
    float d[A][A], vv[A][A];
    for (int i = 0; i < A; ++i)
      for (int q = 0; q < A; ++q) {
        const int col = p0 + q - 1;
        d[i][q] = (xr[i] && col >= 0 && col < W) ? xr[i][col] : 0.f;
      }
    bt_d_b<S>(d, vv);
    for (int i = 0; i < A; ++i)
      for (int q = 0; q < A; ++q) v[(i * A + q) * xs + j] = vv[i][q];
  }
#endif
}

// V[xi][c][j] = (B^T d B)[xi] of tile t0 + j of channel c, j < nt, for channels c in
// [cbegin, cend) of C; slots nt..ceil16(nt) zeroed (the micro-kernel reads whole 16-float
// vectors). x: one image [C, H, W]; TW tiles per row.
template <int S>
void input_transform(const float* x, int C, int cbegin, int cend, int H, int W, int TW,
                     int64_t t0, int nt, float* V) {
  constexpr int A = alpha_of(S);
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
      const float* xr[A];
      for (int i = 0; i < A; ++i) {
        const int iy = 2 * S * ty + i - 1;
        xr[i] = iy >= 0 && iy < H ? xc + int64_t(iy) * W : nullptr;
      }
      input_segment<S>(xr, W, txa, txb - txa, vc + j0, xs);
    }
    for (int xi = 0; xi < A * A; ++xi)
      for (int j = nt; j < ntz; ++j) vc[xi * xs + j] = 0.f;
  }
}

// One output row segment: tiles tx = tx0 .. tx0+n-1 of tile row ty, output channel plane yk
// [OH, OW]; m[xi*xs + j] = transform xi of tile tx0 + j. Y = A^T m A + bias, then act (or
// added to yk when accumulating).
template <int S>
inline void output_segment(const float* m, int64_t xs, float bias, ConvAct act, bool accumulate,
                           float* yk, int OH, int OW, int ty, int tx0, int n) {
  constexpr int A = alpha_of(S);
#if defined(__AVX512F__)
  const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const __m512 bv = _mm512_set1_ps(bias);
  for (int c0 = 0; c0 < n; c0 += 16) {
    const int cnt = std::min(16, n - c0);
    const __mmask16 mk = __mmask16(cnt >= 16 ? 0xFFFFu : (1u << cnt) - 1);
    __m512 y[2][2];
    at_m_a<S>([&](int i, int b) { return _mm512_maskz_loadu_ps(mk, m + (i * A + b) * xs + c0); },
              y);
    const int col0 = 2 * (tx0 + c0);
    const int cols = std::min(2 * cnt, OW - col0);  // outputs of this chunk inside the row
    const __mmask16 mlo = __mmask16(cols >= 16 ? 0xFFFFu : (1u << cols) - 1);
    const __mmask16 mhi = __mmask16(cols >= 32 ? 0xFFFFu : cols <= 16 ? 0u : (1u << (cols - 16)) - 1);
    for (int a = 0; a < 2; ++a) {
      const int oy = 2 * ty + a;
      if (oy >= OH) break;
      __m512 y0 = _mm512_add_ps(bv, y[a][0]), y1 = _mm512_add_ps(bv, y[a][1]);
      if (act == ConvAct::silu) {
        y0 = silu16(y0);
        y1 = silu16(y1);
      }
      float* yr = yk + int64_t(oy) * OW + col0;
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
    float y[2][2];
    at_m_a<S>([&](int i, int b) { return m[(i * A + b) * xs + j]; }, y);
    const int col = 2 * (tx0 + j);
    for (int a = 0; a < 2; ++a) {
      const int oy = 2 * ty + a;
      if (oy >= OH) break;
      float y0 = bias + y[a][0], y1 = bias + y[a][1];
      if (act == ConvAct::silu) {
        y0 = y0 * sigmoid_fast(y0);
        y1 = y1 * sigmoid_fast(y1);
      }
      float* yr = yk + int64_t(oy) * OW + col;
      yr[0] = accumulate ? yr[0] + y0 : y0;
      if (col + 1 < OW) yr[1] = accumulate ? yr[1] + y1 : y1;
    }
  }
#endif
}

// y[k][2ty+a][2tx+b] = act(bias[k] + (A^T m A)[a][b]) for rows k = r0 .. r0+m-1 and tiles
// t0 .. t0+nt-1 of one image (y: [K, OH, OW]); M[(xi*ldm + i)*kNR + j] = m[xi] of row r0+i,
// tile t0+j. Outputs past the last row / column (odd OH or OW) are dropped.
template <int S>
void output_transform(const float* M, int ldm, int r0, int m, const float* bias, ConvAct act,
                      bool accumulate, float* y, int OH, int OW, int TW, int64_t t0, int nt) {
  const int ty0 = int(t0 / TW), ty1 = int((t0 + nt - 1) / TW);
  const int64_t xs = int64_t(ldm) * kNR;
  for (int i = 0; i < m; ++i) {
    const int k = r0 + i;
    const float* mi = M + int64_t(i) * kNR;
    float* yk = y + int64_t(k) * OH * OW;
    for (int ty = ty0; ty <= ty1; ++ty) {
      const int txa = ty == ty0 ? int(t0 % TW) : 0;
      const int txb = ty == ty1 ? int((t0 + nt - 1) % TW) + 1 : TW;
      const int j0 = int(int64_t(ty) * TW + txa - t0);
      output_segment<S>(mi + j0, xs, bias ? bias[k] : 0.f, act, accumulate, yk, OH, OW, ty, txa,
                        txb - txa);
    }
  }
}

template <int S>
void forward_s(const Conv2dParams& p, const float* x, const float* u, const float* b, float* y,
               ConvAct act, bool accumulate) {
  constexpr int NXI = alpha_of(S) * alpha_of(S);
  const Plan f = plan(p);
  const int C = p.C, K = p.K, H = p.H, W = p.W, OH = p.OH(), OW = p.OW();
  const int TH = (OH + 1) / 2, TW = (OW + 1) / 2;
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
  const size_t nv = size_t(NXI) * C * kNR, nm = size_t(NXI) * rows_per_part * kNR;
  const int64_t CHW = int64_t(C) * H * W, KOHW = int64_t(K) * OH * OW;
  const bool shared = mparts > 1;
  float* vshared = shared ? gemm::scratch(gemm::Scratch::winograd_v, nv * size_t(items0)) : nullptr;
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
        input_transform<S>(x + n * CHW, C, c0, std::min(C, c0 + kGroup), H, W, TW, t0, nt,
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
          input_transform<S>(x + n * CHW, C, 0, C, H, W, TW, t0, nt, Vown);
        for (int xi = 0; xi < NXI; ++xi)
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
        output_transform<S>(M, rows_per_part, r0, m, b, act, accumulate, y + n * KOHW, OH, OW,
                            TW, t0, nt);
      });
}

}  // namespace detail

// y = act(conv(x, w) + b) for a 3x3, pad-1 convolution of stride 1 or 2, from U packed by
// pack_weights (same C, K and stride). Overwrites y [N, K, OH, OW]; accumulate = true adds
// conv(x, w) + b to it instead (act must then be none).
inline void forward(const Conv2dParams& p, const float* x, const float* u, const float* b,
                    float* y, ConvAct act = ConvAct::none, bool accumulate = false) {
  YOLITE_CHECK(p.R == 3 && p.S == 3 && (p.stride == 1 || p.stride == 2) && p.pad == 1,
               "winograd::forward: needs a 3x3 pad-1 convolution of stride 1 or 2, got ", p.R,
               "x", p.S, " stride ", p.stride, " pad ", p.pad);
  YOLITE_CHECK(!(accumulate && act != ConvAct::none),
               "winograd::forward: an activation cannot be applied to an accumulated output");
  if (p.stride == 1)
    detail::forward_s<1>(p, x, u, b, y, act, accumulate);
  else
    detail::forward_s<2>(p, x, u, b, y, act, accumulate);
}

// ---- unpacked entry points (training: the weights change every step) -------------------------
// U is packed on every call into the calling thread's scratch (gemm::Scratch::winograd_u).

// y = act(conv(x, w) + b), w [K, C, 3, 3] as stored.
inline void forward_unpacked(const Conv2dParams& p, const float* x, const float* w,
                             const float* b, float* y, ConvAct act = ConvAct::none) {
  float* u = gemm::scratch(gemm::Scratch::winograd_u, size_t(packed_size(p)));
  pack_weights(p, w, u);
  forward(p, x, u, b, y, act);
}

// The input gradient of a 3x3 stride-1 pad-1 convolution p: dx (+)= conv(dy, w'), the
// correlation of dy with w'[c, k, r, s] = w[k, c, 2-r, 2-s] (kernel flipped in space,
// transposed in channels), itself a 3x3 stride-1 pad-1 convolution from K to C channels.
inline void backward_input(const Conv2dParams& p, const float* dy, const float* w, float* dx,
                           bool accumulate) {
  YOLITE_CHECK(p.stride == 1, "winograd::backward_input: stride 1 only, got ", p.stride);
  Conv2dParams q = p;
  q.C = p.K, q.K = p.C;
  float* u = gemm::scratch(gemm::Scratch::winograd_u, size_t(packed_size(q)));
  const int64_t C = p.C;
  pack_weights_from(
      q,
      [&](int c, int k, int r, int s) { return double(w[((k * C + c) * 3 + 2 - r) * 3 + 2 - s]); },
      u);
  forward(q, dy, u, nullptr, dx, ConvAct::none, accumulate);
}

}  // namespace yolite::ops::fast::winograd
