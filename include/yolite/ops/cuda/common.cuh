// ops/cuda/common.cuh -- what every CUDA kernel file shares: the nvcc guard, launch sizes,
// a launch check, grid-stride loops and a deterministic block reduction.
//
// The ops/cuda/*.cuh headers hold __global__ kernels, so they are CUDA sources: include them
// ONLY from .cu files compiled by nvcc (CMake: -DYOLITE_CUDA=ON, link yolite::cuda). A plain
// C++ file that includes one stops with the #error below. The host-side pieces a .cpp file
// may use (device queries, the allocator, DeviceTensor) live in core/cuda/*.hpp.
//
// Every kernel wrapper takes the ::yolite::cuda::Context first and runs on its stream
// (asynchronously: call ctx.synchronize() or DeviceTensor::to_host() to wait); the pointer
// arguments are device pointers and follow the CPU kernels of the same name in ops/cpu/.
// Results do not depend on timing: no atomics, every sum is taken in a fixed order.
#pragma once
#if !defined(__CUDACC__)
#error "yolite/ops/cuda/*.cuh are CUDA sources: include them only from .cu files compiled by nvcc"
#endif
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "../../core/cuda/allocator.hpp"
#include "../../core/cuda/device.hpp"

namespace yolite::ops::cuda {

using Context = ::yolite::cuda::Context;

namespace detail {

inline constexpr int kThreads = 256;  // threads per block of the elementwise kernels

// Blocks for n elements with kThreads each; grid-stride loops cover the rest beyond the cap.
inline unsigned blocks_for(int64_t n, int64_t cap = 65535) {
  return unsigned(std::clamp<int64_t>((n + kThreads - 1) / kThreads, 1, cap));
}

#define YOLITE_CUDA_LAUNCH_CHECK() YOLITE_CUDA_CHECK(cudaGetLastError())

// for (i = global thread id; i < n; i += total threads)
#define YOLITE_CUDA_GRID_LOOP(i, n)                                                    \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n);            \
       i += int64_t(blockDim.x) * gridDim.x)

// f(i) for every i in [0, n): the generic elementwise kernel (F is a functor struct with a
// __device__ operator()(int64_t)).
template <class F>
__global__ void map_kernel(int64_t n, F f) {
  YOLITE_CUDA_GRID_LOOP(i, n) f(i);
}

template <class F>
void map(Context& ctx, int64_t n, const F& f) {
  if (n <= 0) return;
  map_kernel<<<blocks_for(n), kThreads, 0, ctx.stream()>>>(n, f);
  YOLITE_CUDA_LAUNCH_CHECK();
}

// Sum of v over the block (blockDim.x a multiple of 32, at most 1024). Warp shuffles, then one
// warp over the warp sums: a fixed order, so the same inputs always give the same bits.
// The result is valid in thread 0. Uses 32 doubles of shared memory.
__device__ inline double block_sum(double v) {
  __shared__ double warp_sums[32];
  const int lane = int(threadIdx.x) & 31, warp = int(threadIdx.x) >> 5;
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  __syncthreads();  // warp_sums may still be read by a previous call
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  const int nwarps = int(blockDim.x) >> 5;
  if (warp == 0) {
    v = lane < nwarps ? warp_sums[lane] : 0.0;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  }
  return v;
}

// Device scratch memory from the context's allocator, returned to it at scope exit
// (stream-ordered reuse: only later work on the same stream can get the block again).
template <class T>
class Scratch {
 public:
  Scratch(Context& ctx, int64_t n)
      : alloc_(&ctx.allocator()), p_(static_cast<T*>(alloc_->allocate(size_t(n) * sizeof(T)))) {}
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() {
    try {
      alloc_->deallocate(p_);
    } catch (...) {
    }
  }
  T* get() const { return p_; }

 private:
  ::yolite::cuda::CachingAllocator* alloc_;
  T* p_;
};

__device__ inline float exp_t(float x) { return expf(x); }
__device__ inline double exp_t(double x) { return exp(x); }

}  // namespace detail
}  // namespace yolite::ops::cuda
