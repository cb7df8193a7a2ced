// ops/cpu/reduce.hpp -- sum of a flat array (the reduction behind ag::sum and ag::mean).
//
//   double s = ops::sum(x, n);
//
// Both versions accumulate in double. ops::ref::sum is one serial loop. ops::sum cuts the
// array into fixed blocks of kBlock elements (elementwise.hpp), sums each block with 8 lanes
// in parallel (OpenMP, static), then adds the block sums in order -- the same answer for
// every thread count.
#pragma once
#include <cstdint>
#include <vector>

#include "elementwise.hpp"

namespace yolite::ops {

namespace ref {
template <class T>
double sum(const T* x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += double(x[i]);
  return s;
}
}  // namespace ref

template <class T>
double sum(const T* x, int64_t n) {
  const int64_t nb = (n + kBlock - 1) / kBlock;
  std::vector<double> part(static_cast<size_t>(nb));
  for_blocks(n, [&](int64_t s, int64_t e) {
    double l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = s;
    for (; i + 8 <= e; i += 8)
      for (int j = 0; j < 8; ++j) l[j] += double(x[i + j]);
    for (; i < e; ++i) l[0] += double(x[i]);
    part[size_t(s / kBlock)] = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
  });
  double total = 0;
  for (double v : part) total += v;
  return total;
}

}  // namespace yolite::ops
