// yolite split -- split images + YOLO labels into train/val/test in YOLOv5's layout.
//
//   yolite split --images DIR --labels DIR --out DIR [--ratios 0.8,0.1,0.1] [--seed 1]
//                [--mode copy|link|move] [--names classes.txt] [--stratify] [--exist-ok]
//
// Writes OUT/images/{train,val,test}/, OUT/labels/{train,val,test}/ and OUT/dataset.yaml.
// Same seed, same split; an image never leaves its label; nothing is written when a label is
// malformed; an existing non-empty OUT is refused without --exist-ok
// (include/yolite/data/split.hpp).
#include <charconv>
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include <yolite/core/error.hpp>
#include <yolite/data/split.hpp>
#include <yolite/data/yolo_txt.hpp>

#include "command.hpp"

namespace {

std::array<double, 3> parse_ratios(const std::string& s) {
  std::array<double, 3> r{0, 0, 0};
  size_t k = 0, pos = 0;
  while (true) {
    size_t end = s.find(',', pos);
    std::string part = s.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    double v = 0;
    auto res = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || res.ec != std::errc() || res.ptr != part.data() + part.size())
      yolite::fail("--ratios: '", part, "' is not a number (expected e.g. 0.8,0.1,0.1)");
    if (k == 3) yolite::fail("--ratios: at most 3 values (train,val,test), got '", s, "'");
    r[k++] = v;
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  if (k < 2) yolite::fail("--ratios: expected train,val[,test], got '", s, "'");
  return r;
}

int run_split(int argc, char** argv) {
  CLI::App app{"split images + YOLO labels into train/val/test (YOLOv5 layout + dataset.yaml)", "yolite split"};
  std::string images, labels, out, ratios = "0.8,0.1,0.1", mode = "copy", names;
  uint64_t seed = 1;
  bool stratify = false, exist_ok = false;
  app.add_option("--images", images, "folder of images (searched recursively)")->required();
  app.add_option("--labels", labels, "folder of YOLO label files (same relative paths, .txt)")->required();
  app.add_option("--out", out, "output folder")->required();
  app.add_option("--ratios", ratios, "train,val,test fractions summing to 1 (default 0.8,0.1,0.1)");
  app.add_option("--seed", seed, "shuffle seed (default 1; same seed -> same split)");
  app.add_option("--mode", mode, "copy, link (hard links) or move (default copy)");
  app.add_option("--names", names, "classes.txt with the class names (default: LABELS/classes.txt)");
  app.add_flag("--stratify", stratify, "keep each class's share alike in every part (by each image's rarest class)");
  app.add_flag("--exist-ok", exist_ok, "add to a non-empty output folder");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  namespace data = yolite::data;
  data::SplitOptions opt;
  opt.ratios = parse_ratios(ratios);
  opt.seed = seed;
  opt.mode = data::parse_transfer_mode(mode);
  opt.stratify = stratify;
  opt.exist_ok = exist_ok;
  if (!names.empty()) opt.names = data::read_class_names(names);
  auto res = data::split_dataset(images, labels, out, opt);
  std::printf("%s", res.text().c_str());
  return 0;
}

}  // namespace

YOLITE_COMMAND(split, "split images+labels into train/val/test (YOLOv5 layout)", run_split);
