// core/parallel.hpp -- thin OpenMP helpers.
//
// yolite keeps every parallel loop statically scheduled, so a given thread count always splits
// work the same way and floating-point results are reproducible run to run.
#pragma once
#include <cstdint>
#include <omp.h>

namespace yolite {

inline int max_threads() { return omp_get_max_threads(); }

// Sets OpenMP's thread count for the calling thread's parallel regions (0 = leave as is).
inline void set_threads(int n) {
  if (n > 0) omp_set_num_threads(n);
}

// for (i in [begin, end)) f(i), split statically over the threads. Nested calls run serially.
template <class F>
void parallel_for(int64_t begin, int64_t end, F&& f) {
  if (end - begin <= 1 || omp_in_parallel()) {
    for (int64_t i = begin; i < end; ++i) f(i);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = begin; i < end; ++i) f(i);
}

}  // namespace yolite
