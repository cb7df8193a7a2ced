// ops/cuda/bce.cuh -- binary cross-entropy on logits (BCEWithLogitsLoss), elementwise parts.
//
//   double s = ops::cuda::bce_with_logits_sum(ctx, x, t, n, pw);   // sum of the losses (waits)
//   ops::cuda::bce_with_logits_sum_async(ctx, x, t, n, pw, out);   // *out (device double) = sum
//   ops::cuda::bce_with_logits_backward(ctx, x, t, n, pw, g, dx);  // dx += g * dloss/dx
// loss = (1 - t) x + (1 + (pw - 1) t) (log1p(exp(-|x|)) + max(-x, 0)), as ops/cpu/bce.hpp.
// The sum is taken in double: a fixed number of blocks each sums a grid-stride share, then
// one block adds the block sums in order -- the same bits on every run. CUDA sources only.
#pragma once
#include "common.cuh"

namespace yolite::ops::cuda {

namespace detail {
inline constexpr int kBceBlocks = 256;

template <class T>
__device__ inline double bce_one(T x, T t, T pw) {
  const double xd = double(x), td = double(t);
  const double lw = 1.0 + (double(pw) - 1.0) * td;
  return (1.0 - td) * xd + lw * (log1p(exp(-fabs(xd))) + fmax(-xd, 0.0));
}

template <class T>
__global__ void bce_partial_sums(const T* x, const T* t, int64_t n, T pw, double* part) {
  double s = 0;
  YOLITE_CUDA_GRID_LOOP(i, n) s += bce_one(x[i], t[i], pw);
  s = block_sum(s);
  if (threadIdx.x == 0) part[blockIdx.x] = s;
}

__global__ inline void sum_partials(const double* part, int nparts, double* out) {
  double s = 0;
  for (int i = int(threadIdx.x); i < nparts; i += int(blockDim.x)) s += part[i];
  s = block_sum(s);
  if (threadIdx.x == 0) *out = s;
}

template <class T>
struct BceBwdF {
  const T *x, *t;
  T pw, g;
  T* dx;
  __device__ void operator()(int64_t i) const {
    const T lw = T(1) + (pw - T(1)) * t[i];
    const T sg = T(1) / (T(1) + exp_t(-x[i]));
    dx[i] += g * ((T(1) - t[i]) + lw * (sg - T(1)));
  }
};
}  // namespace detail

template <class T>
void bce_with_logits_sum_async(Context& ctx, const T* x, const T* t, int64_t n, T pw,
                               double* out) {
  YOLITE_CHECK(n >= 0, "ops::cuda::bce_with_logits_sum: negative count ", n);
  detail::Scratch<double> part(ctx, detail::kBceBlocks);
  detail::bce_partial_sums<T><<<detail::kBceBlocks, detail::kThreads, 0, ctx.stream()>>>(
      x, t, n, pw, part.get());
  YOLITE_CUDA_LAUNCH_CHECK();
  detail::sum_partials<<<1, detail::kThreads, 0, ctx.stream()>>>(part.get(), detail::kBceBlocks,
                                                                  out);
  YOLITE_CUDA_LAUNCH_CHECK();
}

template <class T>
double bce_with_logits_sum(Context& ctx, const T* x, const T* t, int64_t n, T pw) {
  detail::Scratch<double> out(ctx, 1);
  bce_with_logits_sum_async(ctx, x, t, n, pw, out.get());
  double s = 0;
  YOLITE_CUDA_CHECK(cudaMemcpyAsync(&s, out.get(), sizeof(double), cudaMemcpyDeviceToHost,
                                    ctx.stream()));
  ctx.synchronize();
  return s;
}

template <class T>
void bce_with_logits_backward(Context& ctx, const T* x, const T* t, int64_t n, T pw, T g, T* dx) {
  detail::map(ctx, n, detail::BceBwdF<T>{x, t, pw, g, dx});
}

}  // namespace yolite::ops::cuda
