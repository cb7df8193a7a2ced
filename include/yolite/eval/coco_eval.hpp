// eval/coco_eval.hpp -- COCO-exact bounding-box AP (pycocotools COCOeval, iouType "bbox").
//
// The rules reproduced, per category and image (area range "all", maxDets 100):
//   * detections sorted by score (stable), only the first max_dets kept per image and class;
//   * each detection, in that order, takes the unmatched ground truth with the highest IoU
//     >= threshold (crowd boxes may be matched repeatedly and are ignored, never counted);
//   * per category the detections of all images are merged, stably sorted by score, and
//     precision/recall accumulated; AP = mean of the precision envelope at 101 recall points,
//     0 past the last recall (eval/ap.hpp ap_coco101);
//   * categories without ground truth are left out of the mean.
// Ground-truth ids are only positions here, so an annotation "id 0" cannot be mistaken for
// "unmatched" (pycocotools' own pitfall, see DESIGN.md).
#pragma once
#include <algorithm>
#include <array>
#include <map>
#include <numeric>
#include <vector>

#include "ap.hpp"
#include "match.hpp"

namespace yolite::eval {

struct CocoImage {
  std::vector<GtBox> gts;
  std::vector<Detection> dets;
};

struct CocoResult {
  std::map<int, std::array<double, kNumIou>> ap;  // category -> AP per IoU threshold
  double map50 = 0, map = 0;                      // means over categories with ground truth
};

inline CocoResult coco_evaluate(const std::vector<CocoImage>& images, int max_dets = 100) {
  struct Entry {
    float score;
    std::array<bool, kNumIou> tp;  // else fp
    std::array<bool, kNumIou> ignore;
  };
  std::map<int, std::vector<Entry>> per_cat;
  std::map<int, int> npig;  // non-ignored ground truth per category
  for (const CocoImage& im : images) {
    std::map<int, std::vector<int>> gt_by_cat, dt_by_cat;
    for (size_t g = 0; g < im.gts.size(); ++g) gt_by_cat[im.gts[g].cls].push_back(int(g));
    for (size_t d = 0; d < im.dets.size(); ++d) dt_by_cat[im.dets[d].cls].push_back(int(d));
    for (auto& [c, gi] : gt_by_cat) {
      for (int g : gi) npig[c] += im.gts[size_t(g)].iscrowd ? 0 : 1;
      per_cat[c];  // category seen
    }
    for (auto& [c, di] : dt_by_cat) {
      std::stable_sort(di.begin(), di.end(), [&](int a, int b) {
        return im.dets[size_t(a)].score > im.dets[size_t(b)].score;
      });
      if (int(di.size()) > max_dets) di.resize(size_t(max_dets));
      std::vector<int> gi = gt_by_cat.count(c) ? gt_by_cat[c] : std::vector<int>{};
      // ground truth sorted with non-crowd first (pycocotools sorts by ignore flag)
      std::stable_sort(gi.begin(), gi.end(), [&](int a, int b) {
        return !im.gts[size_t(a)].iscrowd && im.gts[size_t(b)].iscrowd;
      });
      std::vector<Entry> entries(di.size());
      for (int t = 0; t < kNumIou; ++t) {
        double thr = iou_threshold(t);
        std::vector<char> taken(gi.size(), 0);
        for (size_t k = 0; k < di.size(); ++k) {
          const Detection& d = im.dets[size_t(di[k])];
          double best = std::min(thr, 1 - 1e-10);
          int m = -1;
          for (size_t j = 0; j < gi.size(); ++j) {
            const GtBox& g = im.gts[size_t(gi[j])];
            if (taken[j] && !g.iscrowd) continue;
            if (m > -1 && !im.gts[size_t(gi[size_t(m)])].iscrowd && g.iscrowd) break;
            double iou = box_iou(g, d);
            if (g.iscrowd) {  // crowd: intersection over the detection's area
              float iw = std::min(g.x2, d.x2) - std::max(g.x1, d.x1);
              float ih = std::min(g.y2, d.y2) - std::max(g.y1, d.y1);
              iou = (iw > 0 && ih > 0 && d.area() > 0) ? double(iw) * ih / d.area() : 0.0;
            }
            if (iou < best) continue;
            best = iou;
            m = int(j);
          }
          entries[k].score = d.score;
          if (m >= 0) {
            taken[size_t(m)] = 1;
            entries[k].tp[size_t(t)] = true;
            entries[k].ignore[size_t(t)] = im.gts[size_t(gi[size_t(m)])].iscrowd;
          }
        }
      }
      auto& v = per_cat[c];
      v.insert(v.end(), entries.begin(), entries.end());
    }
  }
  CocoResult res;
  int ncat = 0;
  for (auto& [c, entries] : per_cat) {
    if (npig[c] == 0) continue;
    std::stable_sort(entries.begin(), entries.end(),
                     [](const Entry& a, const Entry& b) { return a.score > b.score; });
    std::array<double, kNumIou> ap{};
    for (int t = 0; t < kNumIou; ++t) {
      std::vector<double> recall, precision;
      double tp = 0, fp = 0;
      for (const Entry& e : entries) {
        if (e.ignore[size_t(t)]) continue;
        (e.tp[size_t(t)] ? tp : fp) += 1;
        recall.push_back(tp / npig[c]);
        precision.push_back(tp / (tp + fp + 2.220446049250313e-16));
      }
      ap[size_t(t)] = ap_coco101(recall, precision);
    }
    res.ap[c] = ap;
    res.map50 += ap[0];
    res.map += std::accumulate(ap.begin(), ap.end(), 0.0) / kNumIou;
    ++ncat;
  }
  if (ncat) res.map50 /= ncat, res.map /= ncat;
  return res;
}

}  // namespace yolite::eval
