// yolite stats -- what is in a data set: images, boxes, classes, sizes (pylabel's analyze).
//
//   yolite stats instances.json [--images DIR]   a COCO json (defects are reported, not fatal)
//   yolite stats dataset.yaml [--split val]      each split of a dataset yaml (or one)
//   yolite stats labels/                         a folder of YOLO labels (+ classes.txt), or a
//                                                folder of images with labels beside them
// (include/yolite/data/stats.hpp)
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>

#include <yolite/core/error.hpp>
#include <yolite/data/coco.hpp>
#include <yolite/data/dataset_yaml.hpp>
#include <yolite/data/image_io.hpp>
#include <yolite/data/stats.hpp>
#include <yolite/data/yolo_txt.hpp>

#include "command.hpp"

namespace {
namespace fs = std::filesystem;
namespace data = yolite::data;

// A folder of label files (or of images whose labels sit at img2label paths).
data::Dataset folder_dataset(const fs::path& dir) {
  data::Dataset ds;
  std::vector<fs::path> images, labels;
  for (auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    if (data::is_image_file(e.path())) images.push_back(e.path());
    else if (e.path().extension() == ".txt" && e.path().filename() != "classes.txt") labels.push_back(e.path());
  }
  std::sort(images.begin(), images.end());
  std::sort(labels.begin(), labels.end());
  for (auto cand : {dir / "classes.txt", dir.parent_path() / "classes.txt"})
    if (fs::is_regular_file(cand)) {
      ds.names = data::read_class_names(cand);
      break;
    }
  int nc = ds.names.empty() ? -1 : int(ds.names.size());
  if (!images.empty()) {
    for (auto& img : images) {
      data::Sample s;
      s.image_path = img.string();
      auto lab = data::img2label_path(img);  // images/x.jpg -> labels/x.txt (or x.txt beside it)
      if (fs::is_regular_file(lab)) s.label_path = lab.string(), s.boxes = data::read_yolo_labels(lab, nc);
      auto sz = data::image_size(img);
      s.width = sz.w, s.height = sz.h;
      ds.samples.push_back(std::move(s));
    }
  } else {
    if (labels.empty()) yolite::fail(dir.string(), ": no images and no YOLO label files (.txt) found");
    for (auto& lab : labels) {
      data::Sample s;
      s.label_path = lab.string();
      s.boxes = data::read_yolo_labels(lab, nc);
      ds.samples.push_back(std::move(s));
    }
  }
  if (ds.names.empty()) {
    int maxc = -1;
    for (auto& s : ds.samples)
      for (auto& b : s.boxes) maxc = std::max(maxc, b.cls);
    for (int c = 0; c <= maxc; ++c) ds.names.push_back(yolite::str("class", c));
  }
  return ds;
}

int run_stats(int argc, char** argv) {
  CLI::App app{"statistics of a data set: a COCO json, a dataset yaml or a folder of YOLO labels", "yolite stats"};
  std::string input, images, split;
  app.add_option("DATA", input, "COCO .json, dataset .yaml, or a folder")->required();
  app.add_option("--images", images, "COCO only: image folder (checks that the files exist)");
  app.add_option("--split", split, "yaml only: one split (train, val or test); default all")
      ->check(CLI::IsMember({"train", "val", "test"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  fs::path p(input);
  std::string ext = p.extension().string();
  if (fs::is_directory(p)) {
    std::printf("%s", data::format_stats(data::compute_stats(folder_dataset(p)), input).c_str());
  } else if (ext == ".json") {
    data::CocoOptions opt;
    opt.images_dir = images;
    opt.skip_invalid = true;  // statistics describe the usable part; the report lists the rest
    data::CocoReport rep;
    auto coco = data::read_coco(p, opt, &rep);
    std::printf("%s\n", rep.summary().c_str());
    std::printf("%s", data::format_stats(data::compute_stats(data::coco_to_dataset(coco, images)), input).c_str());
  } else if (ext == ".yaml" || ext == ".yml") {
    auto dy = data::read_dataset_yaml(p);
    bool any = false;
    for (const char* s : {"train", "val", "test"}) {
      if ((!split.empty() && split != s) || (split.empty() && dy.split(s).empty())) continue;
      auto ds = data::load_yolo_split(dy, s);
      std::printf("%s\n", data::format_stats(data::compute_stats(ds), input + " [" + s + "]").c_str());
      any = true;
    }
    if (!any) yolite::fail(input, ": no split '", split, "' in the dataset yaml");
  } else if (!fs::exists(p)) {
    yolite::fail(input, ": not found");
  } else {
    yolite::fail(input, ": expected a COCO .json, a dataset .yaml or a folder of YOLO labels");
  }
  return 0;
}

}  // namespace

YOLITE_COMMAND(stats, "statistics of a data set (COCO json, dataset yaml, labels folder)", run_stats);
