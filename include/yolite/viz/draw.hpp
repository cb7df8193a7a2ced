// viz/draw.hpp -- lines, rectangles and YOLOv5-style labelled boxes on an Image.
//
// Integer coordinates are pixel centres; rectangles are inclusive of both corners, and a
// thick outline grows inwards so it never leaves the rectangle. Everything clips to the image.
//
//   viz::draw_rect(img, 10, 10, 50, 40, {255, 0, 0}, 2);        // red 2-pixel outline
//   viz::fill_rect(img, 0, 0, 20, 20, {0, 0, 255}, 0.5f);       // half-transparent blue
//   viz::draw_line(img, 0, 0, 99, 49, viz::kBlack, 1);
//   // a detection: box edges in pixels (x1, y1 exclusive, as COCO x + w), class colour, label
//   viz::draw_box_label(img, 12.3f, 40.f, 130.7f, 200.f, "bottle 0.91", viz::class_color(0));
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string_view>

#include "../core/image.hpp"
#include "colors.hpp"
#include "font.hpp"

namespace yolite::viz {

// Fills x in [x0, x1], y in [y0, y1] (inclusive; corners in any order). alpha < 1 blends.
inline void fill_rect(Image& img, int x0, int y0, int x1, int y1, Rgb c, float alpha = 1.0f) {
  if (x0 > x1) std::swap(x0, x1);
  if (y0 > y1) std::swap(y0, y1);
  x0 = std::max(x0, 0), y0 = std::max(y0, 0);
  x1 = std::min(x1, img.w - 1), y1 = std::min(y1, img.h - 1);
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x) {
      if (alpha >= 1.0f) set_pixel(img, x, y, c);
      else blend_pixel(img, x, y, c, alpha);
    }
}

// Outline of the rectangle [x0, x1] x [y0, y1], `thickness` pixels wide, inside the rectangle.
inline void draw_rect(Image& img, int x0, int y0, int x1, int y1, Rgb c, int thickness = 1) {
  if (x0 > x1) std::swap(x0, x1);
  if (y0 > y1) std::swap(y0, y1);
  int t = std::max(thickness, 1);
  t = std::min({t, (x1 - x0) / 2 + 1, (y1 - y0) / 2 + 1});
  fill_rect(img, x0, y0, x1, y0 + t - 1, c);  // top
  fill_rect(img, x0, y1 - t + 1, x1, y1, c);  // bottom
  fill_rect(img, x0, y0, x0 + t - 1, y1, c);  // left
  fill_rect(img, x1 - t + 1, y0, x1, y1, c);  // right
}

// Bresenham line from (x0, y0) to (x1, y1); thickness > 1 stamps a square brush per point.
inline void draw_line(Image& img, int x0, int y0, int x1, int y1, Rgb c, int thickness = 1) {
  int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
  int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
  int lo = -(std::max(thickness, 1) - 1) / 2, hi = lo + std::max(thickness, 1) - 1;
  for (;;) {
    if (hi == 0) set_pixel(img, x0, y0, c);
    else fill_rect(img, x0 + lo, y0 + lo, x0 + hi, y0 + hi, c);
    if (x0 == x1 && y0 == y1) break;
    int e2 = 2 * err;
    if (e2 >= dy) err += dy, x0 += sx;
    if (e2 <= dx) err += dx, y0 += sy;
  }
}

// Filled disc of radius r around (cx, cy).
inline void fill_circle(Image& img, int cx, int cy, int r, Rgb c, float alpha = 1.0f) {
  for (int y = -r; y <= r; ++y)
    for (int x = -r; x <= r; ++x)
      if (x * x + y * y <= r * r + r) {
        if (alpha >= 1.0f) set_pixel(img, cx + x, cy + y, c);
        else blend_pixel(img, cx + x, cy + y, c, alpha);
      }
}

// Text on a filled background: the label chip of a detection box. Returns the chip height.
inline int draw_label(Image& img, int x, int y, std::string_view text, Rgb background, int scale = 1) {
  TextSize ts = text_size(text, scale);
  int pad = scale;
  fill_rect(img, x, y, x + ts.w + 2 * pad - 1, y + ts.h + 2 * pad - 1, background);
  draw_text(img, x + pad, y + pad, text, contrast_color(background), scale);
  return ts.h + 2 * pad;
}

// Text scale that suits an image of this size (1 up to ~640 px, then larger).
inline int auto_text_scale(const Image& img) { return std::max(1, std::max(img.w, img.h) / 640); }

// YOLOv5-style detection drawing: the box outline in colour c, and (if label is not empty) a
// chip of colour c with the label in black or white sitting on the box's top edge -- above
// the box when there is room, else just inside it. Box edges are in pixels, (x0, y0) the
// top-left corner and (x1, y1) the exclusive bottom-right one (x + w, y + h).
// text_scale 0 picks auto_text_scale(img).
inline void draw_box_label(Image& img, float x0, float y0, float x1, float y1, std::string_view label,
                           Rgb c, int thickness = 2, int text_scale = 0) {
  int ix0 = int(std::lround(x0)), iy0 = int(std::lround(y0));
  int ix1 = int(std::lround(x1)) - 1, iy1 = int(std::lround(y1)) - 1;
  if (ix1 < ix0) ix1 = ix0;
  if (iy1 < iy0) iy1 = iy0;
  draw_rect(img, ix0, iy0, ix1, iy1, c, thickness);
  if (label.empty()) return;
  int scale = text_scale > 0 ? text_scale : auto_text_scale(img);
  int chip_h = text_size(label, scale).h + 2 * scale;
  int ly = iy0 - chip_h >= 0 ? iy0 - chip_h : iy0;
  int lx = std::clamp(ix0, 0, std::max(0, img.w - 1));
  draw_label(img, lx, ly, label, c, scale);
}

}  // namespace yolite::viz
