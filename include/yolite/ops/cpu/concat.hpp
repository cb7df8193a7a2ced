// ops/cpu/concat.hpp -- concatenation of NCHW tensors along the channel dimension.
//
// Input i has channels[i] channels; all share N and HW = H*W. The output has sum(channels).
//   ops::concat_forward(xs, channels, N, HW, y);      // y[n, off_i + c] = xs[i][n, c]
//   ops::concat_backward(dy, channels, N, HW, dxs);   // dxs[i][n, c] += dy[n, off_i + c]
// (dxs[i] == nullptr skips input i.)
//
// ops::ref:: copies element by element; ops:: copies whole (n, c) planes in parallel
// (OpenMP, static over the planes) with memcpy forward and a vectorised add backward.
#pragma once
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "elementwise.hpp"

namespace yolite::ops {

namespace ref {
template <class T>
void concat_forward(const std::vector<const T*>& xs, const std::vector<int>& channels, int N,
                    int64_t HW, T* y) {
  int64_t Ct = 0;
  for (int c : channels) Ct += c;
  for (int n = 0; n < N; ++n) {
    int64_t off = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
      for (int c = 0; c < channels[i]; ++c)
        for (int64_t j = 0; j < HW; ++j)
          y[((int64_t(n) * Ct) + off + c) * HW + j] = xs[i][(int64_t(n) * channels[i] + c) * HW + j];
      off += channels[i];
    }
  }
}
template <class T>
void concat_backward(const T* dy, const std::vector<int>& channels, int N, int64_t HW,
                     const std::vector<T*>& dxs) {
  int64_t Ct = 0;
  for (int c : channels) Ct += c;
  for (int n = 0; n < N; ++n) {
    int64_t off = 0;
    for (size_t i = 0; i < dxs.size(); ++i) {
      if (dxs[i])
        for (int c = 0; c < channels[i]; ++c)
          for (int64_t j = 0; j < HW; ++j)
            dxs[i][(int64_t(n) * channels[i] + c) * HW + j] +=
                dy[((int64_t(n) * Ct) + off + c) * HW + j];
      off += channels[i];
    }
  }
}
}  // namespace ref

namespace detail {
// For output channel oc: the input it comes from and the channel within that input.
inline std::vector<std::pair<int, int>> concat_plane_map(const std::vector<int>& channels) {
  std::vector<std::pair<int, int>> m;
  for (size_t i = 0; i < channels.size(); ++i)
    for (int c = 0; c < channels[i]; ++c) m.push_back({int(i), c});
  return m;
}
}  // namespace detail

template <class T>
void concat_forward(const std::vector<const T*>& xs, const std::vector<int>& channels, int N,
                    int64_t HW, T* y) {
  const auto map = detail::concat_plane_map(channels);
  const int64_t Ct = int64_t(map.size());
  for_planes(N * Ct, HW, [&](int64_t p) {
    const int64_t n = p / Ct;
    const auto [i, c] = map[size_t(p % Ct)];
    std::memcpy(y + p * HW, xs[i] + (n * channels[i] + c) * HW, sizeof(T) * size_t(HW));
  });
}

// Input by input (each a parallel loop over its N * channels[i] planes): the same tensor may
// appear twice in a concat (dxs[i] == dxs[j]), and its planes must not be updated by two
// threads at once. Input order fixes the order of the additions. fresh[i] (when given) makes
// input i's planes written (=) instead of added to: a fresh gradient buffer.
template <class T>
void concat_backward(const T* dy, const std::vector<int>& channels, int N, int64_t HW,
                     const std::vector<T*>& dxs, const std::vector<bool>& fresh = {}) {
  int64_t Ct = 0;
  for (int c : channels) Ct += c;
  int64_t off = 0;
  for (size_t i = 0; i < dxs.size(); ++i) {
    const int64_t Ci = channels[i];
    const bool write = i < fresh.size() && fresh[i];
    if (T* dx = dxs[i])
      for_planes(N * Ci, HW, [&](int64_t p) {
        const int64_t n = p / Ci, c = p % Ci;
        T* d = dx + p * HW;
        const T* g = dy + (n * Ct + off + c) * HW;
        if (write)
          std::memcpy(d, g, sizeof(T) * size_t(HW));
        else
          for (int64_t j = 0; j < HW; ++j) d[j] += g[j];
      });
    off += Ci;
  }
}

}  // namespace yolite::ops
