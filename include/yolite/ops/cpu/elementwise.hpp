// ops/cpu/elementwise.hpp -- elementwise kernels on flat arrays: add, mul, scale, accumulate.
//
//   ops::add(a, b, y, n);              // y = a + b
//   ops::mul(a, b, y, n);              // y = a * b
//   ops::scale(a, s, y, n);            // y = a * s
//   ops::copy(src, dst, n);            // dst = src         (into a fresh gradient buffer)
//   ops::accumulate(dst, src, n);      // dst += src        (backward passes ADD into grads)
//   ops::accumulate_scaled(dst, src, s, n);   // dst += s * src
//   ops::accumulate_mul(dst, a, b, n);        // dst += a * b
//
// ops::ref:: holds the plain loops; the ops:: versions split the array into fixed blocks of
// kBlock elements run in parallel (OpenMP, static), each a simple loop the compiler
// vectorises. Elementwise results do not depend on the split, so both agree bit for bit.
#pragma once
#include <algorithm>
#include <cstdint>

#include "../../core/parallel.hpp"

namespace yolite::ops {

namespace ref {
template <class T>
void add(const T* a, const T* b, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}
template <class T>
void mul(const T* a, const T* b, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
}
template <class T>
void scale(const T* a, T s, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] * s;
}
template <class T>
void copy(const T* src, T* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
}
template <class T>
void accumulate(T* dst, const T* src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
}
template <class T>
void accumulate_scaled(T* dst, const T* src, T s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] += s * src[i];
}
template <class T>
void accumulate_mul(T* dst, const T* a, const T* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] += a[i] * b[i];
}
}  // namespace ref

// Work unit of the parallel elementwise loops (elements). Fixed, so the split of an array
// never depends on the thread count.
inline constexpr int64_t kBlock = int64_t(1) << 15;

// Runs f(p) for each of P planes of plane_size elements, planes spread over the threads
// (static). Small jobs run on the calling thread: a parallel region costs more than it saves,
// and every kernel here gives the same result either way.
inline constexpr int64_t kMinParallelWork = int64_t(1) << 15;
template <class F>
void for_planes(int64_t P, int64_t plane_size, F&& f) {
  if (P * plane_size < kMinParallelWork) {
    for (int64_t p = 0; p < P; ++p) f(p);
    return;
  }
  parallel_for(0, P, f);
}

// Runs f(begin, end) over [0, n) in blocks of kBlock elements, blocks spread over the threads.
template <class F>
void for_blocks(int64_t n, F&& f) {
  const int64_t nb = (n + kBlock - 1) / kBlock;
  parallel_for(0, nb, [&](int64_t b) { f(b * kBlock, std::min(n, (b + 1) * kBlock)); });
}

template <class T>
void add(const T* a, const T* b, T* y, int64_t n) {
  for_blocks(n, [&](int64_t s, int64_t e) { ref::add(a + s, b + s, y + s, e - s); });
}
template <class T>
void mul(const T* a, const T* b, T* y, int64_t n) {
  for_blocks(n, [&](int64_t s, int64_t e) { ref::mul(a + s, b + s, y + s, e - s); });
}
template <class T>
void scale(const T* a, T k, T* y, int64_t n) {
  for_blocks(n, [&](int64_t s, int64_t e) { ref::scale(a + s, k, y + s, e - s); });
}
template <class T>
void copy(const T* src, T* dst, int64_t n) {
  for_blocks(n, [&](int64_t s, int64_t e) { std::copy(src + s, src + e, dst + s); });
}
template <class T>
void accumulate(T* dst, const T* src, int64_t n) {
  for_blocks(n, [&](int64_t s, int64_t e) { ref::accumulate(dst + s, src + s, e - s); });
}
template <class T>
void accumulate_scaled(T* dst, const T* src, T k, int64_t n) {
  for_blocks(n, [&](int64_t s, int64_t e) { ref::accumulate_scaled(dst + s, src + s, k, e - s); });
}
template <class T>
void accumulate_mul(T* dst, const T* a, const T* b, int64_t n) {
  for_blocks(n, [&](int64_t s, int64_t e) { ref::accumulate_mul(dst + s, a + s, b + s, e - s); });
}

}  // namespace yolite::ops
