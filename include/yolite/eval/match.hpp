// eval/match.hpp -- which detections are true positives (YOLOv5's val.py process_batch).
//
// For one image and each IoU threshold t in 0.50:0.05:0.95: every (label, detection) pair of
// the SAME class with IoU >= t is a candidate; candidates are taken in order of decreasing IoU,
// and each detection and each label is used at most once. A detection matched this way is a
// true positive at t. (COCO's rule differs -- it walks detections by score -- see
// eval/coco_eval.hpp.)
#pragma once
#include <algorithm>
#include <vector>

#include "../infer/detection.hpp"
#include "ap.hpp"

namespace yolite::eval {

// A ground-truth box in corner form (pixels) with its class.
struct GtBox {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  int cls = 0;
  bool iscrowd = false;  // COCO crowd regions (ignored by coco_eval; YOLOv5 has none)
};

inline std::vector<ScoredDetection> match_image(const std::vector<Detection>& dets,
                                                const std::vector<GtBox>& gts) {
  std::vector<ScoredDetection> out(dets.size());
  for (size_t d = 0; d < dets.size(); ++d) out[d].cls = dets[d].cls, out[d].score = dets[d].score;
  struct Pair {
    float iou;
    int gt, det;
  };
  std::vector<Pair> cand;
  for (size_t g = 0; g < gts.size(); ++g)
    for (size_t d = 0; d < dets.size(); ++d)
      if (gts[g].cls == dets[d].cls) {
        float iou = box_iou(gts[g], dets[d]);
        if (iou >= 0.5f) cand.push_back({iou, int(g), int(d)});
      }
  // decreasing IoU; ties keep (label, detection) order like numpy's stable argsort
  std::stable_sort(cand.begin(), cand.end(), [](const Pair& a, const Pair& b) { return a.iou > b.iou; });
  for (int t = 0; t < kNumIou; ++t) {
    float thr = float(iou_threshold(t));
    std::vector<char> gt_used(gts.size(), 0), det_used(dets.size(), 0);
    for (const Pair& p : cand) {
      if (p.iou < thr - 1e-7f || gt_used[size_t(p.gt)] || det_used[size_t(p.det)]) continue;
      gt_used[size_t(p.gt)] = det_used[size_t(p.det)] = 1;
      out[size_t(p.det)].tp[size_t(t)] = true;
    }
  }
  return out;
}

}  // namespace yolite::eval
