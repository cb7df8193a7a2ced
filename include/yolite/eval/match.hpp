// eval/match.hpp -- which detections are true positives: YOLOv5 v7.0 val.py's process_batch.
//
// Input: one image's detections in NMS order (decreasing score, as non_max_suppression returns
// them) and its labels. For each IoU threshold t in 0.50:0.05:0.95 val.py does, in numpy:
//
//   1. candidates = all (label, detection) pairs of the SAME class with IoU >= t;
//   2. sort them by decreasing IoU, keep each DETECTION's first row (its best-IoU label);
//      np.unique leaves the rows ordered by detection index, i.e. by decreasing score;
//   3. keep each LABEL's first row in that order: its highest-scoring detection;
//   4. the detections left are the true positives at t.
//
// Written as a loop that is the same thing: every detection has one best label (the same at
// every threshold, since the best pair passes t whenever any pair of that detection does);
// walking detections by index, a detection is a TP at t when its best IoU >= t and no earlier
// detection already took that label at t. There is no fallback: a detection whose best label
// is taken is a false positive even if it overlaps another free label. So a confident box at
// IoU 0.8 beats a low-score near-duplicate at IoU 0.95 -- greedy-by-IoU assignment gives the
// duplicate the TP instead and under-reports mAP.
//
// IoU is computed as val.py's box_iou does in float32: inter / (area1 + area2 - inter + 1e-7).
// Thresholds are torch.linspace(0.5, 0.95, 10) in float32. Exact IoU ties between two labels of
// one detection (duplicate labels) go to the later label, as numpy's sort-then-reverse does on
// small arrays. (COCO's rule differs -- it walks detections by score and lets a detection take
// its best FREE label -- see eval/coco_eval.hpp.)
#pragma once
#include <algorithm>
#include <array>
#include <vector>

#include "../core/detection.hpp"
#include "ap.hpp"

namespace yolite::eval {

// A ground-truth box in corner form (pixels) with its class.
struct GtBox {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  int cls = 0;
  bool iscrowd = false;  // COCO crowd regions (ignored by coco_eval; YOLOv5 has none)
};

// val.py's IoU, float32 with its eps (so the comparisons with the thresholds agree with it).
inline float iou_valpy(const GtBox& a, const Detection& b) {
  const float iw = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
  const float ih = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
  const float inter = std::max(iw, 0.f) * std::max(ih, 0.f);
  const float area_a = (a.x2 - a.x1) * (a.y2 - a.y1);
  const float area_b = (b.x2 - b.x1) * (b.y2 - b.y1);
  return inter / (area_a + area_b - inter + 1e-7f);
}

// torch.linspace(0.5, 0.95, 10) in float32: step = (end - start) / 9; the first half counts up
// from start, the second half down from end.
inline std::array<float, kNumIou> iou_thresholds_f32() {
  std::array<float, kNumIou> t{};
  const float start = 0.5f, end = 0.95f, step = (end - start) / float(kNumIou - 1);
  for (int i = 0; i < kNumIou; ++i)
    t[size_t(i)] = i < kNumIou / 2 ? start + step * float(i) : end - step * float(kNumIou - 1 - i);
  return t;
}

// dets must be in NMS order (decreasing score); returns one ScoredDetection per detection.
inline std::vector<ScoredDetection> match_image(const std::vector<Detection>& dets,
                                                const std::vector<GtBox>& gts) {
  static const std::array<float, kNumIou> thr = iou_thresholds_f32();
  std::vector<ScoredDetection> out(dets.size());
  std::vector<int> best_gt(dets.size(), -1);
  std::vector<float> best_iou(dets.size(), -1.f);
  for (size_t d = 0; d < dets.size(); ++d) {
    out[d].cls = dets[d].cls, out[d].score = dets[d].score;
    for (size_t g = 0; g < gts.size(); ++g) {
      if (gts[g].cls != dets[d].cls) continue;
      const float iou = iou_valpy(gts[g], dets[d]);
      if (iou >= thr[0] && iou >= best_iou[d]) best_iou[d] = iou, best_gt[d] = int(g);  // ties: later label
    }
  }
  std::vector<char> taken(gts.size());
  for (int t = 0; t < kNumIou; ++t) {
    std::fill(taken.begin(), taken.end(), char(0));
    for (size_t d = 0; d < dets.size(); ++d) {
      if (best_gt[d] < 0 || !(best_iou[d] >= thr[size_t(t)])) continue;
      char& used = taken[size_t(best_gt[d])];
      if (used) continue;  // the label's TP is an earlier (higher-scoring) detection: no fallback
      used = 1;
      out[d].tp[size_t(t)] = true;
    }
  }
  return out;
}

}  // namespace yolite::eval
