// model/spec.hpp -- the YOLOv5 layer table and its n/s/m/l/x scales (YOLOv5's yaml semantics).
//
//   model::ModelSpec s = model::yolov5_spec("s");   // also "yolov5s", "yolov5s.yaml"
//   s.layers[2]   // {from {-1}, repeats 3, block "C3", args {"128"}}
//   model::scale_channels(128, s.width_multiple)    // ceil(128*0.5/8)*8 = 64
//   model::scale_repeats(9, s.depth_multiple)       // max(round(9*0.33), 1) = 3
//
// A spec is what a YOLOv5 model yaml holds: depth/width multiples, anchors (pixels, per level
// flattened (w,h) pairs), and one row per layer: from (-1 = previous layer, other negative
// numbers count back from the current layer, non-negative ones are absolute indices),
// repeats, block name and arguments (kept as the yaml's text: "128", "False", "nearest",
// "None", "nc", "anchors"). The model (yolo.hpp) builds the network from it at run time.
// Blocks understood by the builder: Conv, C3, SPPF, nn.Upsample / Upsample, Concat, Detect.
#pragma once
#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "../core/error.hpp"

namespace yolite::model {

struct LayerSpec {
  std::vector<int> from;           // e.g. {-1} or {-1, 6} or {17, 20, 23}
  int repeats = 1;                 // before depth scaling
  std::string block;               // "Conv", "C3", ...
  std::vector<std::string> args;   // the yaml's arguments, as text
};

struct ModelSpec {
  std::string name;                // "yolov5s" (or the yaml file's stem)
  double depth_multiple = 1.0;
  double width_multiple = 1.0;
  int nc = 80;                     // the yaml's class count (the model may override it)
  std::vector<std::vector<double>> anchors;  // per level: w0,h0, w1,h1, ... (pixels)
  std::vector<LayerSpec> layers;   // backbone then head
  size_t backbone_size = 0;        // how many of `layers` are the backbone
};

// YOLOv5's make_divisible(c * w, 8): channels c -> ceil(c*w/8)*8.
inline int scale_channels(int c, double width_multiple) {
  return int(std::ceil(double(c) * width_multiple / 8.0)) * 8;
}
// YOLOv5's repeats: n > 1 -> max(round(n*d), 1) (Python's round: half to even); n <= 1 -> n.
inline int scale_repeats(int n, double depth_multiple) {
  if (n <= 1) return n;
  return std::max(int(std::nearbyint(double(n) * depth_multiple)), 1);
}

// The default YOLOv5 anchors (pixels) for P3/8, P4/16, P5/32.
inline std::vector<std::vector<double>> yolov5_default_anchors() {
  return {{10, 13, 16, 30, 33, 23}, {30, 61, 62, 45, 59, 119}, {116, 90, 156, 198, 373, 326}};
}

// The layer table of models/yolov5{n,s,m,l,x}.yaml (v6.0+; the five differ only in scale).
inline std::vector<LayerSpec> yolov5_layers() {
  return {
      // backbone
      {{-1}, 1, "Conv", {"64", "6", "2", "2"}},   // 0-P1/2
      {{-1}, 1, "Conv", {"128", "3", "2"}},       // 1-P2/4
      {{-1}, 3, "C3", {"128"}},                   // 2
      {{-1}, 1, "Conv", {"256", "3", "2"}},       // 3-P3/8
      {{-1}, 6, "C3", {"256"}},                   // 4
      {{-1}, 1, "Conv", {"512", "3", "2"}},       // 5-P4/16
      {{-1}, 9, "C3", {"512"}},                   // 6
      {{-1}, 1, "Conv", {"1024", "3", "2"}},      // 7-P5/32
      {{-1}, 3, "C3", {"1024"}},                  // 8
      {{-1}, 1, "SPPF", {"1024", "5"}},           // 9
      // head
      {{-1}, 1, "Conv", {"512", "1", "1"}},                   // 10
      {{-1}, 1, "nn.Upsample", {"None", "2", "nearest"}},     // 11
      {{-1, 6}, 1, "Concat", {"1"}},                          // 12 cat backbone P4
      {{-1}, 3, "C3", {"512", "False"}},                      // 13
      {{-1}, 1, "Conv", {"256", "1", "1"}},                   // 14
      {{-1}, 1, "nn.Upsample", {"None", "2", "nearest"}},     // 15
      {{-1, 4}, 1, "Concat", {"1"}},                          // 16 cat backbone P3
      {{-1}, 3, "C3", {"256", "False"}},                      // 17 (P3/8-small)
      {{-1}, 1, "Conv", {"256", "3", "2"}},                   // 18
      {{-1, 14}, 1, "Concat", {"1"}},                         // 19 cat head P4
      {{-1}, 3, "C3", {"512", "False"}},                      // 20 (P4/16-medium)
      {{-1}, 1, "Conv", {"512", "3", "2"}},                   // 21
      {{-1, 10}, 1, "Concat", {"1"}},                         // 22 cat head P5
      {{-1}, 3, "C3", {"1024", "False"}},                     // 23 (P5/32-large)
      {{17, 20, 23}, 1, "Detect", {"nc", "anchors"}},         // 24 Detect(P3, P4, P5)
  };
}

// (depth_multiple, width_multiple) of a scale letter n/s/m/l/x.
inline std::pair<double, double> yolov5_scale(char scale) {
  switch (scale) {
    case 'n': return {0.33, 0.25};
    case 's': return {0.33, 0.50};
    case 'm': return {0.67, 0.75};
    case 'l': return {1.00, 1.00};
    case 'x': return {1.33, 1.25};
  }
  fail("yolov5 scale '", scale, "': expected one of n, s, m, l, x");
}

// True when `name` is a built-in model name: "n".."x", "yolov5n".."yolov5x", "yolov5s.yaml",
// optionally with a directory in front ("models/yolov5s.yaml").
inline bool is_builtin_name(std::string_view name, char* scale = nullptr) {
  if (auto slash = name.find_last_of("/\\"); slash != std::string_view::npos)
    name = name.substr(slash + 1);
  if (name.size() > 5 && name.substr(name.size() - 5) == ".yaml") name.remove_suffix(5);
  else if (name.size() > 4 && name.substr(name.size() - 4) == ".yml") name.remove_suffix(4);
  if (name.size() == 7 && name.substr(0, 6) == "yolov5") name = name.substr(6);
  if (name.size() != 1 || std::string_view("nsmlx").find(name[0]) == std::string_view::npos)
    return false;
  if (scale) *scale = name[0];
  return true;
}

// The spec of a built-in model; see is_builtin_name for the accepted spellings.
inline ModelSpec yolov5_spec(std::string_view name) {
  char scale = 0;
  if (!is_builtin_name(name, &scale))
    fail("model '", name, "': not a built-in model (expected yolov5n, yolov5s, yolov5m, yolov5l, ",
         "yolov5x, optionally with .yaml, or a scale letter n/s/m/l/x)");
  ModelSpec s;
  s.name = std::string("yolov5") + scale;
  std::tie(s.depth_multiple, s.width_multiple) = yolov5_scale(scale);
  s.nc = 80;
  s.anchors = yolov5_default_anchors();
  s.layers = yolov5_layers();
  s.backbone_size = 10;
  return s;
}

}  // namespace yolite::model
