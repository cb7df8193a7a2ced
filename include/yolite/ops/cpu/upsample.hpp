// ops/cpu/upsample.hpp -- nearest-neighbour 2x upsampling of NCHW planes.
//
// P = N*C planes of H x W become P planes of 2H x 2W:
//   ops::upsample_nearest2x_forward(x, P, H, W, y);    // y[p, oh, ow] = x[p, oh/2, ow/2]
//   ops::upsample_nearest2x_backward(dy, P, H, W, dx); // dx[p, h, w] += sum of its 2x2 block
//
// ops::ref:: indexes every output element; ops:: runs planes in parallel (OpenMP, static),
// widens each input row once and copies it to both output rows; backward walks output row
// pairs and adds each 2x2 block in the reference's order, so both agree bit for bit.
#pragma once
#include <cstdint>
#include <cstring>

#include "elementwise.hpp"

namespace yolite::ops {

namespace ref {
template <class T>
void upsample_nearest2x_forward(const T* x, int64_t P, int H, int W, T* y) {
  for (int64_t p = 0; p < P; ++p)
    for (int oh = 0; oh < 2 * H; ++oh)
      for (int ow = 0; ow < 2 * W; ++ow)
        y[(p * 2 * H + oh) * 2 * W + ow] = x[(p * H + oh / 2) * W + ow / 2];
}
template <class T>
void upsample_nearest2x_backward(const T* dy, int64_t P, int H, int W, T* dx) {
  for (int64_t p = 0; p < P; ++p)
    for (int oh = 0; oh < 2 * H; ++oh)
      for (int ow = 0; ow < 2 * W; ++ow)
        dx[(p * H + oh / 2) * W + ow / 2] += dy[(p * 2 * H + oh) * 2 * W + ow];
}
}  // namespace ref

template <class T>
void upsample_nearest2x_forward(const T* x, int64_t P, int H, int W, T* y) {
  const int64_t W2 = 2 * int64_t(W);
  for_planes(P, int64_t(H) * W * 4, [&](int64_t p) {
    for (int h = 0; h < H; ++h) {
      const T* xr = x + (p * H + h) * W;
      T* y0 = y + (p * 2 * H + 2 * h) * W2;
      for (int w = 0; w < W; ++w) {
        y0[2 * w] = xr[w];
        y0[2 * w + 1] = xr[w];
      }
      std::memcpy(y0 + W2, y0, sizeof(T) * size_t(W2));
    }
  });
}

template <class T>
void upsample_nearest2x_backward(const T* dy, int64_t P, int H, int W, T* dx) {
  const int64_t W2 = 2 * int64_t(W);
  for_planes(P, int64_t(H) * W * 4, [&](int64_t p) {
    for (int h = 0; h < H; ++h) {
      const T* g0 = dy + (p * 2 * H + 2 * h) * W2;
      const T* g1 = g0 + W2;
      T* d = dx + (p * H + h) * W;
      // the reference's order: d + g0[2w] + g0[2w+1] + g1[2w] + g1[2w+1]
      for (int w = 0; w < W; ++w) {
        T v = d[w];
        v += g0[2 * w];
        v += g0[2 * w + 1];
        v += g1[2 * w];
        v += g1[2 * w + 1];
        d[w] = v;
      }
    }
  });
}

}  // namespace yolite::ops
