// train/val_result.hpp -- ValResult: what validating a model on a labelled split gives
// (train/validate.hpp computes it; `yolite val` prints it; training keeps the last one).
#pragma once
#include <array>
#include <optional>
#include <string>
#include <vector>

#include "../core/detection.hpp"
#include "../eval/ap.hpp"
#include "../eval/coco_eval.hpp"
#include "../eval/confusion.hpp"
#include "../eval/match.hpp"

namespace yolite::train {

struct ValResult {
  eval::Metrics metrics;      // YOLOv5's rule (the table)
  eval::CocoResult coco;      // COCO-exact rule on the same detections
  std::array<double, 3> loss{};  // box, obj, cls (mean per batch), when requested
  int images = 0;
  int instances = 0;
  std::vector<int> instances_per_class;
  std::vector<int> images_per_class;
  std::optional<eval::ConfusionMatrix> confusion;
  double ms_pre = 0, ms_inf = 0, ms_nms = 0;  // per image
  // per image (keep_detections): path, original size, detections in original pixels
  struct ImageDets {
    std::string path;
    int index = 0;  // position of the image in the data set (its COCO export id is index + 1)
    int width = 0, height = 0;
    std::vector<Detection> dets;
    std::vector<eval::GtBox> labels;
  };
  std::vector<ImageDets> detections;
};

}  // namespace yolite::train
