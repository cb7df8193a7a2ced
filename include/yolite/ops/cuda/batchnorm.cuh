// ops/cuda/batchnorm.cuh -- 2-D batch normalisation (NCHW, statistics per channel) on the GPU.
//
// The kernels of ops/cpu/batchnorm.hpp, same arguments (device pointers), plus two fused
// entry points for a BatchNorm2d layer:
//   ops::cuda::batchnorm_stats(ctx, x, N, C, HW, mean, var);           // batch mean, BIASED var
//   ops::cuda::batchnorm_forward(ctx, x, N, C, HW, mean, invstd, gamma, beta, y);
//   ops::cuda::batchnorm_backward(ctx, x, dy, N, C, HW, mean, invstd, gamma, training,
//                                 dx, dgamma, dbeta);                 // ACCUMULATES, any may be null
//   // training: batch statistics, running stats updated, mean/invstd saved for backward
//   ops::cuda::batchnorm_train_forward(ctx, x, N, C, HW, gamma, beta, running_mean, running_var,
//                                      save_mean, save_invstd, y, /*momentum=*/0.03, /*eps=*/1e-3);
//   // evaluation: running statistics (invstd = 1/sqrt(running_var + eps)), nothing updated
//   ops::cuda::batchnorm_eval_forward(ctx, x, N, C, HW, gamma, beta, running_mean, running_var,
//                                     y, /*eps=*/1e-3);
// Running statistics follow PyTorch/YOLOv5: running = (1 - momentum) * running + momentum * stat,
// with the UNBIASED batch variance (var * M / (M - 1), M = N*H*W) for running_var.
//
// One block per channel sums its M values in double (two passes: mean, then squared
// deviations), reduced in a fixed order; the per-element work is a grid-stride map.
// CUDA sources only (see common.cuh).
#pragma once
#include <cmath>

#include "common.cuh"

namespace yolite::ops::cuda {

namespace detail {

inline constexpr int kBnThreads = 256;

// Per channel c: mean, biased var; optionally invstd and the running-stat update.
template <class T>
__global__ void bn_stats_kernel(const T* x, int N, int C, int64_t HW, T* mean, T* var, T* invstd,
                                double eps, T* run_mean, T* run_var, double momentum) {
  __shared__ double shared_mu;
  const int c = int(blockIdx.x);
  const double M = double(N) * double(HW);
  double s = 0;
  for (int n = 0; n < N; ++n) {
    const T* plane = x + (int64_t(n) * C + c) * HW;
    for (int64_t i = threadIdx.x; i < HW; i += blockDim.x) s += double(plane[i]);
  }
  s = block_sum(s);
  if (threadIdx.x == 0) shared_mu = s / M;
  __syncthreads();
  const double mu = shared_mu;
  double q = 0;
  for (int n = 0; n < N; ++n) {
    const T* plane = x + (int64_t(n) * C + c) * HW;
    for (int64_t i = threadIdx.x; i < HW; i += blockDim.x) {
      const double dd = double(plane[i]) - mu;
      q += dd * dd;
    }
  }
  q = block_sum(q);
  if (threadIdx.x == 0) {
    const double v = q / M;
    if (mean) mean[c] = T(mu);
    if (var) var[c] = T(v);
    if (invstd) invstd[c] = T(1.0 / sqrt(v + eps));
    if (run_mean) {
      // The same arithmetic as ag::batch_norm2d: saved (rounded) statistics, doubles.
      const double unbias = M / (M - 1.0);
      run_mean[c] = T((1.0 - momentum) * double(run_mean[c]) + momentum * double(T(mu)));
      run_var[c] = T((1.0 - momentum) * double(run_var[c]) + momentum * double(T(v)) * unbias);
    }
  }
}

template <class T>
struct BnApplyF {  // y = (x - mean[c]) * invstd[c] * gamma[c] + beta[c]
  const T *x, *mean, *invstd, *gamma, *beta;
  T* y;
  int C;
  int64_t HW;
  __device__ void operator()(int64_t j) const {
    const int c = int((j / HW) % C);
    y[j] = (x[j] - mean[c]) * invstd[c] * gamma[c] + beta[c];
  }
};

template <class T>
struct BnEvalF {  // the same with invstd from the running variance
  const T *x, *mean, *var, *gamma, *beta;
  T* y;
  int C;
  int64_t HW;
  double eps;
  __device__ void operator()(int64_t j) const {
    const int c = int((j / HW) % C);
    const T inv = T(1.0 / sqrt(double(var[c]) + eps));
    y[j] = (x[j] - mean[c]) * inv * gamma[c] + beta[c];
  }
};

// Per channel: sums[2c] = sum(dy), sums[2c+1] = sum(dy * xhat); dgamma/dbeta accumulated.
template <class T>
__global__ void bn_backward_sums(const T* x, const T* dy, int N, int C, int64_t HW,
                                 const T* mean, const T* invstd, double* sums, T* dgamma,
                                 T* dbeta) {
  const int c = int(blockIdx.x);
  const double mu = double(mean[c]), is = double(invstd[c]);
  double sdy = 0, sdyxh = 0;
  for (int n = 0; n < N; ++n) {
    const int64_t base = (int64_t(n) * C + c) * HW;
    for (int64_t i = threadIdx.x; i < HW; i += blockDim.x) {
      const double g = double(dy[base + i]);
      sdy += g;
      sdyxh += g * (double(x[base + i]) - mu) * is;
    }
  }
  sdy = block_sum(sdy);
  sdyxh = block_sum(sdyxh);
  if (threadIdx.x == 0) {
    sums[2 * c] = sdy;
    sums[2 * c + 1] = sdyxh;
    if (dgamma) dgamma[c] += T(sdyxh);
    if (dbeta) dbeta[c] += T(sdy);
  }
}

template <class T>
struct BnBackwardF {
  const T *x, *dy, *mean, *invstd, *gamma;
  const double* sums;
  T* dx;
  int C;
  int64_t HW;
  double M;
  bool training;
  __device__ void operator()(int64_t j) const {
    const int c = int((j / HW) % C);
    double g = double(dy[j]);
    if (training) {
      const double xh = (double(x[j]) - double(mean[c])) * double(invstd[c]);
      g = g - sums[2 * c] / M - xh * sums[2 * c + 1] / M;
    }
    dx[j] += T(double(gamma[c]) * double(invstd[c]) * g);
  }
};

inline void check_bn(int N, int C, int64_t HW, const char* who) {
  YOLITE_CHECK(N > 0 && C > 0 && HW > 0, who, ": bad sizes N=", N, " C=", C, " HW=", HW,
               " (expected positive)");
}

}  // namespace detail

template <class T>
void batchnorm_stats(Context& ctx, const T* x, int N, int C, int64_t HW, T* mean, T* var) {
  detail::check_bn(N, C, HW, "ops::cuda::batchnorm_stats");
  detail::bn_stats_kernel<T><<<unsigned(C), detail::kBnThreads, 0, ctx.stream()>>>(
      x, N, C, HW, mean, var, nullptr, 0.0, nullptr, nullptr, 0.0);
  YOLITE_CUDA_LAUNCH_CHECK();
}

template <class T>
void batchnorm_forward(Context& ctx, const T* x, int N, int C, int64_t HW, const T* mean,
                       const T* invstd, const T* gamma, const T* beta, T* y) {
  detail::check_bn(N, C, HW, "ops::cuda::batchnorm_forward");
  detail::map(ctx, int64_t(N) * C * HW, detail::BnApplyF<T>{x, mean, invstd, gamma, beta, y, C, HW});
}

template <class T>
void batchnorm_train_forward(Context& ctx, const T* x, int N, int C, int64_t HW, const T* gamma,
                             const T* beta, T* running_mean, T* running_var, T* save_mean,
                             T* save_invstd, T* y, double momentum = 0.03, double eps = 1e-3) {
  detail::check_bn(N, C, HW, "ops::cuda::batchnorm_train_forward");
  YOLITE_CHECK(int64_t(N) * HW > 1, "ops::cuda::batchnorm_train_forward: training needs more "
               "than one value per channel (N*H*W = ", int64_t(N) * HW, ")");
  detail::bn_stats_kernel<T><<<unsigned(C), detail::kBnThreads, 0, ctx.stream()>>>(
      x, N, C, HW, save_mean, nullptr, save_invstd, eps, running_mean, running_var, momentum);
  YOLITE_CUDA_LAUNCH_CHECK();
  batchnorm_forward(ctx, x, N, C, HW, save_mean, save_invstd, gamma, beta, y);
}

template <class T>
void batchnorm_eval_forward(Context& ctx, const T* x, int N, int C, int64_t HW, const T* gamma,
                            const T* beta, const T* running_mean, const T* running_var, T* y,
                            double eps = 1e-3) {
  detail::check_bn(N, C, HW, "ops::cuda::batchnorm_eval_forward");
  detail::map(ctx, int64_t(N) * C * HW,
              detail::BnEvalF<T>{x, running_mean, running_var, gamma, beta, y, C, HW, eps});
}

template <class T>
void batchnorm_backward(Context& ctx, const T* x, const T* dy, int N, int C, int64_t HW,
                        const T* mean, const T* invstd, const T* gamma, bool training, T* dx,
                        T* dgamma, T* dbeta) {
  detail::check_bn(N, C, HW, "ops::cuda::batchnorm_backward");
  detail::Scratch<double> sums(ctx, 2 * int64_t(C));
  detail::bn_backward_sums<T><<<unsigned(C), detail::kBnThreads, 0, ctx.stream()>>>(
      x, dy, N, C, HW, mean, invstd, sums.get(), dgamma, dbeta);
  YOLITE_CUDA_LAUNCH_CHECK();
  if (dx)
    detail::map(ctx, int64_t(N) * C * HW,
                detail::BnBackwardF<T>{x, dy, mean, invstd, gamma, sums.get(), dx, C, HW,
                                       double(N) * double(HW), training});
}

}  // namespace yolite::ops::cuda
