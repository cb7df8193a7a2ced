// loss/yolo_loss.hpp -- YOLOv5's training loss (utils/loss.py ComputeLoss, v7.0) as ONE autograd
// node with a hand-written backward.
//
//   loss::LossConfig cfg = loss::scale_loss_gains(loss::LossConfig{}, /*nc=*/5, /*nl=*/3, 320);
//   auto out = loss::yolo_loss<float>(maps, targets, loss::yolov5_anchors_px(), {8, 16, 32}, cfg);
//   out.total.backward();          // d loss / d map lands in maps[l].grad()
//   out.items                      // {lbox, lobj, lcls} with gains, not times the batch size
//
// Inputs. maps[l] is the Detect head's raw 1x1-conv output of level l, a Var of shape
// [B, na*no, ny, nx] with channel a*no + k, k in (x, y, w, h, obj, cls0, ..., cls{nc-1}),
// no = nc + 5. targets is [nt, 6]: (image index in batch, class, cx, cy, w, h), normalised.
// anchors_px[l] are level l's anchors in pixels and strides[l] its stride.
//
// Forward, per level l with positives from build_targets (loss/assign.hpp), p = the no logits of
// positive k at (b, a, gj, gi), s = sigmoid:
//   pxy = 2 s(p_xy) - 0.5, pwh = (2 s(p_wh))^2 * anchor             (grid units)
//   ciou_k = CIoU(pbox, tbox_k)                                        (loss/iou.hpp)
//   lbox += mean_k (1 - ciou_k)
//   tobj[b, a, gj, gi] = (1 - gr) + gr * max(ciou_k, 0)  (a constant; 0 at every other cell)
//   lcls += mean over (n x nc) of BCE(p_cls, t), t = cp at the class, cn elsewhere (nc > 1 only;
//           cp = 1 - 0.5*label_smoothing, cn = 0.5*label_smoothing, YOLOv5's smooth_BCE)
//   lobj += balance[l] * mean over all B*na*ny*nx cells of BCE(p_obj, tobj)
// then lbox *= box, lobj *= obj, lcls *= cls; items = (lbox, lobj, lcls);
// total = B * (lbox + lobj + lcls).
//
// BCE(x, y) is BCEWithLogits with pos_weight w:  (1 - y) x + (1 + (w - 1) y) softplus(-x),
//   dBCE/dx = (1 - y) - (1 + (w - 1) y) (1 - s(x))            (= s(x) - y when w = 1).
// With fl_gamma > 0 it is wrapped in YOLOv5's FocalLoss (alpha = 0.25):
//   F = BCE * af * m,  p_t = y s + (1 - y)(1 - s),  af = y alpha + (1 - y)(1 - alpha),
//   m = (1 - p_t)^gamma;  dF/dx = af (dBCE/dx m + BCE dm/dx),
//   dm/dx = -gamma (1 - p_t)^(gamma - 1) (2y - 1) s (1 - s).
//
// Backward (d total / d map), all times B and the upstream gradient:
//   every cell's obj logit:  obj * balance[l] / (B*na*ny*nx) * dBCE/dx(x, tobj)
//   positive k's class logits: cls / (n*nc) * dBCE/dx(x, t)
//   positive k's box logits:   -box / n * d ciou / d pbox * d pbox / d logit, where
//     d pxy / dx = 2 s (1 - s),  d pwh / dx = 8 s^2 (1 - s) * anchor
//   and d ciou / d pbox holds CIoU's alpha constant (YOLOv5 computes it under no_grad).
// tobj is a constant: the CIoU that sets it passes no gradient through the obj term.
//
// Data-parallel training (each process holds a part of the batch): with BatchTotals (the whole
// batch's image count and positives per level), every mean above is taken over the whole batch
// -- divided by its positives and its B*na*ny*nx cells -- and total = B_whole * (...), so the
// processes' totals and gradients add up to those of the whole batch on one process: every
// map gradient is the same number, and items are this process's share of the whole batch's.
// (YOLOv5's DDP divides by each process's own positives instead, which depends on the split.)
//
// Arithmetic is in double whatever T is (gradients are stored as T); sums run in a fixed order
// (per (image, anchor) plane in parallel, then the planes in order), so results do not depend on
// the thread count.
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../autograd/variable.hpp"
#include "../core/error.hpp"
#include "../core/parallel.hpp"
#include "../core/tensor.hpp"
#include "assign.hpp"
#include "iou.hpp"

namespace yolite::loss {

// The loss hyperparameters (hyp.scratch-low.yaml defaults, before train.py scales them).
struct LossConfig {
  double box = 0.05, obj = 1.0, cls = 0.5, cls_pw = 1.0, obj_pw = 1.0, anchor_t = 4.0,
         fl_gamma = 0.0, label_smoothing = 0.0;
  std::array<double, 3> balance{4.0, 1.0, 0.4};  // objectness weight of P3, P4, P5
  double gr = 1.0;                                // iou ratio: tobj = (1 - gr) + gr * iou
};

// The gains as train.py scales them for nc classes, nl detection levels and image size imgsz:
// box *= 3/nl, cls *= nc/80 * 3/nl, obj *= (imgsz/640)^2 * 3/nl.
inline LossConfig scale_loss_gains(LossConfig cfg, int nc, int nl, int imgsz) {
  YOLITE_CHECK(nc > 0 && nl > 0 && imgsz > 0, "scale_loss_gains: nc=", nc, ", nl=", nl,
               ", imgsz=", imgsz, "; all must be positive");
  cfg.box *= 3.0 / nl;
  cfg.cls *= double(nc) / 80.0 * 3.0 / nl;
  double r = double(imgsz) / 640.0;
  cfg.obj *= r * r * 3.0 / nl;
  return cfg;
}

// The quantities YOLOv5 detaches, per level and positive: CIoU's alpha and the objectness
// target written at the positive's cell. Backward treats them as constants; passing them back
// into yolo_loss_assigned makes the loss a function of the maps whose exact derivative is what
// backward computes (that is how the finite-difference tests check it).
struct DetachedValues {
  std::vector<std::vector<double>> alpha, tobj;  // [level][positive]
};

// The whole batch when this process holds a part of it (see above).
struct BatchTotals {
  int64_t images = 0;              // images in the whole batch
  std::vector<int64_t> positives;  // positives per level in the whole batch
};

template <class T>
struct YoloLossOutput {
  Var<T> total;                  // [1]: B * (lbox + lobj + lcls); backward() from here
  std::array<double, 3> items{};  // lbox, lobj, lcls with gains, not times the batch size
  DetachedValues detached;        // the constants used (see above)
};

namespace detail {

inline double sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  double e = std::exp(x);
  return e / (1.0 + e);
}

// BCE-with-logits (pos_weight pw), optionally focal-wrapped; value and d/dx.
struct Bce {
  double pw = 1.0, gamma = 0.0, alpha = 0.25;
  double value(double x, double y) const {
    double sp = std::log1p(std::exp(-std::abs(x))) + std::max(-x, 0.0);  // softplus(-x)
    double l = (1.0 - y) * x + (1.0 + (pw - 1.0) * y) * sp;
    if (gamma <= 0) return l;
    double s = sigmoid(x);
    double pt = y * s + (1.0 - y) * (1.0 - s);
    double af = y * alpha + (1.0 - y) * (1.0 - alpha);
    return l * af * std::pow(1.0 - pt, gamma);
  }
  double grad(double x, double y) const {
    double s = sigmoid(x);
    double lw = 1.0 + (pw - 1.0) * y;
    double dl = (1.0 - y) - lw * (1.0 - s);
    if (gamma <= 0) return dl;
    double sp = std::log1p(std::exp(-std::abs(x))) + std::max(-x, 0.0);
    double l = (1.0 - y) * x + lw * sp;
    double pt = y * s + (1.0 - y) * (1.0 - s);
    double af = y * alpha + (1.0 - y) * (1.0 - alpha);
    double q = 1.0 - pt;
    double m = std::pow(q, gamma);
    double dm = q > 0 ? -gamma * std::pow(q, gamma - 1.0) * (2.0 * y - 1.0) * s * (1.0 - s) : 0.0;
    return af * (dl * m + l * dm);
  }
};

// f(plane) for every (image, anchor) plane of `size` cells: in parallel when there is enough
// work to pay for a parallel region, else serially. Each plane's result is the same either way.
template <class F>
void for_planes(int64_t planes, int64_t size, F&& f) {
  if (planes * size >= (int64_t(1) << 15)) {
    parallel_for(0, planes, f);
  } else {
    for (int64_t i = 0; i < planes; ++i) f(i);
  }
}

// Everything forward learns that backward needs, per level.
template <class T>
struct LevelState {
  Tensor<T> map;                 // the raw map (shares the Var's storage)
  int64_t B = 0, na = 0, no = 0, ny = 0, nx = 0;
  LevelTargets<T> tg;            // positives
  std::vector<double> alpha;     // CIoU alpha per positive (a constant)
  std::vector<double> tobj;      // [B*na*ny*nx] objectness targets
  double balance = 1.0;
  double npos = 0;               // the positives the box and class means divide by
};

}  // namespace detail

// The loss from explicit positives: levels[l] as build_targets makes them, na_per_level[l] the
// number of anchors of level l. yolo_loss below builds the positives and calls this. With
// `detached`, CIoU's alpha and the positives' objectness targets are taken from it instead of
// being computed (see DetachedValues).
template <class T>
YoloLossOutput<T> yolo_loss_assigned(const std::vector<Var<T>>& maps,
                                     std::vector<LevelTargets<T>> levels,
                                     const std::vector<int64_t>& na_per_level,
                                     const LossConfig& cfg,
                                     const DetachedValues* detached = nullptr,
                                     const BatchTotals* totals = nullptr) {
  using namespace detail;
  const size_t nl = maps.size();
  YOLITE_CHECK(nl >= 1 && nl <= cfg.balance.size(), "yolo_loss: ", nl,
               " maps; expected 1..", cfg.balance.size(), " levels (one balance weight each)");
  YOLITE_CHECK(levels.size() == nl && na_per_level.size() == nl, "yolo_loss: ", nl,
               " maps but ", levels.size(), " levels of targets and ", na_per_level.size(),
               " levels of anchors");
  auto st = std::make_shared<std::vector<LevelState<T>>>(nl);
  int64_t B = -1, nc = -1;
  for (size_t l = 0; l < nl; ++l) {
    const Tensor<T>& m = maps[l].value();
    const int64_t na = na_per_level[l];
    YOLITE_CHECK(m.ndim() == 4 && na > 0 && m.size(1) % na == 0 && m.size(1) / na > 5,
                 "yolo_loss: map ", l, " has shape ", m.shape().str(), ", expected [B, ", na,
                 "*(5+nc), ny, nx] with nc >= 1");
    auto& s = (*st)[l];
    s.map = m;
    s.B = m.size(0);
    s.na = na;
    s.no = m.size(1) / na;
    s.ny = m.size(2);
    s.nx = m.size(3);
    s.tg = std::move(levels[l]);
    s.balance = cfg.balance[l];
    if (B < 0) B = s.B, nc = s.no - 5;
    YOLITE_CHECK(s.B == B && s.no - 5 == nc, "yolo_loss: map ", l, " has shape ",
                 m.shape().str(), " (batch ", s.B, ", ", s.no - 5, " classes); map 0 has batch ",
                 B, ", ", nc, " classes");
    for (size_t k = 0; k < s.tg.size(); ++k) {
      const auto& id = s.tg.idx[k];
      YOLITE_CHECK(id[0] >= 0 && id[0] < B, "yolo_loss: a target has image index ", id[0],
                   ", expected 0..", B - 1, " (batch size ", B, ")");
      YOLITE_CHECK(s.tg.cls[k] >= 0 && s.tg.cls[k] < nc, "yolo_loss: a target has class ",
                   s.tg.cls[k], ", expected 0..", nc - 1);
      YOLITE_CHECK(id[1] >= 0 && id[1] < na && id[2] >= 0 && id[2] < s.ny && id[3] >= 0 &&
                       id[3] < s.nx,
                   "yolo_loss: positive ", k, " of level ", l, " at (b, a, gj, gi) = (", id[0],
                   ", ", id[1], ", ", id[2], ", ", id[3], ") lies outside map ", m.shape().str());
    }
  }
  // what the means divide by: this batch, or the whole batch of a data-parallel step
  const int64_t Bn = totals ? totals->images : B;
  if (totals) {
    YOLITE_CHECK(totals->positives.size() == nl && totals->images >= B, "yolo_loss: the batch totals (",
                 totals->images, " images, ", totals->positives.size(), " levels) do not cover this part (",
                 B, " images, ", nl, " levels)");
    for (size_t l = 0; l < nl; ++l)
      YOLITE_CHECK(totals->positives[l] >= int64_t((*st)[l].tg.size()), "yolo_loss: the batch totals have ",
                   totals->positives[l], " positives at level ", l, ", this part alone ", (*st)[l].tg.size());
  }
  for (size_t l = 0; l < nl; ++l)
    (*st)[l].npos = totals ? double(totals->positives[l]) : double((*st)[l].tg.size());
  if (detached)
    for (size_t l = 0; l < nl; ++l)
      YOLITE_CHECK(detached->alpha.size() == nl && detached->tobj.size() == nl &&
                       detached->alpha[l].size() == (*st)[l].tg.size() &&
                       detached->tobj[l].size() == (*st)[l].tg.size(),
                   "yolo_loss: the detached values do not match the positives of level ", l);
  const double cp = 1.0 - 0.5 * cfg.label_smoothing, cn = 0.5 * cfg.label_smoothing;
  const Bce bce_cls{cfg.cls_pw, cfg.fl_gamma}, bce_obj{cfg.obj_pw, cfg.fl_gamma};
  // Offset of logit k of (b, a, gj, gi) in a [B, na*no, ny, nx] map.
  auto at = [](const LevelState<T>& s, int64_t b, int64_t a, int64_t gj, int64_t gi, int64_t k) {
    return ((b * s.na * s.no + a * s.no + k) * s.ny + gj) * s.nx + gi;
  };

  double lbox = 0, lobj = 0, lcls = 0;
  YoloLossOutput<T> out;
  out.detached.alpha.resize(nl);
  out.detached.tobj.resize(nl);
  for (size_t l = 0; l < nl; ++l) {
    auto& s = (*st)[l];
    const T* p = s.map.data();
    const int64_t n = int64_t(s.tg.size());
    const int64_t plane = s.ny * s.nx;
    s.tobj.assign(size_t(s.B * s.na * plane), 0.0);
    if (n > 0) {
      double box_sum = 0, cls_sum = 0;
      for (int64_t k = 0; k < n; ++k) {
        const auto& id = s.tg.idx[k];
        auto logit = [&](int64_t c) { return double(p[at(s, id[0], id[1], id[2], id[3], c)]); };
        std::array<double, 4> pbox{2.0 * sigmoid(logit(0)) - 0.5, 2.0 * sigmoid(logit(1)) - 0.5,
                                   0, 0};
        double sw = 2.0 * sigmoid(logit(2)), sh = 2.0 * sigmoid(logit(3));
        pbox[2] = sw * sw * double(s.tg.anchor[k][0]);
        pbox[3] = sh * sh * double(s.tg.anchor[k][1]);
        const auto& tb = s.tg.box[k];
        std::array<double, 4> tbox{double(tb[0]), double(tb[1]), double(tb[2]), double(tb[3])};
        const CiouTerms<double> terms = ciou_terms(pbox, tbox);
        const double alpha = detached ? detached->alpha[l][size_t(k)] : terms.alpha;
        const double ciou = terms.ciou_with_alpha(alpha);
        box_sum += 1.0 - ciou;
        const double to = detached ? detached->tobj[l][size_t(k)]
                                   : (1.0 - cfg.gr) + cfg.gr * std::max(ciou, 0.0);
        s.alpha.push_back(alpha);
        out.detached.alpha[l].push_back(alpha);
        out.detached.tobj[l].push_back(to);
        // Positives sharing a cell: the last one's target stays, as with torch's index_put.
        s.tobj[size_t((id[0] * s.na + id[1]) * plane + id[2] * s.nx + id[3])] = to;
        if (nc > 1)
          for (int64_t c = 0; c < nc; ++c)
            cls_sum += bce_cls.value(logit(5 + c), c == s.tg.cls[k] ? cp : cn);
      }
      lbox += box_sum / s.npos;
      if (nc > 1) lcls += cls_sum / (s.npos * double(nc));
    }
    // Objectness over every cell: one partial sum per (b, a) plane, then the planes in order.
    std::vector<double> part(size_t(s.B * s.na), 0.0);
    for_planes(s.B * s.na, plane, [&](int64_t ba) {
      const T* x = p + ((ba / s.na) * s.na * s.no + (ba % s.na) * s.no + 4) * plane;
      const double* t = s.tobj.data() + ba * plane;
      double acc = 0;
      for (int64_t i = 0; i < plane; ++i) acc += bce_obj.value(double(x[i]), t[i]);
      part[size_t(ba)] = acc;
    });
    double obj_sum = 0;
    for (double v : part) obj_sum += v;
    lobj += s.balance * obj_sum / double(Bn * s.na * plane);
  }
  out.items = {lbox * cfg.box, lobj * cfg.obj, lcls * cfg.cls};
  Tensor<T> total({1});
  total[0] = T(double(Bn) * (out.items[0] + out.items[1] + out.items[2]));

  // ---- backward: d total / d maps[l], scaled by the upstream gradient.
  out.total = ag::make_result<T>(
      total, maps, "yolo_loss",
      [st, cfg, Bn, nc, cp, cn, bce_cls, bce_obj, at](Node<T>& self) {
        const double seed = double(self.grad[0]) * double(Bn);
        for (size_t l = 0; l < st->size(); ++l) {
          Tensor<T>* g = ag::grad_of(self, l);
          if (!g) continue;
          const auto& s = (*st)[l];
          const T* p = s.map.data();
          T* gp = g->data();
          const int64_t plane = s.ny * s.nx;
          // objectness: every cell
          const double cobj = seed * cfg.obj * s.balance / double(Bn * s.na * plane);
          for_planes(s.B * s.na, plane, [&](int64_t ba) {
            const int64_t off = ((ba / s.na) * s.na * s.no + (ba % s.na) * s.no + 4) * plane;
            const double* t = s.tobj.data() + ba * plane;
            for (int64_t i = 0; i < plane; ++i)
              gp[off + i] += T(cobj * bce_obj.grad(double(p[off + i]), t[i]));
          });
          const int64_t n = int64_t(s.tg.size());
          if (n == 0) continue;
          const double cbox = -seed * cfg.box / s.npos;
          const double ccls = seed * cfg.cls / (s.npos * double(nc));
          for (int64_t k = 0; k < n; ++k) {  // serial: positives may share a cell
            const auto& id = s.tg.idx[k];
            auto idx = [&](int64_t c) { return at(s, id[0], id[1], id[2], id[3], c); };
            double sx = sigmoid(double(p[idx(0)])), sy = sigmoid(double(p[idx(1)]));
            double sw = sigmoid(double(p[idx(2)])), sh = sigmoid(double(p[idx(3)]));
            const double aw = double(s.tg.anchor[k][0]), ah = double(s.tg.anchor[k][1]);
            std::array<double, 4> pbox{2 * sx - 0.5, 2 * sy - 0.5, 4 * sw * sw * aw,
                                       4 * sh * sh * ah};
            const auto& tb = s.tg.box[k];
            std::array<double, 4> tbox{double(tb[0]), double(tb[1]), double(tb[2]), double(tb[3])};
            std::array<double, 4> d{};
            box_iou_grad(pbox, tbox, IoUKind::CIoU, d, 1e-7,
                         std::optional<double>(s.alpha[size_t(k)]));
            gp[idx(0)] += T(cbox * d[0] * 2 * sx * (1 - sx));
            gp[idx(1)] += T(cbox * d[1] * 2 * sy * (1 - sy));
            gp[idx(2)] += T(cbox * d[2] * 8 * sw * sw * (1 - sw) * aw);
            gp[idx(3)] += T(cbox * d[3] * 8 * sh * sh * (1 - sh) * ah);
            if (nc > 1)
              for (int64_t c = 0; c < nc; ++c)
                gp[idx(5 + c)] +=
                    T(ccls * bce_cls.grad(double(p[idx(5 + c)]), c == s.tg.cls[k] ? cp : cn));
          }
        }
      });
  return out;
}

// The positives of every level (build_targets, loss/assign.hpp) for the maps' grids, after
// checking the targets; na[l] is the number of anchors of level l.
template <class T>
struct Assignment {
  std::vector<LevelTargets<T>> levels;
  std::vector<int64_t> na;
  std::vector<int64_t> counts() const {
    std::vector<int64_t> n;
    for (auto& l : levels) n.push_back(int64_t(l.size()));
    return n;
  }
};

template <class T>
Assignment<T> assign_targets(const std::vector<Var<T>>& maps, const Tensor<T>& targets,
                             const AnchorSet& anchors_px, const std::vector<double>& strides,
                             const LossConfig& cfg) {
  YOLITE_CHECK(maps.size() == anchors_px.size(), "yolo_loss: ", maps.size(), " maps but ",
               anchors_px.size(), " levels of anchors");
  YOLITE_CHECK(targets.ndim() == 2 && targets.size(1) == 6, "yolo_loss: targets has shape ",
               targets.shape().str(), ", expected [nt, 6] rows (image, class, cx, cy, w, h)");
  for (int64_t t = 0; t < targets.size(0); ++t)
    for (int c = 0; c < 6; ++c)
      YOLITE_CHECK(std::isfinite(double(targets.at(t, c))), "yolo_loss: targets row ", t,
                   " column ", c, " is ", double(targets.at(t, c)), ", expected a finite number");
  std::vector<GridSize> grids;
  std::vector<int64_t> na;
  for (size_t l = 0; l < maps.size(); ++l) {
    const auto& s = maps[l].shape();
    YOLITE_CHECK(s.ndim() == 4, "yolo_loss: map ", l, " has shape ", s.str(),
                 ", expected [B, na*(5+nc), ny, nx]");
    grids.push_back({s[2], s[3]});
    na.push_back(int64_t(anchors_px[l].size()));
  }
  // Every label must name an image of the batch and a class of the head, assigned or not.
  const int64_t B = maps[0].shape()[0];
  const int64_t nc = na[0] > 0 ? maps[0].shape()[1] / na[0] - 5 : 0;
  for (int64_t t = 0; t < targets.size(0); ++t) {
    double b = double(targets.at(t, 0)), c = double(targets.at(t, 1));
    YOLITE_CHECK(b >= 0 && b < double(B) && b == std::floor(b), "yolo_loss: targets row ", t,
                 " has image index ", b, ", expected an integer in 0..", B - 1);
    YOLITE_CHECK(c >= 0 && c < double(nc) && c == std::floor(c), "yolo_loss: targets row ", t,
                 " has class ", c, ", expected an integer in 0..", nc - 1);
  }
  auto anchors = anchors_in_grid_units<T>(anchors_px, strides);
  return {build_targets<T>(targets, grids, anchors, cfg.anchor_t), std::move(na)};
}

// YOLOv5's ComputeLoss: builds the targets and returns the loss node. anchors_px[l] has level
// l's anchors in pixels; strides[l] its stride (8, 16, 32). With totals: this batch is a part
// of a data-parallel step's whole batch (see the top of this file).
template <class T>
YoloLossOutput<T> yolo_loss(const std::vector<Var<T>>& maps, const Tensor<T>& targets,
                            const AnchorSet& anchors_px, const std::vector<double>& strides,
                            const LossConfig& cfg, const BatchTotals* totals = nullptr) {
  Assignment<T> a = assign_targets<T>(maps, targets, anchors_px, strides, cfg);
  return yolo_loss_assigned<T>(maps, std::move(a.levels), a.na, cfg, nullptr, totals);
}

}  // namespace yolite::loss
