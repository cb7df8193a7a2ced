// train/results_csv.hpp -- results.csv, one row per epoch, with YOLOv5's column names (so
// tools written for YOLOv5 runs read ours): losses of the training epoch, the validation
// metrics, validation losses and the learning rate of the three parameter groups.
#pragma once
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../core/error.hpp"

namespace yolite::train {

struct EpochRow {
  int epoch = 0;
  std::array<double, 3> train_loss{};  // box, obj, cls (mean per batch, gains applied)
  double precision = 0, recall = 0, map50 = 0, map = 0;
  std::array<double, 3> val_loss{};
  std::array<double, 3> lr{};  // groups 0 (biases), 1 (weights), 2 (BN weights)
};

inline const std::vector<std::string>& results_columns() {
  static const std::vector<std::string> cols{
      "epoch",          "train/box_loss",      "train/obj_loss",       "train/cls_loss",
      "metrics/precision", "metrics/recall",   "metrics/mAP_0.5",      "metrics/mAP_0.5:0.95",
      "val/box_loss",   "val/obj_loss",        "val/cls_loss",         "x/lr0",
      "x/lr1",          "x/lr2"};
  return cols;
}

// Appends a row (writing the header first when the file is new). Each row is written whole
// and flushed, so a killed run leaves a readable file.
inline void append_results_csv(const std::filesystem::path& file, const EpochRow& r) {
  bool fresh = !std::filesystem::exists(file);
  std::ofstream out(file, std::ios::app);
  YOLITE_CHECK(out.good(), "cannot write ", file.string());
  auto cols = results_columns();
  if (fresh) {
    std::string h;
    for (size_t i = 0; i < cols.size(); ++i) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%20s", cols[i].c_str());  // YOLOv5: "%20s," per column
      if (i) h += ",";
      h += buf;
    }
    out << h << "\n";
  }
  std::vector<double> v{double(r.epoch), r.train_loss[0], r.train_loss[1], r.train_loss[2],
                        r.precision, r.recall, r.map50, r.map, r.val_loss[0], r.val_loss[1],
                        r.val_loss[2], r.lr[0], r.lr[1], r.lr[2]};
  std::string line;
  for (size_t i = 0; i < v.size(); ++i) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%20.5g", v[i]);  // YOLOv5: "%20.5g," per value
    if (i) line += ",";
    line += buf;
  }
  out << line << "\n";
  out.flush();
}

// Reads results.csv back (for plots and --resume): rows of numbers.
inline std::vector<EpochRow> read_results_csv(const std::filesystem::path& file) {
  std::vector<EpochRow> rows;
  std::ifstream in(file);
  if (!in) return rows;
  std::string line;
  std::getline(in, line);  // header
  int ln = 1;
  while (std::getline(in, line)) {
    ++ln;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::vector<double> v;
    size_t pos = 0;
    while (pos <= line.size()) {
      size_t comma = line.find(',', pos);
      std::string cell = line.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      try {
        v.push_back(std::stod(cell));
      } catch (...) {
        fail(file.string(), ":", ln, ": not a number: '", cell, "'");
      }
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
    YOLITE_CHECK(v.size() == 14, file.string(), ":", ln, ": expected 14 columns, got ", v.size());
    EpochRow r;
    r.epoch = int(v[0]);
    r.train_loss = {v[1], v[2], v[3]};
    r.precision = v[4], r.recall = v[5], r.map50 = v[6], r.map = v[7];
    r.val_loss = {v[8], v[9], v[10]};
    r.lr = {v[11], v[12], v[13]};
    rows.push_back(r);
  }
  return rows;
}

}  // namespace yolite::train
