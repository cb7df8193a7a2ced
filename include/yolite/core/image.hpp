// core/image.hpp -- Image: 8-bit pixels, interleaved channels (HWC), row-major.
//
// The common currency of data/ (load, letterbox, augment), synth/ (renderer), viz/ (drawing)
// and infer/ (detect). Channel order is RGB (or gray / RGBA when c is 1 / 4). Decoding and
// encoding live in data/image_io.hpp.
#pragma once
#include <cstdint>
#include <vector>

#include "error.hpp"

namespace yolite {

struct Image {
  int w = 0, h = 0, c = 0;
  std::vector<uint8_t> px;  // h * w * c bytes

  Image() = default;
  Image(int width, int height, int channels, uint8_t fill = 0) : w(width), h(height), c(channels) {
    YOLITE_CHECK(width >= 0 && height >= 0 && channels >= 1 && channels <= 4,
                 "Image: bad size ", width, "x", height, "x", channels);
    px.assign(size_t(w) * size_t(h) * size_t(c), fill);
  }
  bool empty() const { return px.empty(); }
  uint8_t* row(int y) { return px.data() + size_t(y) * size_t(w) * size_t(c); }
  const uint8_t* row(int y) const { return px.data() + size_t(y) * size_t(w) * size_t(c); }
  uint8_t* at(int x, int y) { return row(y) + size_t(x) * size_t(c); }
  const uint8_t* at(int x, int y) const { return row(y) + size_t(x) * size_t(c); }
  bool inside(int x, int y) const { return x >= 0 && y >= 0 && x < w && y < h; }
};

// Any 1..4 channel image as 3-channel RGB (gray is replicated, alpha dropped).
inline Image to_rgb(const Image& src) {
  if (src.c == 3) return src;
  Image dst(src.w, src.h, 3);
  for (int y = 0; y < src.h; ++y)
    for (int x = 0; x < src.w; ++x) {
      const uint8_t* p = src.at(x, y);
      uint8_t* q = dst.at(x, y);
      if (src.c < 3) q[0] = q[1] = q[2] = p[0];
      else q[0] = p[0], q[1] = p[1], q[2] = p[2];
    }
  return dst;
}

}  // namespace yolite
