// ops/cpu/activation.hpp -- SiLU and sigmoid on flat arrays, forward and backward.
//
//   ops::silu_forward(x, y, n);            // y  = x * sigmoid(x)
//   ops::silu_backward(x, dy, dx, n);      // dx += dy * s * (1 + x * (1 - s)),  s = sigmoid(x)
//   ops::sigmoid_forward(x, y, n);         // y  = 1 / (1 + exp(-x))
//   ops::sigmoid_backward(y, dy, dx, n);   // dx += dy * y * (1 - y)    (from the OUTPUT y)
//
// ops::ref:: holds the plain loops with std::exp. The ops:: versions run fixed blocks in
// parallel and, for float, use exp_approx(): a range-reduced polynomial (Cephes' expf
// coefficients, relative error ~1e-7) written without calls or branches, so the loops
// vectorise at -O3 -march=native. SiLU on a [16,64,160,160] activation is then memory bound
// instead of being bound by 26 million scalar expf calls. double keeps std::exp.
#pragma once
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "elementwise.hpp"

namespace yolite::ops {

namespace ref {
template <class T>
T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}
template <class T>
void silu_forward(const T* x, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * sigmoid(x[i]);
}
template <class T>
void silu_backward(const T* x, const T* dy, T* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    T s = sigmoid(x[i]);
    dx[i] += dy[i] * s * (T(1) + x[i] * (T(1) - s));
  }
}
template <class T>
void sigmoid_forward(const T* x, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = sigmoid(x[i]);
}
template <class T>
void sigmoid_backward(const T* y, const T* dy, T* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] += dy[i] * y[i] * (T(1) - y[i]);
}
}  // namespace ref

// exp(x) for float without library calls: x = k*ln2 + r with |r| <= ln2/2, exp(r) by a degree-6
// polynomial, 2^k put straight into the exponent bits. Inputs are clamped to [-87, 88] (the
// normal float range), so exp(-100) returns ~1.6e-38 instead of a denormal -- harmless inside
// a sigmoid.
inline float exp_approx(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);
  // round(x / ln2) with the 1.5*2^23 trick: the sum's low mantissa bits hold k
  const float shifter = 12582912.0f;
  float t = x * 1.44269504088896341f + shifter;
  int32_t k = std::bit_cast<int32_t>(t) - std::bit_cast<int32_t>(shifter);
  float kf = t - shifter;
  float r = x - kf * 0.693359375f;  // ln2 split in two parts (Cody-Waite)
  r = r - kf * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * std::bit_cast<float>((k + 127) << 23);
}
inline double exp_approx(double x) { return std::exp(x); }

template <class T>
T sigmoid_fast(T x) {
  return T(1) / (T(1) + exp_approx(-x));
}

#if defined(__AVX512F__)
// x * sigmoid(x) on 16 lanes: exp_approx's steps in AVX-512 intrinsics, with
// 2^k applied by vscalefps.
inline __m512 silu16(__m512 x) {
  // (maskz_ forms with a full mask: GCC 12 warns about the _mm512_undefined_ps() inside the
  // plain min/max/roundscale/scalef/rcp14 intrinsics under -Wmaybe-uninitialized)
  const __mmask16 all = 0xFFFF;
  const __m512 t = _mm512_maskz_min_ps(
      all, _mm512_maskz_max_ps(all, _mm512_sub_ps(_mm512_setzero_ps(), x), _mm512_set1_ps(-87.0f)),
      _mm512_set1_ps(88.0f));  // exp(t), t = -x
  const __m512 k = _mm512_maskz_roundscale_ps(all, _mm512_mul_ps(t, _mm512_set1_ps(1.44269504088896341f)),
                                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), t);
  r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  // x / (1 + e): vdivps is slow (one per ~16 cycles); rcp14 plus one Newton step is accurate
  // to ~1e-8 relative and pipelines
  const __m512 d = _mm512_add_ps(_mm512_set1_ps(1.0f), _mm512_maskz_scalef_ps(all, p, k));
  __m512 y = _mm512_maskz_rcp14_ps(all, d);
  y = _mm512_mul_ps(y, _mm512_fnmadd_ps(d, y, _mm512_set1_ps(2.0f)));
  return _mm512_mul_ps(x, y);
}
#endif


template <class T>
void silu_forward(const T* x, T* y, int64_t n) {
  for_blocks(n, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i) y[i] = x[i] * sigmoid_fast(x[i]);
  });
}
template <class T>
void silu_backward(const T* x, const T* dy, T* dx, int64_t n) {
  for_blocks(n, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i) {
      T sg = sigmoid_fast(x[i]);
      dx[i] += dy[i] * sg * (T(1) + x[i] * (T(1) - sg));
    }
  });
}
template <class T>
void sigmoid_forward(const T* x, T* y, int64_t n) {
  for_blocks(n, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i) y[i] = sigmoid_fast(x[i]);
  });
}
template <class T>
void sigmoid_backward(const T* y, const T* dy, T* dx, int64_t n) {
  for_blocks(n, [&](int64_t s, int64_t e) { ref::sigmoid_backward(y + s, dy + s, dx + s, e - s); });
}

}  // namespace yolite::ops
