// data/dataset.hpp -- the in-memory form of a labelled data set, shared by every data/ file.
//
// One Sample per image: where it is, its pixel size (0 when not yet known) and its boxes in
// YOLO form (class index from 0, centre and size normalised to [0, 1] by the image size).
// COCO import, YOLO txt import, split, stats, the loader and the evaluator all speak this.
#pragma once
#include <string>
#include <vector>

namespace yolite::data {

struct Box {
  int cls = 0;                         // 0 .. nc-1
  float cx = 0, cy = 0, w = 0, h = 0;  // normalised to [0, 1]
};

struct Sample {
  std::string image_path;  // absolute, or relative to the data set root
  std::string label_path;  // YOLO txt file ("" when the labels came from elsewhere)
  int width = 0, height = 0;
  std::vector<Box> boxes;
};

struct Dataset {
  std::vector<std::string> names;  // class names, index = class id
  std::vector<Sample> samples;
  int nc() const { return int(names.size()); }
};

}  // namespace yolite::data
