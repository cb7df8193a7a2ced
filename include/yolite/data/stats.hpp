// data/stats.hpp -- what is in a data set, as pylabel's analyze() tells it.
//
//   data::DatasetStats s = data::compute_stats(ds);
//   std::cout << data::format_stats(s, "bccd/train");
//
// Counts images, boxes, classes and names; boxes and images per class; images without boxes;
// boxes per image (min / mean / max); the distinct image sizes with their counts; box width,
// height and aspect ratio (min / mean / median / max, in pixels where the image size is known,
// else normalised); and COCO's small / medium / large split (area < 32^2, < 96^2, larger).
#pragma once
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "dataset.hpp"

namespace yolite::data {

struct ValueSummary {
  size_t n = 0;
  double min = 0, mean = 0, median = 0, max = 0;
};

inline ValueSummary summarize(std::vector<double> v) {
  ValueSummary s;
  s.n = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.min = v.front();
  s.max = v.back();
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / double(v.size());
  size_t m = v.size() / 2;
  s.median = v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
  return s;
}

struct DatasetStats {
  size_t images = 0, boxes = 0, images_without_boxes = 0;
  std::vector<std::string> names;
  std::vector<size_t> boxes_per_class, images_per_class;  // index = class
  size_t bad_class_boxes = 0;                              // boxes whose class is >= nc
  ValueSummary boxes_per_image;
  std::map<std::pair<int, int>, size_t> image_sizes;        // (w, h) -> images; (0, 0) = unknown
  bool pixels = false;                                      // box sizes below are in pixels
  ValueSummary box_w, box_h, box_aspect;                    // aspect = w / h
  size_t small = 0, medium = 0, large = 0;                  // COCO area classes (pixels only)
  int nc() const { return int(names.size()); }
};

inline DatasetStats compute_stats(const Dataset& ds) {
  DatasetStats s;
  s.names = ds.names;
  s.images = ds.samples.size();
  s.boxes_per_class.assign(ds.names.size(), 0);
  s.images_per_class.assign(ds.names.size(), 0);
  bool all_sized = !ds.samples.empty();
  for (auto& smp : ds.samples) all_sized &= smp.width > 0 && smp.height > 0;
  s.pixels = all_sized;
  std::vector<double> per_image, ws, hs, aspect;
  for (auto& smp : ds.samples) {
    per_image.push_back(double(smp.boxes.size()));
    s.boxes += smp.boxes.size();
    s.images_without_boxes += smp.boxes.empty();
    ++s.image_sizes[{smp.width, smp.height}];
    std::vector<char> seen(ds.names.size(), 0);
    for (auto& b : smp.boxes) {
      if (b.cls < 0 || b.cls >= int(ds.names.size())) {
        ++s.bad_class_boxes;
      } else {
        ++s.boxes_per_class[size_t(b.cls)];
        if (!seen[size_t(b.cls)]) seen[size_t(b.cls)] = 1, ++s.images_per_class[size_t(b.cls)];
      }
      double w = b.w, h = b.h;
      if (all_sized) w *= smp.width, h *= smp.height;
      ws.push_back(w);
      hs.push_back(h);
      if (h > 0) aspect.push_back(w / h);
      if (all_sized) {
        double area = w * h;
        if (area < 32.0 * 32.0) ++s.small;
        else if (area < 96.0 * 96.0) ++s.medium;
        else ++s.large;
      }
    }
  }
  s.boxes_per_image = summarize(std::move(per_image));
  s.box_w = summarize(std::move(ws));
  s.box_h = summarize(std::move(hs));
  s.box_aspect = summarize(std::move(aspect));
  return s;
}

namespace detail {
inline std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}
inline std::string pad(std::string s, size_t n, bool right = false) {
  if (s.size() >= n) return s;
  return right ? std::string(n - s.size(), ' ') + s : s + std::string(n - s.size(), ' ');
}
}  // namespace detail

// A plain-text report with a per-class table.
inline std::string format_stats(const DatasetStats& s, const std::string& title = "") {
  using detail::fmt;
  using detail::pad;
  std::string o;
  if (!title.empty()) o += title + "\n";
  o += str("  images              ", s.images, "\n");
  o += str("  boxes               ", s.boxes, "\n");
  o += str("  classes             ", s.nc(), "\n");
  o += str("  images without boxes ", s.images_without_boxes, "\n");
  o += "  boxes per image     min " + fmt("%.0f", s.boxes_per_image.min) + "  mean " +
       fmt("%.2f", s.boxes_per_image.mean) + "  max " + fmt("%.0f", s.boxes_per_image.max) + "\n";
  if (s.bad_class_boxes) o += str("  boxes with a class >= nc: ", s.bad_class_boxes, "\n");
  size_t w = 5;
  for (auto& n : s.names) w = std::max(w, n.size());
  o += "\n  " + pad("id", 4, true) + "  " + pad("class", w) + "  " + pad("boxes", 8, true) + "  " +
       pad("images", 8, true) + "  " + pad("share", 7, true) + "\n";
  for (int c = 0; c < s.nc(); ++c) {
    double share = s.boxes ? 100.0 * double(s.boxes_per_class[size_t(c)]) / double(s.boxes) : 0.0;
    o += "  " + pad(std::to_string(c), 4, true) + "  " + pad(s.names[size_t(c)], w) + "  " +
         pad(std::to_string(s.boxes_per_class[size_t(c)]), 8, true) + "  " +
         pad(std::to_string(s.images_per_class[size_t(c)]), 8, true) + "  " + pad(fmt("%.1f%%", share), 7, true) + "\n";
  }
  o += "\n  image sizes (w x h: images)\n";
  size_t shown = 0;
  std::vector<std::pair<size_t, std::pair<int, int>>> sizes;
  for (auto& [wh, n] : s.image_sizes) sizes.push_back({n, wh});
  std::stable_sort(sizes.begin(), sizes.end(), [](auto& a, auto& b) { return a.first > b.first; });
  for (auto& [n, wh] : sizes) {
    if (shown++ == 10) {
      o += str("    ... ", sizes.size() - 10, " more sizes\n");
      break;
    }
    o += wh.first ? str("    ", wh.first, " x ", wh.second, ": ", n, "\n") : str("    unknown: ", n, "\n");
  }
  const char* unit = s.pixels ? "px" : "(normalised)";
  auto line = [&](const char* name, const ValueSummary& v, const char* f) {
    return str("  ", pad(name, 13), "min ", fmt(f, v.min), "  median ", fmt(f, v.median), "  mean ", fmt(f, v.mean),
               "  max ", fmt(f, v.max), "\n");
  };
  if (s.boxes) {
    o += str("\n  box sizes ", unit, "\n");
    const char* f = s.pixels ? "%.1f" : "%.4f";
    o += line("width", s.box_w, f);
    o += line("height", s.box_h, f);
    o += line("aspect w/h", s.box_aspect, "%.2f");
    if (s.pixels) o += str("  COCO area     small ", s.small, "  medium ", s.medium, "  large ", s.large, "\n");
  }
  return o;
}

}  // namespace yolite::data
