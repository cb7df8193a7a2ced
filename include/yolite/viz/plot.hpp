// viz/plot.hpp -- minimal plots drawn straight into an Image: line plots, bar charts, heat maps.
//
// Enough for results.png (losses, P, R, mAP over epochs), PR / F1 curves, class histograms and
// the confusion matrix. Axes get "nice" ticks (1, 2, 5 x 10^k) labelled with numbers, series
// get a legend; there is no anti-aliasing, no fonts beyond viz/font.hpp, and nothing clever.
//
//   viz::Series loss{"box_loss", epochs, values};                 // colour from class_color(i)
//   viz::PlotOptions o;  o.title = "train/box_loss";  o.xlabel = "epoch";
//   Image png = viz::line_plot({loss}, o);
//   Image bars = viz::bar_plot({"beer", "wine"}, {120, 80}, o);
//   Image cm = viz::heatmap(matrix, names, names, o);            // numbers in every cell
//
// Several small plots become one figure with viz::make_grid (grid.hpp).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/image.hpp"
#include "colors.hpp"
#include "draw.hpp"
#include "font.hpp"

namespace yolite::viz {

struct Series {
  std::string name;
  std::vector<double> x, y;  // x empty: 0, 1, 2, ...
  Rgb color{0, 0, 0};
  bool auto_color = true;    // true: class_color(index of the series)
  int thickness = 1;
  bool markers = false;      // a small dot on every point
};

inline constexpr double kAuto = std::numeric_limits<double>::quiet_NaN();

struct PlotOptions {
  int width = 480, height = 360;
  std::string title, xlabel, ylabel;
  double xmin = kAuto, xmax = kAuto, ymin = kAuto, ymax = kAuto;  // NaN: from the data
  bool legend = true;
  int text_scale = 1;
  int decimals = -1;  // heatmap cell numbers: -1 = integers if all are whole, else 2 decimals
};

// ---- helpers ---------------------------------------------------------------------------------

// A tick step of 1, 2 or 5 x 10^k giving about `target` intervals over [lo, hi].
inline double nice_step(double lo, double hi, int target = 5) {
  double span = hi - lo;
  if (!(span > 0) || !std::isfinite(span)) return 1.0;
  double raw = span / std::max(target, 1);
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double f = raw / mag;
  double nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  return nice * mag;
}

// A short label for a tick value (no trailing zeros, no "-0").
inline std::string format_number(double v, double step = 0) {
  if (std::fabs(v) < 1e-12 * std::max(1.0, std::fabs(step))) v = 0;
  char buf[32];
  int decimals = 0;
  if (step > 0 && step < 1) decimals = std::min(6, int(std::ceil(-std::log10(step) - 1e-9)));
  if (std::fabs(v) >= 1e6 || (std::fabs(v) > 0 && std::fabs(v) < 1e-4 && step == 0))
    std::snprintf(buf, sizeof buf, "%.3g", v);
  else if (step == 0)
    std::snprintf(buf, sizeof buf, "%.4g", v);
  else
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// Pixel frame of a plot: where the data rectangle lies and how values map into it.
struct PlotFrame {
  int left = 0, top = 0, right = 0, bottom = 0;  // data area, inclusive pixel bounds
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;         // value range shown
  int px(double x) const { return left + int(std::lround((x - x0) / (x1 - x0) * (right - left))); }
  int py(double y) const { return bottom - int(std::lround((y - y0) / (y1 - y0) * (bottom - top))); }
};

inline void widen_if_flat(double& lo, double& hi) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (hi - lo <= 1e-12 * std::max(1.0, std::fabs(hi))) {
    double d = std::max(std::fabs(lo) * 0.1, 0.5);
    lo -= d, hi += d;
  }
}

// Draws title, axes, ticks and labels on a white canvas; returns the frame to plot into.
inline PlotFrame draw_axes(Image& img, const PlotOptions& o, double x0, double x1, double y0, double y1,
                           bool x_ticks_numeric = true) {
  int s = std::max(o.text_scale, 1);
  int ch = kCellH * s, cw = kCellW * s;
  double ystep = nice_step(y0, y1);
  int ylabel_w = 0;
  for (double v = std::ceil(y0 / ystep - 1e-9) * ystep; v <= y1 + ystep * 1e-9; v += ystep)
    ylabel_w = std::max(ylabel_w, text_size(format_number(v, ystep), s).w);
  PlotFrame f;
  f.left = ylabel_w + 3 * s + 6;
  f.top = (o.title.empty() ? 0 : ch + 4) + (o.ylabel.empty() ? 4 : ch + 2) + 2;
  f.right = img.w - 1 - cw;
  f.bottom = img.h - 1 - ch - 6 - (o.xlabel.empty() ? 0 : ch + 2);
  YOLITE_CHECK(f.right - f.left > 10 && f.bottom - f.top > 10, "viz plot: canvas ", img.w, "x", img.h,
               " is too small for its labels");
  f.x0 = x0, f.x1 = x1, f.y0 = y0, f.y1 = y1;
  if (!o.title.empty())
    draw_text(img, (img.w - text_size(o.title, s).w) / 2, 2, o.title, kBlack, s);
  if (!o.ylabel.empty()) draw_text(img, 2, f.top - ch - 2, o.ylabel, kBlack, s);
  if (!o.xlabel.empty())
    draw_text(img, (f.left + f.right - text_size(o.xlabel, s).w) / 2, img.h - ch - 1, o.xlabel, kBlack, s);
  Rgb grid{225, 225, 225};
  for (double v = std::ceil(y0 / ystep - 1e-9) * ystep; v <= y1 + ystep * 1e-9; v += ystep) {
    int y = f.py(v);
    draw_line(img, f.left, y, f.right, y, grid);
    draw_line(img, f.left - 3, y, f.left, y, kBlack);
    std::string t = format_number(v, ystep);
    draw_text(img, f.left - 5 - text_size(t, s).w, y - ch / 2 + 1, t, kBlack, s);
  }
  if (x_ticks_numeric) {
    double xstep = nice_step(x0, x1);
    for (double v = std::ceil(x0 / xstep - 1e-9) * xstep; v <= x1 + xstep * 1e-9; v += xstep) {
      int x = f.px(v);
      draw_line(img, x, f.top, x, f.bottom, grid);
      draw_line(img, x, f.bottom, x, f.bottom + 3, kBlack);
      std::string t = format_number(v, xstep);
      draw_text(img, x - text_size(t, s).w / 2, f.bottom + 5, t, kBlack, s);
    }
  }
  draw_line(img, f.left, f.top, f.left, f.bottom, kBlack);
  draw_line(img, f.left, f.bottom, f.right, f.bottom, kBlack);
  return f;
}

inline void draw_legend(Image& img, const PlotFrame& f, const std::vector<std::string>& names,
                        const std::vector<Rgb>& colors, int s) {
  int widest = 0, n = 0;
  for (auto& name : names)
    if (!name.empty()) widest = std::max(widest, text_size(name, s).w), ++n;
  if (n == 0) return;
  int line_h = kCellH * s + 2, w = widest + 16 * s + 8, h = n * line_h + 6;
  int x = f.right - w - 4, y = f.top + 4;
  fill_rect(img, x, y, x + w, y + h, kWhite, 0.85f);
  draw_rect(img, x, y, x + w, y + h, Rgb{160, 160, 160});
  int row = 0;
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty()) continue;
    int ly = y + 4 + row++ * line_h;
    fill_rect(img, x + 4, ly + kCellH * s / 2 - 1, x + 4 + 12 * s, ly + kCellH * s / 2, colors[i]);
    draw_text(img, x + 8 + 12 * s, ly, names[i], kBlack, s);
  }
}

// ---- line plot -------------------------------------------------------------------------------

inline Image line_plot(const std::vector<Series>& series, const PlotOptions& o = {}) {
  YOLITE_CHECK(o.width >= 64 && o.height >= 48, "viz::line_plot: size ", o.width, "x", o.height,
               " is too small (need at least 64x48)");
  Image img(o.width, o.height, 3, 255);
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (auto& s : series) {
    YOLITE_CHECK(s.x.empty() || s.x.size() == s.y.size(), "viz::line_plot: series '", s.name, "' has ",
                 s.x.size(), " x values but ", s.y.size(), " y values");
    for (size_t i = 0; i < s.y.size(); ++i) {
      double x = s.x.empty() ? double(i) : s.x[i], y = s.y[i];
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
    }
  }
  if (!std::isnan(o.xmin)) x0 = o.xmin;
  if (!std::isnan(o.xmax)) x1 = o.xmax;
  if (!std::isnan(o.ymin)) y0 = o.ymin;
  if (!std::isnan(o.ymax)) y1 = o.ymax;
  widen_if_flat(x0, x1);
  widen_if_flat(y0, y1);
  if (std::isnan(o.ymin) || std::isnan(o.ymax)) {  // a little headroom for automatic ranges
    double m = 0.05 * (y1 - y0);
    if (std::isnan(o.ymin)) y0 -= m;
    if (std::isnan(o.ymax)) y1 += m;
  }
  PlotFrame f = draw_axes(img, o, x0, x1, y0, y1);
  std::vector<std::string> names;
  std::vector<Rgb> colors;
  for (size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    Rgb c = s.auto_color ? class_color(int(k)) : s.color;
    names.push_back(s.name);
    colors.push_back(c);
    bool have_prev = false;
    int px = 0, py = 0;
    for (size_t i = 0; i < s.y.size(); ++i) {
      double x = s.x.empty() ? double(i) : s.x[i], y = s.y[i];
      if (!std::isfinite(x) || !std::isfinite(y)) {
        have_prev = false;
        continue;
      }
      int qx = std::clamp(f.px(x), f.left, f.right), qy = std::clamp(f.py(y), f.top, f.bottom);
      if (have_prev) draw_line(img, px, py, qx, qy, c, s.thickness);
      if (s.markers || s.y.size() == 1) fill_circle(img, qx, qy, 2, c);
      px = qx, py = qy, have_prev = true;
    }
  }
  if (o.legend) draw_legend(img, f, names, colors, std::max(o.text_scale, 1));
  return img;
}

// ---- bar chart -------------------------------------------------------------------------------

// One bar per label (class histograms). colors empty: class_color(i) per bar.
inline Image bar_plot(const std::vector<std::string>& labels, const std::vector<double>& values,
                      const PlotOptions& o = {}, const std::vector<Rgb>& colors = {}) {
  YOLITE_CHECK(labels.size() == values.size(), "viz::bar_plot: ", labels.size(), " labels but ",
               values.size(), " values");
  YOLITE_CHECK(!values.empty(), "viz::bar_plot: nothing to plot");
  YOLITE_CHECK(colors.empty() || colors.size() == values.size(), "viz::bar_plot: ", colors.size(),
               " colours for ", values.size(), " bars");
  YOLITE_CHECK(o.width >= 64 && o.height >= 48, "viz::bar_plot: size ", o.width, "x", o.height, " is too small");
  Image img(o.width, o.height, 3, 255);
  double y0 = std::isnan(o.ymin) ? 0.0 : o.ymin, y1 = 0;
  for (double v : values) y1 = std::max(y1, std::isfinite(v) ? v : 0.0);
  y1 = std::isnan(o.ymax) ? y1 * 1.08 : o.ymax;
  widen_if_flat(y0, y1);
  PlotOptions oo = o;
  if (oo.xlabel.empty()) oo.xlabel = " ";  // room for the bar labels
  PlotFrame f = draw_axes(img, oo, 0, double(values.size()), y0, y1, false);
  int s = std::max(o.text_scale, 1);
  double slot = double(f.right - f.left) / double(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    Rgb c = colors.empty() ? class_color(int(i)) : colors[i];
    int xa = f.left + int(slot * (double(i) + 0.15)) + 1, xb = f.left + int(slot * (double(i) + 0.85));
    double v = std::isfinite(values[i]) ? std::clamp(values[i], y0, y1) : y0;
    if (v > y0) fill_rect(img, xa, f.py(v), std::max(xa, xb), f.bottom - 1, c);
    std::string t = labels[i];
    int max_chars = std::max(1, int(slot) / (kCellW * s));
    if (int(t.size()) > max_chars) t = t.substr(0, size_t(max_chars));
    draw_text(img, (xa + xb) / 2 - text_size(t, s).w / 2, f.bottom + 5, t, kBlack, s);
  }
  return img;
}

// ---- heat map --------------------------------------------------------------------------------

// A matrix as coloured cells (white -> blue by value / max) with the value printed in each
// cell: the confusion matrix. Rows run down (e.g. predicted), columns across (e.g. true).
inline Image heatmap(const std::vector<std::vector<double>>& m, const std::vector<std::string>& row_labels,
                     const std::vector<std::string>& col_labels, const PlotOptions& o = {}) {
  YOLITE_CHECK(!m.empty() && !m[0].empty(), "viz::heatmap: empty matrix");
  size_t rows = m.size(), cols = m[0].size();
  for (size_t r = 0; r < rows; ++r)
    YOLITE_CHECK(m[r].size() == cols, "viz::heatmap: row ", r, " has ", m[r].size(), " values, expected ", cols);
  YOLITE_CHECK(row_labels.empty() || row_labels.size() == rows, "viz::heatmap: ", row_labels.size(),
               " row labels for ", rows, " rows");
  YOLITE_CHECK(col_labels.empty() || col_labels.size() == cols, "viz::heatmap: ", col_labels.size(),
               " column labels for ", cols, " columns");
  int s = std::max(o.text_scale, 1), ch = kCellH * s;
  Image img(o.width, o.height, 3, 255);
  int label_w = 0;
  for (auto& l : row_labels) label_w = std::max(label_w, text_size(l, s).w);
  int left = label_w + 6, top = (o.title.empty() ? 0 : ch + 4) + 2;
  int right = img.w - 2, bottom = img.h - 2 - (col_labels.empty() ? 0 : ch + 4) - (o.xlabel.empty() ? 0 : ch + 2);
  YOLITE_CHECK(right - left >= int(cols) && bottom - top >= int(rows), "viz::heatmap: canvas ", img.w, "x",
               img.h, " is too small for a ", rows, "x", cols, " matrix");
  if (!o.title.empty()) draw_text(img, (img.w - text_size(o.title, s).w) / 2, 2, o.title, kBlack, s);
  if (!o.xlabel.empty())
    draw_text(img, (left + right - text_size(o.xlabel, s).w) / 2, img.h - ch - 1, o.xlabel, kBlack, s);
  double vmax = 0;
  bool whole = true;
  for (auto& row : m)
    for (double v : row)
      if (std::isfinite(v)) vmax = std::max(vmax, v), whole = whole && v == std::floor(v);
  int decimals = o.decimals >= 0 ? o.decimals : (whole ? 0 : 2);
  double cw = double(right - left) / double(cols), chh = double(bottom - top) / double(rows);
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) {
      int xa = left + int(cw * double(c)), xb = left + int(cw * double(c + 1)) - 1;
      int ya = top + int(chh * double(r)), yb = top + int(chh * double(r + 1)) - 1;
      double v = std::isfinite(m[r][c]) ? m[r][c] : 0;
      double t = vmax > 0 ? std::clamp(v / vmax, 0.0, 1.0) : 0;
      Rgb col{uint8_t(247 - t * (247 - 8)), uint8_t(251 - t * (251 - 48)), uint8_t(255 - t * (255 - 107))};
      fill_rect(img, xa, ya, xb, yb, col);
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
      TextSize ts = text_size(buf, s);
      if (ts.w <= xb - xa && ts.h <= yb - ya && v != 0)
        draw_text(img, (xa + xb) / 2 - ts.w / 2, (ya + yb) / 2 - ts.h / 2, buf, contrast_color(col), s);
    }
  draw_rect(img, left, top, right - 1, bottom - 1, kGray);
  for (size_t r = 0; r < row_labels.size(); ++r)
    draw_text(img, 2, top + int(chh * (double(r) + 0.5)) - ch / 2, row_labels[r], kBlack, s);
  for (size_t c = 0; c < col_labels.size(); ++c) {
    std::string t = col_labels[c];
    int max_chars = std::max(1, int(cw) / (kCellW * s));
    if (int(t.size()) > max_chars) t = t.substr(0, size_t(max_chars));
    draw_text(img, left + int(cw * (double(c) + 0.5)) - text_size(t, s).w / 2, bottom + 3, t, kBlack, s);
  }
  return img;
}

}  // namespace yolite::viz
