// eval/ap.hpp -- average precision, the two ways detectors are scored.
//
// Both start from the same facts: for every detection, its class, its score and whether it is
// a true positive at each IoU threshold 0.50, 0.55, ..., 0.95 (eval/match.hpp decides that),
// and the number of ground-truth boxes per class. Sorting by score gives the precision/recall
// curve; AP is the area under its upper envelope ("precision envelope": p(r) = max precision at
// any recall >= r). The conventions differ in how that area is measured:
//
// - YOLOv5 (val.py, utils/metrics.py compute_ap): append (recall 0, precision 1) in front and
//   (recall 1, precision 0) at the end, take the envelope, sample it at 101 recall points
//   0, 0.01, ..., 1 by linear interpolation and integrate with the trapezoid rule. When recall
//   never reaches 1 the ramp down to (1, 0) still adds a little area.
// - COCO (pycocotools COCOeval.accumulate): the envelope sampled at the same 101 recall points
//   by "first point whose recall >= r" (searchsorted, left), and 0 beyond the last detection's
//   recall; AP is the plain mean of the 101 samples.
//
// mAP@0.5 is the mean over classes of AP at IoU 0.5; mAP@0.5:0.95 the mean over classes and the
// ten thresholds. P and R (YOLOv5's table) are read at the confidence that maximises the mean
// F1 over classes (F1 curve smoothed with a box filter of 10% of its points).
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <vector>

namespace yolite::eval {

inline constexpr int kNumIou = 10;  // IoU thresholds 0.50:0.05:0.95
inline double iou_threshold(int i) { return 0.5 + 0.05 * i; }

// One detection after matching: its class, score, and TP flag at each IoU threshold.
struct ScoredDetection {
  int cls = 0;
  float score = 0;
  std::array<bool, kNumIou> tp{};
};

namespace internal {
// Linear interpolation exactly like numpy.interp, including its choice on repeated xp values
// (the last of equal xp <= x is the left end of the segment).
inline double interp(double x, const std::vector<double>& xp, const std::vector<double>& fp) {
  if (xp.empty()) return 0;
  if (x < xp.front()) return fp.front();
  if (x >= xp.back()) return fp.back();
  size_t j = size_t(std::upper_bound(xp.begin(), xp.end(), x) - xp.begin());
  size_t i = j - 1;
  double dx = xp[j] - xp[i];
  return dx > 0 ? fp[i] + (fp[j] - fp[i]) * (x - xp[i]) / dx : fp[j];
}
}  // namespace internal

// YOLOv5's compute_ap: recall/precision curves of one class at one IoU threshold -> AP.
inline double ap_yolov5(const std::vector<double>& recall, const std::vector<double>& precision) {
  std::vector<double> mrec{0.0}, mpre{1.0};
  mrec.insert(mrec.end(), recall.begin(), recall.end());
  mpre.insert(mpre.end(), precision.begin(), precision.end());
  mrec.push_back(1.0);
  mpre.push_back(0.0);
  for (size_t i = mpre.size() - 1; i > 0; --i) mpre[i - 1] = std::max(mpre[i - 1], mpre[i]);
  // trapezoid over 101 interpolated points
  double ap = 0, prev = internal::interp(0.0, mrec, mpre);
  for (int k = 1; k <= 100; ++k) {
    double x0 = (k - 1) * 0.01, x1 = k * 0.01;  // numpy.linspace(0, 1, 101), bit for bit
    double cur = internal::interp(x1, mrec, mpre);
    ap += 0.5 * (prev + cur) * (x1 - x0);          // numpy.trapz
    prev = cur;
  }
  return ap;
}

// COCO's 101-point rule for one class at one IoU threshold.
inline double ap_coco101(const std::vector<double>& recall, std::vector<double> precision) {
  for (size_t i = precision.size(); i-- > 1;)
    precision[i - 1] = std::max(precision[i - 1], precision[i]);
  double sum = 0;
  for (int k = 0; k <= 100; ++k) {
    double r = k * 0.01;  // numpy.linspace(0, 1, 101) values, bit for bit
    size_t idx = size_t(std::lower_bound(recall.begin(), recall.end(), r) - recall.begin());
    sum += idx < precision.size() ? precision[idx] : 0.0;
  }
  return sum / 101.0;
}

enum class ApRule { yolov5, coco };

struct ClassMetrics {
  int cls = 0;
  int n_gt = 0;     // ground-truth boxes of this class
  int n_pred = 0;   // detections of this class
  double p = 0, r = 0, f1 = 0;              // at the best-F1 confidence
  std::array<double, kNumIou> ap{};         // per IoU threshold
  double ap50() const { return ap[0]; }
  double ap50_95() const { return std::accumulate(ap.begin(), ap.end(), 0.0) / kNumIou; }
};

struct Metrics {
  std::vector<ClassMetrics> per_class;  // classes that have ground truth or detections
  double mp = 0, mr = 0, map50 = 0, map = 0;
  // Curves for plots (YOLOv5's PR_curve / F1_curve): 1000 points.
  std::vector<double> conf_axis;                 // 0..1 (F1/P/R vs confidence)
  std::vector<std::vector<double>> f1_curve;     // [class][1000]
  std::vector<double> recall_axis;               // 0..1
  std::vector<std::vector<double>> pr_curve;     // [class][1000] precision at IoU 0.5
  double fitness() const { return 0.1 * map50 + 0.9 * map; }
};

// ap_per_class: detections of the whole data set + ground-truth counts per class -> metrics.
// Classes with ground truth are scored; mean values are over those (as YOLOv5 and COCO do).
inline Metrics ap_per_class(std::vector<ScoredDetection> dets, const std::vector<int>& gt_per_class,
                            ApRule rule = ApRule::yolov5) {
  std::stable_sort(dets.begin(), dets.end(),
                   [](const ScoredDetection& a, const ScoredDetection& b) { return a.score > b.score; });
  Metrics m;
  const int npts = 1000;
  m.conf_axis.resize(npts);
  m.recall_axis.resize(npts);
  for (int i = 0; i < npts; ++i) m.conf_axis[size_t(i)] = m.recall_axis[size_t(i)] = i * (1.0 / (npts - 1));
  std::vector<std::vector<double>> p_curves, r_curves;
  const double eps = 1e-16;
  for (int c = 0; c < int(gt_per_class.size()); ++c) {
    int n_gt = gt_per_class[size_t(c)];
    std::vector<const ScoredDetection*> mine;
    for (auto& d : dets)
      if (d.cls == c) mine.push_back(&d);
    if (n_gt == 0) continue;  // nothing to find: not scored
    ClassMetrics cm;
    cm.cls = c, cm.n_gt = n_gt, cm.n_pred = int(mine.size());
    std::vector<double> pc(npts, 0.0), rc(npts, 0.0), pr50(npts, 0.0);
    if (!mine.empty()) {
      for (int t = 0; t < kNumIou; ++t) {
        std::vector<double> recall, precision;
        double tp = 0, fp = 0;
        for (auto* d : mine) {
          (d->tp[size_t(t)] ? tp : fp) += 1;
          recall.push_back(tp / (n_gt + eps));
          precision.push_back(tp / (tp + fp));
        }
        cm.ap[size_t(t)] = rule == ApRule::yolov5 ? ap_yolov5(recall, precision)
                                                   : ap_coco101(recall, precision);
        if (t == 0) {
          // P and R as functions of confidence (scores decrease along the list: interpolate on
          // the negated axis, like np.interp(-px, -conf, ...)), and the PR curve at IoU 0.5.
          std::vector<double> negconf, rec0, pre0;
          for (size_t i = 0; i < mine.size(); ++i) {
            negconf.push_back(-double(mine[i]->score));
            rec0.push_back(recall[i]);
            pre0.push_back(precision[i]);
          }
          for (int i = 0; i < npts; ++i) {
            double x = -m.conf_axis[size_t(i)];
            // np.interp(-px, -conf, recall, left=0); precision with left=1
            if (x < negconf.front()) {
              rc[size_t(i)] = 0, pc[size_t(i)] = 1;
            } else {
              rc[size_t(i)] = internal::interp(x, negconf, rec0);
              pc[size_t(i)] = internal::interp(x, negconf, pre0);
            }
          }
          std::vector<double> mrec{0.0}, mpre{1.0};
          mrec.insert(mrec.end(), recall.begin(), recall.end());
          mpre.insert(mpre.end(), precision.begin(), precision.end());
          mrec.push_back(1.0), mpre.push_back(0.0);
          for (size_t i = mpre.size() - 1; i > 0; --i) mpre[i - 1] = std::max(mpre[i - 1], mpre[i]);
          for (int i = 0; i < npts; ++i) pr50[size_t(i)] = internal::interp(m.recall_axis[size_t(i)], mrec, mpre);
        }
      }
    }
    m.per_class.push_back(cm);
    p_curves.push_back(pc);
    r_curves.push_back(rc);
    m.pr_curve.push_back(pr50);
  }
  if (m.per_class.empty()) return m;
  // F1 per class over confidence, mean over classes, smoothed, argmax -> operating point.
  const size_t nc = m.per_class.size();
  std::vector<double> f1_mean(npts, 0.0);
  for (size_t k = 0; k < nc; ++k) {
    std::vector<double> f1(npts);
    for (int i = 0; i < npts; ++i) {
      double p = p_curves[k][size_t(i)], r = r_curves[k][size_t(i)];
      f1[size_t(i)] = 2 * p * r / (p + r + eps);
      f1_mean[size_t(i)] += f1[size_t(i)] / double(nc);
    }
    m.f1_curve.push_back(f1);
  }
  // box filter of 10% of the points (YOLOv5's smooth(y, f=0.1)): nf = round(n*f*2)//2 + 1,
  // with the ends padded by the first / last value.
  int nf = int(std::lround(npts * 0.1 * 2)) / 2 + 1;
  int half = nf / 2;
  std::vector<double> smooth(npts, 0.0);
  for (int i = 0; i < npts; ++i) {
    double s = 0;
    for (int j = i - half; j <= i + half; ++j)
      s += f1_mean[size_t(std::clamp(j, 0, npts - 1))];
    smooth[size_t(i)] = s / nf;
  }
  size_t best = size_t(std::max_element(smooth.begin(), smooth.end()) - smooth.begin());
  for (size_t k = 0; k < nc; ++k) {
    auto& cm = m.per_class[k];
    cm.p = p_curves[k][best], cm.r = r_curves[k][best], cm.f1 = m.f1_curve[k][best];
    m.mp += cm.p / double(nc), m.mr += cm.r / double(nc);
    m.map50 += cm.ap50() / double(nc), m.map += cm.ap50_95() / double(nc);
  }
  return m;
}

}  // namespace yolite::eval
