// core/parallel.hpp -- thin OpenMP helpers, and the flush-denormals guard for compute threads.
//
// yolite keeps every parallel loop statically scheduled, so a given thread count always splits
// work the same way and floating-point results are reproducible run to run.
//
//   {
//     yolite::FlushDenormalsGuard ftz;   // FTZ+DAZ on this thread and OpenMP's worker threads
//     ... train or run the network ...
//   }                                     // previous modes restored on every one of them
//
// Denormal floats (|x| < 1.2e-38) are 10-100x slower to compute with on x86; a freshly
// initialised network's gradients and BN statistics produce some. Flushing them to zero changes
// results only below 1.2e-38 (PyTorch's torch.set_flush_denormal does the same), and equally on
// every run, so determinism (same seed + thread count -> same weights) is kept.
#pragma once
#include <cstdint>
#include <vector>

#include <omp.h>
#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define YOLITE_HAVE_MXCSR 1
#endif

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

// Sets flush-to-zero and denormals-are-zero (MXCSR bits 15 and 6) on the calling thread and on
// each thread of an OpenMP team of max_threads() (OpenMP keeps its worker threads, so the
// following parallel regions of the same size run on them), and restores every thread's
// previous mode when it goes out of scope. enabled=false makes it do nothing. Threads created
// later (e.g. a data loader's) are not affected. No-op where MXCSR does not exist.
class FlushDenormalsGuard {
 public:
  explicit FlushDenormalsGuard(bool enabled = true) {
#if defined(YOLITE_HAVE_MXCSR)
    if (!enabled) return;
    active_ = true;
    caller_ = _mm_getcsr();
    // the team first: worker threads started by this region copy the caller's mode, which
    // must still be the one to restore
    if (!omp_in_parallel()) {
      const int n = omp_get_max_threads();
      saved_.assign(size_t(n), 0u);
#pragma omp parallel num_threads(n)
      {
        const int t = omp_get_thread_num();
        if (t > 0 && t < n) {
          saved_[size_t(t)] = _mm_getcsr();
          _mm_setcsr(saved_[size_t(t)] | kBits);
        }
      }
    }
    _mm_setcsr(caller_ | kBits);
#else
    (void)enabled;
#endif
  }
  FlushDenormalsGuard(const FlushDenormalsGuard&) = delete;
  FlushDenormalsGuard& operator=(const FlushDenormalsGuard&) = delete;
  ~FlushDenormalsGuard() {
#if defined(YOLITE_HAVE_MXCSR)
    if (!active_) return;
    if (!saved_.empty()) {
      const int n = int(saved_.size());
#pragma omp parallel num_threads(n)
      {
        const int t = omp_get_thread_num();
        if (t > 0 && t < n) _mm_setcsr(saved_[size_t(t)]);
      }
    }
    _mm_setcsr(caller_);
#endif
  }
  // True when FTZ and DAZ are both set on the calling thread.
  static bool active_here() {
#if defined(YOLITE_HAVE_MXCSR)
    return (_mm_getcsr() & kBits) == kBits;
#else
    return false;
#endif
  }

 private:
  static constexpr unsigned kBits = 0x8040u;  // FTZ (bit 15) | DAZ (bit 6)
  bool active_ = false;
  unsigned caller_ = 0;
  std::vector<unsigned> saved_;
};

}  // namespace yolite
