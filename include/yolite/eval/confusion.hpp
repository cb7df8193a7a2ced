// eval/confusion.hpp -- the detection confusion matrix (YOLOv5's ConfusionMatrix).
//
// (nc + 1) x (nc + 1) counts, rows = predicted class, columns = true class; the extra row and
// column are "background": a label no detection found (column c, row nc) and a detection that
// matches no label (row c, column nc). Detections below conf (0.25) are ignored; a detection
// and a label match at IoU > iou_thres (0.45), best IoU first, each used once.
#pragma once
#include <algorithm>
#include <vector>

#include "match.hpp"

namespace yolite::eval {

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int nc, float conf = 0.25f, float iou_thres = 0.45f)
      : nc_(nc), conf_(conf), iou_(iou_thres), m_(size_t(nc + 1) * size_t(nc + 1), 0) {}

  void add_image(const std::vector<Detection>& dets_all, const std::vector<GtBox>& gts) {
    std::vector<Detection> dets;
    for (auto& d : dets_all)
      if (d.score > conf_) dets.push_back(d);
    struct Pair {
      float iou;
      int g, d;
    };
    std::vector<Pair> cand;
    for (size_t g = 0; g < gts.size(); ++g)
      for (size_t d = 0; d < dets.size(); ++d) {
        float iou = box_iou(gts[g], dets[d]);
        if (iou > iou_) cand.push_back({iou, int(g), int(d)});
      }
    std::stable_sort(cand.begin(), cand.end(), [](const Pair& a, const Pair& b) { return a.iou > b.iou; });
    std::vector<int> gt_match(gts.size(), -1), det_used(dets.size(), 0);
    for (auto& p : cand) {
      if (gt_match[size_t(p.g)] >= 0 || det_used[size_t(p.d)]) continue;
      gt_match[size_t(p.g)] = p.d;
      det_used[size_t(p.d)] = 1;
    }
    for (size_t g = 0; g < gts.size(); ++g) {
      int tc = gts[g].cls;
      if (gt_match[g] >= 0)
        at(dets[size_t(gt_match[g])].cls, tc) += 1;
      else
        at(nc_, tc) += 1;  // missed: predicted background
    }
    for (size_t d = 0; d < dets.size(); ++d)
      if (!det_used[d]) at(dets[d].cls, nc_) += 1;  // background predicted as a class
  }

  int nc() const { return nc_; }
  double& at(int pred, int truth) { return m_[size_t(pred) * size_t(nc_ + 1) + size_t(truth)]; }
  double at(int pred, int truth) const { return m_[size_t(pred) * size_t(nc_ + 1) + size_t(truth)]; }

 private:
  int nc_;
  float conf_, iou_;
  std::vector<double> m_;
};

}  // namespace yolite::eval
