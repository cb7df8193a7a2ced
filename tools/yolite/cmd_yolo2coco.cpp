// yolite yolo2coco -- export one split of a YOLO data set as a COCO json.
//
//   yolite yolo2coco --data dataset.yaml --task test --out test.json
//
// Image, annotation and category ids start at 1 (so pycocotools can match them), category
// id = class + 1, bbox in pixels from each image's size, area = w * h, iscrowd = 0
// (include/yolite/data/convert.hpp). The file is written through a temporary name.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include <yolite/data/coco.hpp>
#include <yolite/data/convert.hpp>
#include <yolite/data/dataset_yaml.hpp>

#include "command.hpp"

namespace {

int run_yolo2coco(int argc, char** argv) {
  CLI::App app{"export a split of a YOLO data set (dataset yaml) as COCO json", "yolite yolo2coco"};
  std::string data_yaml, task = "val", out;
  app.add_option("--data", data_yaml, "dataset yaml (path/train/val/test/names)")->required();
  app.add_option("--task", task, "split to export: train, val or test (default val)")
      ->check(CLI::IsMember({"train", "val", "test"}));
  app.add_option("--out", out, "output COCO json")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  namespace data = yolite::data;
  auto dy = data::read_dataset_yaml(data_yaml);
  auto coco = data::yolo_to_coco(dy, task);
  data::write_coco(out, coco, "yolite yolo2coco " + data_yaml + " (" + task + ")");
  std::printf("wrote %s: %zu images, %zu annotations, %zu categories\n", out.c_str(), coco.images.size(),
              coco.annotations.size(), coco.categories.size());
  return 0;
}

}  // namespace

YOLITE_COMMAND(yolo2coco, "export a YOLO data set split as COCO json", run_yolo2coco);
