// viz/colors.hpp -- RGB colours, a fixed per-class palette and pixel writing helpers.
//
// class_color(k) gives class k a colour that stays the same in every picture yolite draws
// (labels, confusion plots, synth contact sheets); the 20 entries are chosen to be distinct
// from their neighbours, and indices past 20 wrap around.
//
//   viz::Rgb c = viz::class_color(3);
//   viz::blend_pixel(img, x, y, c, 0.4f);          // 40 % c over what is there
//   viz::Rgb ink = viz::contrast_color(c);         // black or white, whichever reads better
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>

#include "../core/image.hpp"

namespace yolite::viz {

using Rgb = std::array<uint8_t, 3>;

inline constexpr Rgb kWhite{255, 255, 255}, kBlack{0, 0, 0}, kGray{128, 128, 128};

// 0xRRGGBB -> Rgb
constexpr Rgb hex_color(uint32_t hex) {
  return Rgb{uint8_t(hex >> 16 & 0xff), uint8_t(hex >> 8 & 0xff), uint8_t(hex & 0xff)};
}

inline constexpr uint32_t kPaletteHex[20] = {
    0xE6194B, 0x3CB44B, 0x4363D8, 0xF58231, 0x911EB4, 0x42D4F4, 0xF032E6, 0xBFEF45,
    0x9A6324, 0x469990, 0xFFB000, 0x800000, 0x00A86B, 0x000075, 0xFF6F91, 0x808000,
    0x6A5ACD, 0xDC143C, 0x2E8B57, 0xA9A9A9};

inline Rgb class_color(int k) {
  int n = int(std::size(kPaletteHex));
  return hex_color(kPaletteHex[((k % n) + n) % n]);
}

// Relative luminance in [0, 255] (Rec. 601 weights).
inline float luminance(Rgb c) { return 0.299f * c[0] + 0.587f * c[1] + 0.114f * c[2]; }

// Black text on light colours, white text on dark ones.
inline Rgb contrast_color(Rgb background) { return luminance(background) > 150 ? kBlack : kWhite; }

// Writes one pixel (no-op outside the image). Gray images receive the luminance; a 4th (alpha)
// channel is set opaque.
inline void set_pixel(Image& img, int x, int y, Rgb c) {
  if (!img.inside(x, y)) return;
  uint8_t* p = img.at(x, y);
  if (img.c < 3) {
    p[0] = uint8_t(luminance(c) + 0.5f);
    if (img.c == 2) p[1] = 255;
    return;
  }
  p[0] = c[0], p[1] = c[1], p[2] = c[2];
  if (img.c == 4) p[3] = 255;
}

// p = (1 - alpha) * p + alpha * c, alpha in [0, 1].
inline void blend_pixel(Image& img, int x, int y, Rgb c, float alpha) {
  if (!img.inside(x, y)) return;
  alpha = std::clamp(alpha, 0.0f, 1.0f);
  uint8_t* p = img.at(x, y);
  auto mix = [alpha](uint8_t a, float b) { return uint8_t(a + alpha * (b - a) + 0.5f); };
  if (img.c < 3) {
    p[0] = mix(p[0], luminance(c));
    return;
  }
  for (int k = 0; k < 3; ++k) p[k] = mix(p[k], c[size_t(k)]);
}

}  // namespace yolite::viz
