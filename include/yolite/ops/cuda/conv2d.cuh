// ops/cuda/conv2d.cuh -- 2-D convolution on the GPU as implicit GEMM with shared-memory tiles.
//
//   ops::cuda::conv2d_forward(ctx, p, x, w, b, y);          // y overwritten (+ bias if b)
//   ops::cuda::conv2d_backward_input(ctx, p, dy, w, dx);    // dx ACCUMULATES
//   ops::cuda::conv2d_backward_weight(ctx, p, x, dy, dw, db);  // dw, db ACCUMULATE (db may be null)
// Same layouts and conventions as ops/cpu/conv2d.hpp (NCHW, weights [K, C, R, S], groups 1,
// symmetric zero padding); all pointers are device pointers. CUDA sources only (see common.cuh).
//
// Each convolution is a matrix product whose operands are read straight from the tensors
// ("implicit" GEMM: no im2col buffer is built):
//   forward          Y[k, (n,oh,ow)]  = sum over (c,r,s)    W[k,(c,r,s)] * X_col[(c,r,s),(n,oh,ow)]
//   backward_input   dX[c, (n,ih,iw)] += sum over (k,r,s)   W^T[c,(k,r,s)] * dY_col[(k,r,s),(n,ih,iw)]
//                    (dY_col is 0 where ih + pad - r is not a multiple of stride)
//   backward_weight  dW[k, (c,r,s)]  += sum over (n,oh,ow) dY[k,(n,oh,ow)] * X_col^T[(n,oh,ow),(c,r,s)]
// One kernel, gemm_tiled, does the three: a block owns a 64 x 64 tile of the result and walks
// the reduction 16 at a time, loading a 64x16 slice of A and a 16x64 slice of B into shared
// memory (zero outside the matrix or in the padding); each of its 256 threads then keeps a
// 4 x 4 sub-tile of sums in registers. backward_weight has a long reduction (N*OH*OW) and a
// small result, so it is split over blockIdx.z into slices whose partial tiles are written
// to scratch memory and then added in slice order -- deterministic, no atomics. The bias
// gradient is a per-channel block reduction in double.
//
// This is the readable fp32 kernel (correctness first); a tensor-core (WMMA, bf16/fp16) path
// is future work.
#pragma once
#include "../cpu/conv2d.hpp"
#include "common.cuh"

namespace yolite::ops::cuda {

namespace detail {

inline constexpr int kTileM = 64, kTileN = 64, kTileK = 16, kGemmThreads = 256;

// C = A * B over a reduction of length kd, split into slices of kchunk (blockIdx.z).
// a(m, q) and b(q, n) return the operands (callers guarantee in-range arguments);
// out(m, n, value, slice) stores a result.
template <class T, class LoadA, class LoadB, class Store>
__global__ void __launch_bounds__(kGemmThreads)
    gemm_tiled(int M, int Ncols, int64_t kd, int64_t kchunk, LoadA a, LoadB b, Store out) {
  __shared__ T As[kTileK][kTileM + 4];
  __shared__ T Bs[kTileK][kTileN + 4];
  const int tid = int(threadIdx.x);
  const int tx = tid % 16, ty = tid / 16;  // this thread's columns tx + 16j, rows ty + 16i
  const int m0 = int(blockIdx.y) * kTileM, n0 = int(blockIdx.x) * kTileN;
  const int64_t kbeg = int64_t(blockIdx.z) * kchunk;
  const int64_t kend = kbeg + kchunk < kd ? kbeg + kchunk : kd;
  T acc[4][4];  // fully unrolled loops below keep it in registers
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = T(0);

  for (int64_t k0 = kbeg; k0 < kend; k0 += kTileK) {
#pragma unroll
    for (int l = 0; l < (kTileM * kTileK) / kGemmThreads; ++l) {
      const int e = tid + l * kGemmThreads;
      const int kk = e % kTileK, m = e / kTileK;  // A: consecutive threads walk the reduction
      const int64_t q = k0 + kk;
      As[kk][m] = (m0 + m < M && q < kend) ? a(m0 + m, q) : T(0);
    }
#pragma unroll
    for (int l = 0; l < (kTileN * kTileK) / kGemmThreads; ++l) {
      const int e = tid + l * kGemmThreads;
      const int n = e % kTileN, kk = e / kTileN;  // B: consecutive threads walk the columns
      const int64_t q = k0 + kk;
      Bs[kk][n] = (n0 + n < Ncols && q < kend) ? b(q, n0 + n) : T(0);
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kTileK; ++kk) {
      T av[4], bv[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) av[i] = As[kk][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; ++j) bv[j] = Bs[kk][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] += av[i] * bv[j];
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int m = m0 + ty + 16 * i, n = n0 + tx + 16 * j;
      if (m < M && n < Ncols) out(m, n, acc[i][j], int(blockIdx.z));
    }
}

// Shape numbers the operand functors need, with 64-bit products precomputed.
struct ConvDims {
  int C, H, W, K, R, S, stride, pad, OH, OW;
  int RS, OHW, HW;
  int64_t CRS;
  static ConvDims of(const Conv2dParams& p) {
    ConvDims d{p.C, p.H, p.W, p.K, p.R, p.S, p.stride, p.pad, p.OH(), p.OW(), 0, 0, 0, 0};
    d.RS = p.R * p.S;
    d.OHW = d.OH * d.OW;
    d.HW = p.H * p.W;
    d.CRS = int64_t(p.C) * d.RS;
    return d;
  }
};

// X_col[(c,r,s), (n,oh,ow)]: the input value under tap (r,s) of output pixel (oh,ow), or 0 in
// the padding.
template <class T>
__device__ inline T im2col_value(const ConvDims& d, const T* x, int64_t q, int64_t col) {
  const int c = int(q / d.RS), rs = int(q % d.RS), r = rs / d.S, s = rs % d.S;
  const int n = int(col / d.OHW), pix = int(col % d.OHW), oh = pix / d.OW, ow = pix % d.OW;
  const int ih = oh * d.stride - d.pad + r, iw = ow * d.stride - d.pad + s;
  if (ih < 0 || ih >= d.H || iw < 0 || iw >= d.W) return T(0);
  return x[((int64_t(n) * d.C + c) * d.H + ih) * d.W + iw];
}

template <class T>
struct FwdA {  // W[k, (c,r,s)]
  const T* w;
  int64_t crs;
  __device__ T operator()(int m, int64_t q) const { return w[int64_t(m) * crs + q]; }
};
template <class T>
struct FwdB {  // X_col
  ConvDims d;
  const T* x;
  __device__ T operator()(int64_t q, int col) const { return im2col_value(d, x, q, col); }
};
template <class T>
struct FwdStore {  // y[n, k, oh, ow] = v + b[k]
  ConvDims d;
  const T* b;
  T* y;
  __device__ void operator()(int k, int col, T v, int) const {
    const int n = col / d.OHW, pix = col % d.OHW;
    y[(int64_t(n) * d.K + k) * d.OHW + pix] = b ? v + b[k] : v;
  }
};

template <class T>
struct BwdInA {  // W^T[c, (k,r,s)] = w[k, c, r, s]
  ConvDims d;
  const T* w;
  __device__ T operator()(int c, int64_t q) const {
    const int64_t k = q / d.RS, rs = q % d.RS;
    return w[(k * d.C + c) * d.RS + rs];
  }
};
template <class T>
struct BwdInB {  // dY_col[(k,r,s), (n,ih,iw)]: dy[n,k,oh,ow] with oh*stride - pad + r == ih
  ConvDims d;
  const T* dy;
  __device__ T operator()(int64_t q, int col) const {
    const int k = int(q / d.RS), rs = int(q % d.RS), r = rs / d.S, s = rs % d.S;
    const int n = col / d.HW, pix = col % d.HW, ih = pix / d.W, iw = pix % d.W;
    const int th = ih + d.pad - r, tw = iw + d.pad - s;
    if (th < 0 || tw < 0 || th % d.stride != 0 || tw % d.stride != 0) return T(0);
    const int oh = th / d.stride, ow = tw / d.stride;
    if (oh >= d.OH || ow >= d.OW) return T(0);
    return dy[((int64_t(n) * d.K + k) * d.OH + oh) * d.OW + ow];
  }
};
template <class T>
struct BwdInStore {  // dx[n, c, ih, iw] += v
  ConvDims d;
  T* dx;
  __device__ void operator()(int c, int col, T v, int) const {
    const int n = col / d.HW, pix = col % d.HW;
    dx[(int64_t(n) * d.C + c) * d.HW + pix] += v;
  }
};

template <class T>
struct BwdWA {  // dY[k, (n,oh,ow)]
  ConvDims d;
  const T* dy;
  __device__ T operator()(int k, int64_t col) const {
    const int64_t n = col / d.OHW, pix = col % d.OHW;
    return dy[(n * d.K + k) * d.OHW + pix];
  }
};
template <class T>
struct BwdWB {  // X_col^T[(n,oh,ow), (c,r,s)]
  ConvDims d;
  const T* x;
  __device__ T operator()(int64_t col, int q) const { return im2col_value(d, x, q, col); }
};
template <class T>
struct BwdWStore {  // one slice's partial dW: direct += when there is one slice, else scratch
  int64_t kcrs, crs;
  T* dw;    // used when ws == nullptr
  T* ws;    // [slices, K, C*R*S]
  __device__ void operator()(int k, int q, T v, int slice) const {
    const int64_t i = int64_t(k) * crs + q;
    if (ws)
      ws[slice * kcrs + i] = v;
    else
      dw[i] += v;
  }
};

// dw[i] += sum over slices (in slice order) of ws[slice, i]
template <class T>
__global__ void sum_slices(const T* ws, int slices, int64_t n, T* dw) {
  YOLITE_CUDA_GRID_LOOP(i, n) {
    T s = ws[i];
    for (int z = 1; z < slices; ++z) s += ws[z * n + i];
    dw[i] += s;
  }
}

// db[k] += sum over n, pixels of dy[n, k, :]   (one block per channel, double sums)
template <class T>
__global__ void conv_bias_grad(const T* dy, int N, int K, int64_t OHW, T* db) {
  const int k = int(blockIdx.x);
  double s = 0;
  for (int n = 0; n < N; ++n) {
    const T* plane = dy + (int64_t(n) * K + k) * OHW;
    for (int64_t i = threadIdx.x; i < OHW; i += blockDim.x) s += double(plane[i]);
  }
  s = block_sum(s);
  if (threadIdx.x == 0) db[k] += T(s);
}

inline void check_gemm_size(const Conv2dParams& p, const char* who) {
  p.validate();
  const int64_t cols_fwd = int64_t(p.N) * p.OH() * p.OW(), cols_in = int64_t(p.N) * p.H * p.W;
  YOLITE_CHECK(cols_fwd < (int64_t(1) << 31) && cols_in < (int64_t(1) << 31) &&
                   int64_t(p.C) * p.R * p.S < (int64_t(1) << 31),
               who, ": sizes N=", p.N, " C=", p.C, " H=", p.H, " W=", p.W, " K=", p.K,
               " exceed the 32-bit GEMM index range");
}

template <class T, class A, class B, class S>
void launch_gemm(Context& ctx, int M, int Ncols, int64_t kd, int slices, const A& a, const B& b,
                 const S& s) {
  const int64_t kchunk = (kd + slices - 1) / slices;
  dim3 grid(unsigned((Ncols + kTileN - 1) / kTileN), unsigned((M + kTileM - 1) / kTileM),
            unsigned(slices));
  YOLITE_CHECK(grid.y <= 65535u && grid.z <= 65535u, "conv2d (cuda): ", M,
               " output rows need more than 65535 row tiles");
  gemm_tiled<T><<<grid, kGemmThreads, 0, ctx.stream()>>>(M, Ncols, kd, kchunk, a, b, s);
  YOLITE_CUDA_LAUNCH_CHECK();
}

}  // namespace detail

template <class T>
void conv2d_forward(Context& ctx, const Conv2dParams& p, const T* x, const T* w, const T* b,
                    T* y) {
  detail::check_gemm_size(p, "ops::cuda::conv2d_forward");
  const auto d = detail::ConvDims::of(p);
  detail::launch_gemm<T>(ctx, p.K, p.N * d.OHW, d.CRS, 1, detail::FwdA<T>{w, d.CRS},
                         detail::FwdB<T>{d, x}, detail::FwdStore<T>{d, b, y});
}

template <class T>
void conv2d_backward_input(Context& ctx, const Conv2dParams& p, const T* dy, const T* w, T* dx) {
  detail::check_gemm_size(p, "ops::cuda::conv2d_backward_input");
  const auto d = detail::ConvDims::of(p);
  detail::launch_gemm<T>(ctx, p.C, p.N * d.HW, int64_t(p.K) * d.RS, 1, detail::BwdInA<T>{d, w},
                         detail::BwdInB<T>{d, dy}, detail::BwdInStore<T>{d, dx});
}

// How many reduction slices backward_weight uses: enough blocks to fill a large GPU (~256),
// each slice at least 256 reduction steps long, at most 64 slices. It depends only on the
// shape, so results are the same on every GPU.
inline int conv2d_weight_slices(const Conv2dParams& p) {
  const int64_t tiles = ((p.K + detail::kTileM - 1) / detail::kTileM) *
                        ((int64_t(p.C) * p.R * p.S + detail::kTileN - 1) / detail::kTileN);
  const int64_t kd = int64_t(p.N) * p.OH() * p.OW();
  int64_t s = (256 + tiles - 1) / tiles;
  s = std::min<int64_t>({s, std::max<int64_t>(1, kd / 256), 64});
  return int(std::max<int64_t>(s, 1));
}

template <class T>
void conv2d_backward_weight(Context& ctx, const Conv2dParams& p, const T* x, const T* dy, T* dw,
                            T* db) {
  detail::check_gemm_size(p, "ops::cuda::conv2d_backward_weight");
  const auto d = detail::ConvDims::of(p);
  const int64_t kd = int64_t(p.N) * d.OHW, kcrs = int64_t(p.K) * d.CRS;
  const int slices = conv2d_weight_slices(p);
  YOLITE_CHECK(kd < (int64_t(1) << 31), "ops::cuda::conv2d_backward_weight: N*OH*OW = ", kd,
               " exceeds the 32-bit range");
  if (slices == 1) {
    detail::launch_gemm<T>(ctx, p.K, int(d.CRS), kd, 1, detail::BwdWA<T>{d, dy},
                           detail::BwdWB<T>{d, x}, detail::BwdWStore<T>{kcrs, d.CRS, dw, nullptr});
  } else {
    detail::Scratch<T> ws(ctx, kcrs * slices);
    detail::launch_gemm<T>(ctx, p.K, int(d.CRS), kd, slices, detail::BwdWA<T>{d, dy},
                           detail::BwdWB<T>{d, x},
                           detail::BwdWStore<T>{kcrs, d.CRS, dw, ws.get()});
    detail::sum_slices<<<detail::blocks_for(kcrs), detail::kThreads, 0, ctx.stream()>>>(
        ws.get(), slices, kcrs, dw);
    YOLITE_CUDA_LAUNCH_CHECK();
  }
  if (db) {
    detail::conv_bias_grad<<<unsigned(p.K), detail::kThreads, 0, ctx.stream()>>>(
        dy, p.N, p.K, int64_t(d.OHW), db);
    YOLITE_CUDA_LAUNCH_CHECK();
  }
}

}  // namespace yolite::ops::cuda
