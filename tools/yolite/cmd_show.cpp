// yolite show -- a contact sheet of random labelled images: look at a data set before training.
//
//   yolite show bottles/coco_instances.json --out sheet.jpg [--images bottles/images_raw] [--n 16]
//   yolite show data/bottles.yaml --out sheet.jpg [--split val]
//   yolite show datasets/bottles/images/train --out sheet.jpg [--names classes.txt]
//
// DATA is a COCO json (images from --images, default: images_raw/ or images/ beside the json,
// else the json's folder), a dataset yaml (one split), or a folder of images with YOLO labels
// (labels found as YOLOv5 finds them; class names from --names or a classes.txt beside the
// images or their labels, else numbers). n images are drawn at random (--seed) and tiled
// ceil(sqrt(n)) wide, each with its boxes and class names in the class colours.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <yolite/core/error.hpp>
#include <yolite/core/rng.hpp>
#include <yolite/data/coco.hpp>
#include <yolite/data/dataset_yaml.hpp>
#include <yolite/data/image_io.hpp>
#include <yolite/data/yolo_txt.hpp>
#include <yolite/viz/colors.hpp>
#include <yolite/viz/draw.hpp>
#include <yolite/viz/grid.hpp>

#include "command.hpp"

namespace {

namespace fs = std::filesystem;
using namespace yolite;

std::string ext_lower(const fs::path& p) {
  std::string e = p.extension().string();
  for (auto& c : e) c = char(std::tolower(static_cast<unsigned char>(c)));
  return e;
}

data::Dataset load_coco_source(const fs::path& json, std::string images) {
  if (images.empty()) {
    fs::path dir = json.parent_path();
    if (dir.empty()) dir = ".";
    images = fs::is_directory(dir / "images_raw") ? (dir / "images_raw").string()
             : fs::is_directory(dir / "images")   ? (dir / "images").string()
                                                  : dir.string();
  }
  data::CocoReport rep;
  data::Coco coco = data::read_coco(json, {.images_dir = images, .skip_invalid = true}, &rep);
  if (rep.defects || rep.clipped) std::fprintf(stderr, "%s", rep.summary().c_str());
  return data::coco_to_dataset(coco, images);
}

data::Dataset load_yolo_folder(const fs::path& dir, const std::string& names_file) {
  data::Dataset ds;
  int max_cls = -1;
  for (auto& img : data::list_images(dir)) {
    data::Sample s;
    s.image_path = img.string();
    s.label_path = data::img2label_path(img).string();
    if (fs::is_regular_file(s.label_path)) s.boxes = data::read_yolo_labels(s.label_path);
    for (auto& b : s.boxes) max_cls = std::max(max_cls, b.cls);
    ds.samples.push_back(std::move(s));
  }
  if (ds.samples.empty()) fail(dir.string(), ": no images found");
  fs::path names = names_file;
  if (names.empty()) {
    fs::path label_dir = data::img2label_path(ds.samples[0].image_path).parent_path();
    for (fs::path cand : {dir / "classes.txt", dir.parent_path() / "classes.txt", label_dir / "classes.txt",
                          label_dir.parent_path() / "classes.txt"})
      if (fs::is_regular_file(cand)) {
        names = cand;
        break;
      }
  }
  if (!names.empty()) ds.names = data::read_class_names(names);
  for (int k = int(ds.names.size()); k <= max_cls; ++k) ds.names.push_back(std::to_string(k));
  return ds;
}

int run_show(int argc, char** argv) {
  CLI::App app{"draw random labelled images of a data set into one contact sheet", "yolite show"};
  std::string source, out, images, split = "train", names;
  int n = 16, cell = 320;
  uint64_t seed = 0;
  app.add_option("DATA", source, "COCO json, dataset yaml, or a folder of images with YOLO labels")->required();
  app.add_option("--out", out, "output image (.jpg or .png)")->required();
  app.add_option("--n", n, "number of images (default 16: a 4x4 sheet)");
  app.add_option("--images", images, "image folder of a COCO json");
  app.add_option("--split", split, "split of a dataset yaml: train, val or test (default train)");
  app.add_option("--names", names, "classes.txt for a folder of YOLO labels");
  app.add_option("--seed", seed, "which random images");
  app.add_option("--cell", cell, "cell size in pixels (default 320)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (n < 1 || n > 400) fail("--n must be 1..400, got ", n);
  if (cell < 32 || cell > 4096) fail("--cell must be 32..4096, got ", cell);
  fs::path src(source);
  if (!fs::exists(src)) fail(source, ": not found");
  data::Dataset ds;
  std::string e = ext_lower(src);
  if (fs::is_directory(src)) ds = load_yolo_folder(src, names);
  else if (e == ".json") ds = load_coco_source(src, images);
  else if (e == ".yaml" || e == ".yml") ds = data::load_yolo_split(data::read_dataset_yaml(src), split, false);
  else fail(source, ": expected a .json (COCO), a .yaml (dataset) or a folder of images");
  if (ds.samples.empty()) fail(source, ": the data set has no images");

  std::vector<size_t> order(ds.samples.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  Rng rng(seed);
  rng.shuffle(order.begin(), order.end());
  order.resize(std::min(order.size(), size_t(n)));
  std::vector<Image> tiles;
  std::vector<std::string> titles;
  for (size_t i : order) {
    const data::Sample& s = ds.samples[i];
    Image img = data::load_image(s.image_path);
    int thick = std::max(1, std::max(img.w, img.h) / 320);
    for (auto& b : s.boxes) {
      std::string label = b.cls >= 0 && b.cls < ds.nc() ? ds.names[size_t(b.cls)] : std::to_string(b.cls);
      float x0 = (b.cx - b.w / 2) * float(img.w), y0 = (b.cy - b.h / 2) * float(img.h);
      float x1 = (b.cx + b.w / 2) * float(img.w), y1 = (b.cy + b.h / 2) * float(img.h);
      viz::draw_box_label(img, x0, y0, x1, y1, label, viz::class_color(b.cls), thick, thick);
    }
    tiles.push_back(std::move(img));
    titles.push_back(fs::path(s.image_path).filename().string());
  }
  viz::GridOptions g;
  g.cell_w = g.cell_h = cell;
  g.cols = int(std::ceil(std::sqrt(double(tiles.size()))));
  data::save_image(out, viz::make_grid(tiles, g, titles), 90);
  std::printf("yolite show: %zu of %zu images, %d classes -> %s\n", tiles.size(), ds.samples.size(), ds.nc(),
              out.c_str());
  return 0;
}

}  // namespace

YOLITE_COMMAND(show, "draw random labelled images of a data set in a grid", run_show);
