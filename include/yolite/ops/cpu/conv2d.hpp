// ops/cpu/conv2d.hpp -- 2-D convolution on the CPU: plain reference loops.
//
// Layout NCHW, weights [K, C, R, S] (out channels, in channels, kernel h, kernel w), groups 1,
// dilation 1, symmetric zero padding. The reference kernels below are the specification: the
// fast kernels (ops/cpu/conv2d_fast.hpp) must agree with them and are tested against them.
//
// Conventions shared by every conv kernel:
//   forward          overwrites y[N, K, OH, OW]  (adds bias b[K] when b != nullptr)
//   backward_input   ACCUMULATES into dx[N, C, H, W]
//   backward_weight  ACCUMULATES into dw[K, C, R, S] and db[K] (db may be nullptr)
#pragma once
#include <cstdint>

#include "../../core/error.hpp"

namespace yolite::ops {

// What a forward convolution applies to its outputs as it stores them (its "epilogue"):
// none, or SiLU -- YOLOv5's Conv block once its BatchNorm is folded into the weights.
enum class ConvAct { none, silu };

struct Conv2dParams {
  int N = 1, C = 1, H = 1, W = 1;  // input
  int K = 1, R = 1, S = 1;          // output channels, kernel height, kernel width
  int stride = 1, pad = 0;
  int OH() const { return (H + 2 * pad - R) / stride + 1; }
  int OW() const { return (W + 2 * pad - S) / stride + 1; }
  int64_t flops() const { return 2ll * N * K * OH() * OW() * C * R * S; }  // multiply-adds x2
  void validate() const {
    YOLITE_CHECK(N > 0 && C > 0 && H > 0 && W > 0 && K > 0 && R > 0 && S > 0 && stride > 0 &&
                     pad >= 0 && OH() > 0 && OW() > 0,
                 "conv2d: bad parameters N=", N, " C=", C, " H=", H, " W=", W, " K=", K, " R=", R,
                 " S=", S, " stride=", stride, " pad=", pad);
  }
};

namespace ref {

// y[n,k,oh,ow] = b[k] + sum_{c,r,s} x[n,c,oh*stride-pad+r, ow*stride-pad+s] * w[k,c,r,s]
template <class T>
void conv2d_forward(const Conv2dParams& p, const T* x, const T* w, const T* b, T* y) {
  const int OH = p.OH(), OW = p.OW();
  for (int n = 0; n < p.N; ++n)
    for (int k = 0; k < p.K; ++k)
      for (int oh = 0; oh < OH; ++oh)
        for (int ow = 0; ow < OW; ++ow) {
          T acc = b ? b[k] : T(0);
          for (int c = 0; c < p.C; ++c)
            for (int r = 0; r < p.R; ++r) {
              int ih = oh * p.stride - p.pad + r;
              if (ih < 0 || ih >= p.H) continue;
              for (int s = 0; s < p.S; ++s) {
                int iw = ow * p.stride - p.pad + s;
                if (iw < 0 || iw >= p.W) continue;
                acc += x[((int64_t(n) * p.C + c) * p.H + ih) * p.W + iw] *
                       w[((int64_t(k) * p.C + c) * p.R + r) * p.S + s];
              }
            }
          y[((int64_t(n) * p.K + k) * OH + oh) * OW + ow] = acc;
        }
}

// dx[n,c,ih,iw] += sum over the outputs that read x[n,c,ih,iw] of dy * w
template <class T>
void conv2d_backward_input(const Conv2dParams& p, const T* dy, const T* w, T* dx) {
  const int OH = p.OH(), OW = p.OW();
  for (int n = 0; n < p.N; ++n)
    for (int k = 0; k < p.K; ++k)
      for (int oh = 0; oh < OH; ++oh)
        for (int ow = 0; ow < OW; ++ow) {
          T g = dy[((int64_t(n) * p.K + k) * OH + oh) * OW + ow];
          for (int c = 0; c < p.C; ++c)
            for (int r = 0; r < p.R; ++r) {
              int ih = oh * p.stride - p.pad + r;
              if (ih < 0 || ih >= p.H) continue;
              for (int s = 0; s < p.S; ++s) {
                int iw = ow * p.stride - p.pad + s;
                if (iw < 0 || iw >= p.W) continue;
                dx[((int64_t(n) * p.C + c) * p.H + ih) * p.W + iw] +=
                    g * w[((int64_t(k) * p.C + c) * p.R + r) * p.S + s];
              }
            }
        }
}

// dw[k,c,r,s] += sum_{n,oh,ow} dy[n,k,oh,ow] * x[n,c,...];  db[k] += sum dy[n,k,:,:]
template <class T>
void conv2d_backward_weight(const Conv2dParams& p, const T* x, const T* dy, T* dw, T* db) {
  const int OH = p.OH(), OW = p.OW();
  for (int n = 0; n < p.N; ++n)
    for (int k = 0; k < p.K; ++k)
      for (int oh = 0; oh < OH; ++oh)
        for (int ow = 0; ow < OW; ++ow) {
          T g = dy[((int64_t(n) * p.K + k) * OH + oh) * OW + ow];
          if (db) db[k] += g;
          for (int c = 0; c < p.C; ++c)
            for (int r = 0; r < p.R; ++r) {
              int ih = oh * p.stride - p.pad + r;
              if (ih < 0 || ih >= p.H) continue;
              for (int s = 0; s < p.S; ++s) {
                int iw = ow * p.stride - p.pad + s;
                if (iw < 0 || iw >= p.W) continue;
                dw[((int64_t(k) * p.C + c) * p.R + r) * p.S + s] +=
                    g * x[((int64_t(n) * p.C + c) * p.H + ih) * p.W + iw];
              }
            }
        }
}

}  // namespace ref
}  // namespace yolite::ops
