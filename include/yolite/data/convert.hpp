// data/convert.hpp -- COCO json <-> YOLO label files.
//
//   auto coco = data::read_coco("instances.json", {.images_dir = "images"});
//   data::coco_to_yolo(coco, "labels");            // labels/<image stem>.txt + labels/classes.txt
//
//   auto dy = data::read_dataset_yaml("data.yaml");
//   data::write_coco("test.json", data::yolo_to_coco(dy, "test"));
//
// COCO -> YOLO: classes come from coco_classes() (sorted category ids -> 0..nc-1, Roboflow
// group categories left out); each box becomes `class cx cy w h` normalised by its image's
// width/height from the json, written in double precision (shortest exact text); every image
// gets a label file, empty when it has no boxes; iscrowd annotations are left out (counted).
// The label file of `dir/a.jpg` is `<out>/dir/a.txt`. The whole output is built in a staging
// folder and moved into place at the end: an error leaves nothing behind.
//
// YOLO -> COCO, for pycocotools and other tools: image ids, annotation ids and category ids
// all start at 1 (pycocotools treats id 0 as "no match"), category id = class + 1, bbox in
// pixels [x, y, w, h] from the image size read from the image header, area = w * h,
// iscrowd = 0. file_name is the image path relative to the split's folder (or to the dataset
// root for .txt lists). The round trip COCO -> YOLO -> COCO keeps every box to ~1e-15.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "coco.hpp"
#include "dataset_yaml.hpp"
#include "fs.hpp"
#include "image_io.hpp"
#include "yolo_txt.hpp"

namespace yolite::data {

struct CocoToYoloSummary {
  size_t images = 0, boxes = 0, empty_images = 0, crowd_skipped = 0;
  std::vector<std::string> names;
  std::filesystem::path out_dir;
  std::string text() const {
    return str(images, " label files (", empty_images, " empty) with ", boxes, " boxes, ", names.size(),
               " classes -> ", out_dir.string(), crowd_skipped ? str(" (", crowd_skipped, " crowd annotations left out)") : "");
  }
};

// Where the label file of a COCO file_name goes, relative to the output folder. Absolute names
// and names climbing out with `..` keep only their file name.
inline std::filesystem::path label_relpath(const std::string& file_name) {
  std::filesystem::path p(file_name);
  bool climbs = false;
  for (auto& part : p) climbs |= part == "..";
  if (p.is_absolute() || climbs) p = p.filename();
  return p.replace_extension(".txt");
}

// The YOLO rows of every image of `c` (in image order), from a validated Coco.
inline std::vector<std::vector<LabelRow>> coco_label_rows(const Coco& c, const CocoClasses& cls, size_t* crowd = nullptr) {
  std::unordered_map<int64_t, size_t> at;
  for (size_t i = 0; i < c.images.size(); ++i) at[c.images[i].id] = i;
  std::vector<std::vector<LabelRow>> rows(c.images.size());
  size_t ncrowd = 0;
  for (auto& a : c.annotations) {
    if (a.iscrowd) {
      ++ncrowd;
      continue;
    }
    auto it = at.find(a.image_id);
    auto ci = cls.index.find(a.category_id);
    YOLITE_CHECK(it != at.end() && ci != cls.index.end(), "coco_to_yolo: annotation ", a.id,
                 " refers to a missing image or category (validate with read_coco first)");
    const auto& im = c.images[it->second];
    const auto& b = a.bbox;
    double W = im.width, H = im.height;
    rows[it->second].push_back(LabelRow{ci->second, (b[0] + b[2] / 2) / W, (b[1] + b[3] / 2) / H, b[2] / W, b[3] / H});
  }
  if (crowd) *crowd = ncrowd;
  return rows;
}

// Writes out_dir/<stem>.txt for every image and out_dir/classes.txt. Refuses an existing
// non-empty out_dir unless exist_ok (then files of the same name are replaced).
inline CocoToYoloSummary coco_to_yolo(const Coco& c, const std::filesystem::path& out_dir, bool exist_ok = false) {
  if (!exist_ok && !empty_or_missing(out_dir))
    fail(out_dir.string(), ": output folder exists and is not empty (use exist_ok / --exist-ok to write into it)");
  CocoClasses cls = coco_classes(c);
  if (cls.nc() == 0) fail("coco_to_yolo: the COCO file has no categories that can be classes");
  CocoToYoloSummary sum;
  auto rows = coco_label_rows(c, cls, &sum.crowd_skipped);
  // two images must not share a label file
  std::map<std::filesystem::path, size_t> owner;
  for (size_t i = 0; i < c.images.size(); ++i) {
    auto rel = label_relpath(c.images[i].file_name);
    auto [it, fresh] = owner.emplace(rel, i);
    if (!fresh)
      fail("coco_to_yolo: images '", c.images[it->second].file_name, "' and '", c.images[i].file_name,
           "' would share the label file ", rel.string());
    if (rel == "classes.txt") fail("coco_to_yolo: image '", c.images[i].file_name, "' would overwrite classes.txt");
  }
  StagingDir stage(out_dir);
  for (size_t i = 0; i < c.images.size(); ++i) {
    write_yolo_rows(stage.path() / label_relpath(c.images[i].file_name), rows[i]);
    sum.boxes += rows[i].size();
    sum.empty_images += rows[i].empty();
  }
  write_class_names(stage.path() / "classes.txt", cls.names);
  stage.commit();
  sum.images = c.images.size();
  sum.names = cls.names;
  sum.out_dir = out_dir;
  return sum;
}

// One image for yolo_to_coco: its path, its label file ("" or missing = no boxes) and the
// file_name to record.
struct YoloImage {
  std::filesystem::path image, label;
  std::string file_name;
};

// Builds a COCO (ids from 1) from images and their YOLO label files; sizes from image headers.
inline Coco yolo_to_coco(const std::vector<YoloImage>& items, const std::vector<std::string>& names) {
  Coco c;
  for (size_t k = 0; k < names.size(); ++k) c.categories.push_back({int64_t(k) + 1, names[k], ""});
  int64_t ann_id = 1;
  for (size_t i = 0; i < items.size(); ++i) {
    const auto& it = items[i];
    auto sz = image_size(it.image);
    CocoImage im{int64_t(i) + 1, it.file_name, sz.w, sz.h};
    std::error_code ec;
    if (!it.label.empty() && std::filesystem::is_regular_file(it.label, ec)) {
      for (auto& r : read_yolo_rows(it.label, int(names.size()))) {
        double w = r.w * sz.w, h = r.h * sz.h;
        CocoAnnotation a;
        a.id = ann_id++;
        a.image_id = im.id;
        a.category_id = r.cls + 1;
        a.bbox = {(r.cx - r.w / 2) * sz.w, (r.cy - r.h / 2) * sz.h, w, h};
        a.area = w * h;
        c.annotations.push_back(a);
      }
    }
    c.images.push_back(std::move(im));
  }
  return c;
}

// A split of a dataset yaml as COCO (see the top of this file).
inline Coco yolo_to_coco(const DatasetYaml& d, std::string_view split) {
  std::vector<YoloImage> items;
  auto srcs = d.sources(split);
  if (srcs.empty()) fail(d.yaml_path.string(), ": no '", split, "' split in the dataset yaml");
  for (auto& src : srcs) {
    std::error_code ec;
    std::filesystem::path base = std::filesystem::is_directory(src, ec) ? src : d.root;
    for (auto& img : list_images(src)) {
      auto rel = img.lexically_relative(base);
      std::string fname = (rel.empty() || *rel.begin() == "..") ? img.string() : rel.generic_string();
      items.push_back({img, img2label_path(img), fname});
    }
  }
  return yolo_to_coco(items, d.names);
}

}  // namespace yolite::data
