// viz/grid.hpp -- tile images into a rows x cols contact sheet, each with an optional title.
//
// Used for `yolite show` (a 4x4 sheet of labelled samples), train_batch mosaics and the synth
// contact sheet. Each image is resized to fit its cell keeping its aspect ratio and centred;
// titles sit in a band above their cell.
//
//   viz::GridOptions opt;  opt.cols = 4;  opt.cell_w = opt.cell_h = 256;
//   Image sheet = viz::make_grid(images, opt, titles);   // titles may be empty
//   // sheet.w == cols*cell_w + (cols+1)*pad, sheet.h == rows*(title_h+cell_h) + (rows+1)*pad
#pragma once
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/image.hpp"
#include "../data/image_io.hpp"
#include "colors.hpp"
#include "font.hpp"

namespace yolite::viz {

// Resize to w x h (data/image_io.hpp's filter: area when shrinking, bilinear otherwise), so
// thin lines and text in a shrunk cell do not alias away.
inline Image resize(const Image& src, int w, int h) {
  YOLITE_CHECK(!src.empty() && w > 0 && h > 0, "viz::resize: cannot resize a ", src.w, "x", src.h,
               " image to ", w, "x", h);
  return data::resize(src, w, h);
}

// Copies src into dst with its top-left corner at (x, y), clipped (both RGB).
inline void paste(Image& dst, const Image& src, int x, int y) {
  YOLITE_CHECK(dst.c == src.c, "viz::paste: channel counts differ (", dst.c, " vs ", src.c, ")");
  for (int v = 0; v < src.h; ++v) {
    int ty = y + v;
    if (ty < 0 || ty >= dst.h) continue;
    for (int u = 0; u < src.w; ++u) {
      int tx = x + u;
      if (tx < 0 || tx >= dst.w) continue;
      std::copy_n(src.at(u, v), src.c, dst.at(tx, ty));
    }
  }
}

struct GridOptions {
  int cols = 0;                // 0: ceil(sqrt(n))
  int cell_w = 256, cell_h = 256;
  int pad = 4;                 // gap between cells and around the sheet
  int title_scale = 1;         // font scale of the titles
  Rgb background{255, 255, 255};
  Rgb title_color{0, 0, 0};
};

// Height of the title band above each cell (0 when no titles are given).
inline int grid_title_height(const GridOptions& opt, bool has_titles) {
  return has_titles ? (kCellH + 2) * std::max(opt.title_scale, 1) : 0;
}

// The contact sheet. titles is empty or has one (possibly empty) entry per image; titles
// wider than the cell are cut with "..".
inline Image make_grid(const std::vector<Image>& images, const GridOptions& opt,
                       const std::vector<std::string>& titles = {}) {
  YOLITE_CHECK(!images.empty(), "viz::make_grid: no images to tile");
  YOLITE_CHECK(titles.empty() || titles.size() == images.size(), "viz::make_grid: ", titles.size(),
               " titles for ", images.size(), " images (expected one per image or none)");
  YOLITE_CHECK(opt.cell_w > 0 && opt.cell_h > 0 && opt.pad >= 0 && opt.cols >= 0,
               "viz::make_grid: bad cell size ", opt.cell_w, "x", opt.cell_h, " or pad ", opt.pad);
  int n = int(images.size());
  int cols = opt.cols > 0 ? opt.cols : int(std::ceil(std::sqrt(double(n))));
  int rows = (n + cols - 1) / cols;
  int th = grid_title_height(opt, !titles.empty());
  int ts = std::max(opt.title_scale, 1);
  Image sheet(cols * opt.cell_w + (cols + 1) * opt.pad, rows * (th + opt.cell_h) + (rows + 1) * opt.pad, 3);
  for (int y = 0; y < sheet.h; ++y)
    for (int x = 0; x < sheet.w; ++x) std::copy_n(opt.background.data(), 3, sheet.at(x, y));
  for (int i = 0; i < n; ++i) {
    int r = i / cols, c = i % cols;
    int x0 = opt.pad + c * (opt.cell_w + opt.pad), y0 = opt.pad + r * (th + opt.cell_h + opt.pad);
    if (th > 0 && !titles[size_t(i)].empty()) {
      std::string t = titles[size_t(i)];
      int max_chars = std::max(1, (opt.cell_w + ts) / (kCellW * ts));
      if (int(t.size()) > max_chars) t = t.substr(0, size_t(std::max(0, max_chars - 2))) + "..";
      draw_text(sheet, x0, y0 + ts, t, opt.title_color, ts);
    }
    const Image& im = images[size_t(i)];
    if (im.empty()) continue;
    double s = std::min(double(opt.cell_w) / im.w, double(opt.cell_h) / im.h);
    int w = std::max(1, int(std::lround(im.w * s))), h = std::max(1, int(std::lround(im.h * s)));
    Image fitted = resize(to_rgb(im), w, h);
    paste(sheet, fitted, x0 + (opt.cell_w - w) / 2, y0 + th + (opt.cell_h - h) / 2);
  }
  return sheet;
}

}  // namespace yolite::viz
