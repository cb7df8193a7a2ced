// data/yolo_txt.hpp -- YOLO label files: one per image, one line `class cx cy w h` per box.
//
//   auto boxes = data::read_yolo_labels("labels/train/a.txt", nc);  // errors name file:line
//   data::write_yolo_labels("labels/train/a.txt", boxes);           // empty file = no boxes
//   data::write_yolo_labels("runs/detect/a.txt", boxes, &conf);     // 6th column: confidence
//
// Coordinates are normalised to [0, 1] by the image size, class indices start at 0. What a
// line may hold (as YOLOv5 accepts it):
//   5 columns      class cx cy w h
//   6 columns      class cx cy w h confidence   (detect --save-conf output)
//   7+ columns     class x1 y1 x2 y2 ... xn yn  (a polygon: its bounding box is used)
// Every value is checked: class a non-negative integer below nc (when nc >= 0), coordinates
// finite and within [0, 1], width and height > 0 (a box whose edge reaches past the image is
// accepted, as YOLOv5 does; the loader clips it). A bad line throws "file:line: ..." --
// nothing is dropped silently. read_yolo_rows() keeps doubles for exact conversions.
#pragma once
#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "../core/error.hpp"
#include "dataset.hpp"
#include "fs.hpp"

namespace yolite::data {

// The largest number of classes a data set may have (class indices 0..kMaxClasses-1). Tools
// that size per-class tables from the labels (stats of a folder without classes.txt) rely on
// it: a corrupt class field cannot make them allocate billions of entries.
inline constexpr int kMaxClasses = 100000;

// One label line in double precision; conf < 0 when the file has no confidence column.
struct LabelRow {
  int cls = 0;
  double cx = 0, cy = 0, w = 0, h = 0;
  double conf = -1;
};

// Parses the text of one label file; `source` names it in errors.
inline std::vector<LabelRow> parse_yolo_rows(std::string_view text, const std::string& source, int nc = -1) {
  std::vector<LabelRow> rows;
  size_t pos = 0;
  int lineno = 0;
  std::vector<double> v;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++lineno;
    v.clear();
    size_t i = 0;
    while (true) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == ',')) ++i;
      if (i >= line.size()) break;
      size_t j = i;
      while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r' && line[j] != ',') ++j;
      double x = 0;
      const char* b = line.data() + i;
      if (*b == '+') ++b;
      auto r = std::from_chars(b, line.data() + j, x);
      if (r.ec != std::errc() || r.ptr != line.data() + j || !std::isfinite(x))
        fail(source, ":", lineno, ": '", line.substr(i, j - i), "' is not a number (expected 'class cx cy w h')");
      v.push_back(x);
      i = j;
    }
    if (v.empty()) continue;  // blank line
    if (v.size() < 5 || (v.size() > 6 && (v.size() - 1) % 2 != 0))
      fail(source, ":", lineno, ": ", v.size(), " values, expected 5 (class cx cy w h), 6 (+ confidence) or a polygon");
    LabelRow r;
    if (v[0] < 0 || v[0] != std::floor(v[0]) || v[0] >= kMaxClasses)
      fail(source, ":", lineno, ": class '", v[0], "' must be an integer 0..", kMaxClasses - 1);
    r.cls = int(v[0]);
    if (nc >= 0 && r.cls >= nc) fail(source, ":", lineno, ": class ", r.cls, " out of range, the data set has nc=", nc);
    const double tol = 1e-6;
    if (v.size() <= 6) {
      r.cx = v[1], r.cy = v[2], r.w = v[3], r.h = v[4];
      if (v.size() == 6) r.conf = v[5];
    } else {  // polygon -> bounding box
      double x0 = 1e300, y0 = 1e300, x1 = -1e300, y1 = -1e300;
      for (size_t k = 1; k + 1 < v.size(); k += 2) {
        x0 = std::min(x0, v[k]), x1 = std::max(x1, v[k]);
        y0 = std::min(y0, v[k + 1]), y1 = std::max(y1, v[k + 1]);
      }
      for (double c : {x0, y0, x1, y1})
        if (c < -tol || c > 1 + tol) fail(source, ":", lineno, ": polygon point ", c, " outside [0, 1]");
      r.cx = (x0 + x1) / 2, r.cy = (y0 + y1) / 2, r.w = x1 - x0, r.h = y1 - y0;
    }
    if (!(r.w > 0) || !(r.h > 0))
      fail(source, ":", lineno, ": box size ", r.w, " x ", r.h, " must be > 0");
    for (double c : {r.cx, r.cy, r.w, r.h})
      if (c < -tol || c > 1 + tol)
        fail(source, ":", lineno, ": value ", c, " outside [0, 1] (coordinates must be normalised by the image size)");
    rows.push_back(r);
  }
  return rows;
}

// Reads a label file (doubles). Throws naming the file when it is missing.
inline std::vector<LabelRow> read_yolo_rows(const std::filesystem::path& path, int nc = -1) {
  return parse_yolo_rows(read_file(path), path.string(), nc);
}

// Reads a label file into Boxes (float); `conf`, when given, receives the 6th column (-1 if none).
inline std::vector<Box> read_yolo_labels(const std::filesystem::path& path, int nc = -1,
                                         std::vector<float>* conf = nullptr) {
  std::vector<Box> boxes;
  if (conf) conf->clear();
  for (auto& r : read_yolo_rows(path, nc)) {
    boxes.push_back(Box{r.cls, float(r.cx), float(r.cy), float(r.w), float(r.h)});
    if (conf) conf->push_back(float(r.conf));
  }
  return boxes;
}

namespace detail {
// Shortest text that reads back to exactly the same number.
template <class T>
inline void append_number(std::string& out, T v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}
}  // namespace detail

// Label-file text for rows (doubles, written exactly).
inline std::string format_yolo_rows(const std::vector<LabelRow>& rows, bool with_conf = false) {
  std::string out;
  for (auto& r : rows) {
    out += std::to_string(r.cls);
    for (double x : {r.cx, r.cy, r.w, r.h}) out += ' ', detail::append_number(out, x);
    if (with_conf) out += ' ', detail::append_number(out, r.conf);
    out += '\n';
  }
  return out;
}

inline void write_yolo_rows(const std::filesystem::path& path, const std::vector<LabelRow>& rows,
                            bool with_conf = false) {
  write_file_atomic(path, format_yolo_rows(rows, with_conf));
}

// Writes boxes (and, when `conf` is given, a 6th confidence column) through a temporary file.
// No boxes -> an empty file (an image without objects, not a missing label).
inline void write_yolo_labels(const std::filesystem::path& path, const std::vector<Box>& boxes,
                              const std::vector<float>* conf = nullptr) {
  YOLITE_CHECK(!conf || conf->size() == boxes.size(), path.string(), ": ", boxes.size(), " boxes but ",
               conf->size(), " confidences");
  std::string out;
  for (size_t i = 0; i < boxes.size(); ++i) {
    const Box& b = boxes[i];
    out += std::to_string(b.cls);
    for (float x : {b.cx, b.cy, b.w, b.h}) out += ' ', detail::append_number(out, x);
    if (conf) out += ' ', detail::append_number(out, (*conf)[i]);
    out += '\n';
  }
  write_file_atomic(path, out);
}

// classes.txt: one class name per line (the names of classes 0, 1, ...).
inline std::vector<std::string> read_class_names(const std::filesystem::path& path) {
  std::string text = read_file(path);
  std::vector<std::string> names;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    size_t b = line.find_first_not_of(" \t");
    if (b == std::string::npos) continue;
    names.push_back(line.substr(b));
  }
  if (names.empty()) fail(path.string(), ": no class names (expected one name per line)");
  return names;
}

inline void write_class_names(const std::filesystem::path& path, const std::vector<std::string>& names) {
  std::string out;
  for (auto& n : names) out += n + "\n";
  write_file_atomic(path, out);
}

}  // namespace yolite::data
