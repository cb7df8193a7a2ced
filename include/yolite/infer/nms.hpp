// infer/nms.hpp -- non-maximum suppression, as YOLOv5's utils/general.py does it.
//
// Input: the decoded network output of ONE image, `rows` rows of `no` = 5 + nc floats
// (cx, cy, w, h in input pixels, objectness, nc class probabilities, all already sigmoided):
// exactly what the Detect head returns in inference mode.
//
//   1. candidates: objectness > conf_thres;
//   2. score = objectness * class probability; with multi_label every (box, class) pair whose
//      score > conf_thres is a candidate, otherwise only the best class of each box;
//   3. optional class filter; keep the max_nms highest scores;
//   4. greedy NMS per class (boxes of different classes are moved apart by class * 7680 px
//      unless agnostic), dropping a box whose IoU with a kept one is > iou_thres;
//   5. at most max_det detections, highest score first.
#pragma once
#include <algorithm>
#include <numeric>
#include <vector>

#include "../core/error.hpp"
#include "../core/detection.hpp"

namespace yolite {

struct NmsOptions {
  float conf_thres = 0.25f;  // detect.py: 0.25; val.py: 0.001
  float iou_thres = 0.45f;   // detect.py: 0.45; val.py: 0.6
  int max_det = 300;
  bool multi_label = false;  // val.py: true
  bool agnostic = false;
  std::vector<int> classes;  // keep only these classes (empty = all)
  int max_nms = 30000;       // boxes that enter the NMS at most
};

// Greedy NMS over boxes already sorted by descending score; returns the kept indices in order.
// Class-aware (YOLOv5 shifts each class by class * 7680 px so classes never overlap): a box
// only suppresses boxes of its own class, unless `agnostic`.
inline std::vector<int> greedy_nms(const std::vector<Detection>& sorted, float iou_thres,
                                   bool agnostic) {
  std::vector<int> keep;
  std::vector<char> dead(sorted.size(), 0);
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (dead[i]) continue;
    keep.push_back(int(i));
    for (size_t j = i + 1; j < sorted.size(); ++j)
      if (!dead[j] && (agnostic || sorted[j].cls == sorted[i].cls) &&
          box_iou(sorted[i], sorted[j]) > iou_thres)
        dead[j] = 1;
  }
  return keep;
}

// NMS over one image's decoded predictions `pred` (rows x no floats, row-major).
inline std::vector<Detection> non_max_suppression(const float* pred, int64_t rows, int no,
                                                  const NmsOptions& opt = {}) {
  YOLITE_CHECK(no > 5, "non_max_suppression: rows of ", no, " values, expected 5 + classes");
  YOLITE_CHECK(opt.conf_thres >= 0 && opt.conf_thres <= 1 && opt.iou_thres >= 0 &&
                   opt.iou_thres <= 1,
               "non_max_suppression: thresholds must lie in [0, 1] (conf ", opt.conf_thres,
               ", iou ", opt.iou_thres, ")");
  const int nc = no - 5;
  auto wanted = [&](int c) {
    return opt.classes.empty() ||
           std::find(opt.classes.begin(), opt.classes.end(), c) != opt.classes.end();
  };
  std::vector<Detection> cand;
  for (int64_t r = 0; r < rows; ++r) {
    const float* p = pred + r * no;
    float obj = p[4];
    if (!(obj > opt.conf_thres)) continue;
    Detection d;
    d.x1 = p[0] - p[2] / 2, d.y1 = p[1] - p[3] / 2;
    d.x2 = p[0] + p[2] / 2, d.y2 = p[1] + p[3] / 2;
    if (opt.multi_label) {
      for (int c = 0; c < nc; ++c) {
        float s = p[5 + c] * obj;
        if (s > opt.conf_thres && wanted(c)) {
          d.score = s, d.cls = c;
          cand.push_back(d);
        }
      }
    } else {
      int best = 0;
      for (int c = 1; c < nc; ++c)
        if (p[5 + c] > p[5 + best]) best = c;
      float s = p[5 + best] * obj;
      if (s > opt.conf_thres && wanted(best)) {
        d.score = s, d.cls = best;
        cand.push_back(d);
      }
    }
  }
  std::stable_sort(cand.begin(), cand.end(),
                   [](const Detection& a, const Detection& b) { return a.score > b.score; });
  if (int(cand.size()) > opt.max_nms) cand.resize(size_t(opt.max_nms));
  std::vector<int> keep = greedy_nms(cand, opt.iou_thres, opt.agnostic);
  std::vector<Detection> out;
  for (int i : keep) {
    if (int(out.size()) >= opt.max_det) break;
    out.push_back(cand[size_t(i)]);
  }
  return out;
}

}  // namespace yolite
