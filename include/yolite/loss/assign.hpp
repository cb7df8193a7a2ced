// loss/assign.hpp -- YOLOv5's build_targets: which (image, anchor, cell) predicts which label.
//
//   std::vector<loss::GridSize> grids{{40, 40}, {20, 20}, {10, 10}};   // (ny, nx) per level
//   auto anchors = loss::anchors_in_grid_units<float>(loss::yolov5_anchors_px(), {8, 16, 32});
//   auto levels = loss::build_targets<float>(targets /*[nt, 6]*/, grids, anchors, 4.0);
//   levels[0].idx[k]    // (b, a, gj, gi) of positive k at P3
//   levels[0].box[k]    // (x, y, w, h) target in grid units, x, y relative to cell (gi, gj)
//
// `targets` rows are (image index in batch, class, cx, cy, w, h), cx..h normalised to [0, 1].
// The algorithm (utils/loss.py, v7.0), per level with grid (ny, nx) and anchors (aw, ah) in grid
// units, for every (anchor a, target) pair:
//  1. (gx, gy, gw, gh) = (cx*nx, cy*ny, w*nx, h*ny). The pair is kept iff the worse of the four
//     ratios gw/aw, aw/gw, gh/ah, ah/gh is below anchor_t (4.0): the anchor's shape is within a
//     factor 4 of the box's.
//  2. A kept pair is a positive in its centre cell (floor gx, floor gy) and also in up to two
//     neighbours (offset g = 0.5): the left cell when frac(gx) < 0.5 and gx > 1, the upper cell
//     when frac(gy) < 0.5 and gy > 1, the right cell when frac(nx - gx) < 0.5 and nx - gx > 1,
//     the lower cell when frac(ny - gy) < 0.5 and ny - gy > 1. Since frac(gx) < 0.5 and
//     frac(nx - gx) < 0.5 exclude each other (for gx not on a half-cell), a pair gets at most
//     3 cells. Cell indices are truncated (gx - offset) and clamped to the grid.
//  3. Each positive stores (b, a, gj, gi), the target box (gx - gi, gy - gj, gw, gh) -- its
//     centre offset lies in (-0.5, 1.5), which the predicted 2*sigmoid - 0.5 can reach --, the
//     anchor (aw, ah) and the class.
// Positives are ordered like YOLOv5's: offset block (centre, left, up, right, down), then anchor,
// then target row. Arithmetic is in T, as YOLOv5 does it in float32, so the same assignments
// come out bit-exactly for T = float.
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "../core/error.hpp"
#include "../core/tensor.hpp"

namespace yolite::loss {

struct GridSize {
  int64_t ny = 0, nx = 0;
};

// Anchors per level, per anchor (w, h).
using AnchorSet = std::vector<std::vector<std::array<double, 2>>>;

// YOLOv5's default P3/P4/P5 anchors in pixels (strides 8, 16, 32).
inline AnchorSet yolov5_anchors_px() {
  return {{{10, 13}, {16, 30}, {33, 23}},
          {{30, 61}, {62, 45}, {59, 119}},
          {{116, 90}, {156, 198}, {373, 326}}};
}

// Anchors in grid units of each level: anchors_px / stride (in T, as the Detect module keeps
// them). Throws when the counts disagree or a stride or anchor is not positive.
template <class T>
std::vector<std::vector<std::array<T, 2>>> anchors_in_grid_units(const AnchorSet& anchors_px,
                                                                 const std::vector<double>& strides) {
  YOLITE_CHECK(anchors_px.size() == strides.size(), "anchors: ", anchors_px.size(),
               " levels of anchors but ", strides.size(), " strides");
  std::vector<std::vector<std::array<T, 2>>> out(anchors_px.size());
  for (size_t l = 0; l < anchors_px.size(); ++l) {
    YOLITE_CHECK(strides[l] > 0, "anchors: stride of level ", l, " is ", strides[l],
                 ", expected > 0");
    for (size_t a = 0; a < anchors_px[l].size(); ++a) {
      const auto& an = anchors_px[l][a];
      YOLITE_CHECK(an[0] > 0 && an[1] > 0, "anchors: level ", l, " anchor ", a, " is (", an[0],
                   ", ", an[1], "), expected positive width and height");
      out[l].push_back({T(an[0]) / T(strides[l]), T(an[1]) / T(strides[l])});
    }
  }
  return out;
}

// Anchors in pixels from a Detect module's `anchors` buffer ([nl, na, 2], grid units, as in
// the state dict's `model.24.anchors`) and the strides: anchor * stride per level.
template <class T>
AnchorSet anchors_px_from_grid(const Tensor<T>& anchors_grid, const std::vector<double>& strides) {
  YOLITE_CHECK(anchors_grid.ndim() == 3 && anchors_grid.size(2) == 2 &&
                   anchors_grid.size(0) == int64_t(strides.size()),
               "anchors_px_from_grid: anchors have shape ", anchors_grid.shape().str(),
               ", expected [", strides.size(), ", na, 2] (one level per stride)");
  AnchorSet out(strides.size());
  for (int64_t l = 0; l < anchors_grid.size(0); ++l)
    for (int64_t a = 0; a < anchors_grid.size(1); ++a)
      out[size_t(l)].push_back({double(anchors_grid.at(l, a, 0)) * strides[size_t(l)],
                                double(anchors_grid.at(l, a, 1)) * strides[size_t(l)]});
  return out;
}

// The positives of one level (n of them; all vectors have n entries).
template <class T>
struct LevelTargets {
  std::vector<int64_t> cls;                  // class index
  std::vector<std::array<T, 4>> box;         // (x - gi, y - gj, w, h) in grid units
  std::vector<std::array<int64_t, 4>> idx;   // (b, a, gj, gi)
  std::vector<std::array<T, 2>> anchor;      // (aw, ah) in grid units
  size_t size() const { return cls.size(); }
};

// build_targets for all levels. grids[l] is level l's (ny, nx); anchors[l] its anchors in grid
// units. targets is [nt, 6]; nt may be 0. Image indices and classes are read by truncation, as
// YOLOv5's .long(); callers that know the batch size / class count validate them (yolo_loss does).
template <class T>
std::vector<LevelTargets<T>> build_targets(const Tensor<T>& targets, const std::vector<GridSize>& grids,
                                           const std::vector<std::vector<std::array<T, 2>>>& anchors,
                                           double anchor_t = 4.0) {
  YOLITE_CHECK(targets.ndim() == 2 && targets.size(1) == 6, "build_targets: targets has shape ",
               targets.shape().str(), ", expected [nt, 6] rows (image, class, cx, cy, w, h)");
  YOLITE_CHECK(grids.size() == anchors.size(), "build_targets: ", grids.size(), " grids but ",
               anchors.size(), " levels of anchors");
  const int64_t nt = targets.size(0);
  const T g = T(0.5);
  const T at = T(anchor_t);
  // Offsets (in cells) subtracted from (gx, gy): centre, left, up, right, down.
  const T off[5][2] = {{0, 0}, {g, 0}, {0, g}, {-g, 0}, {0, -g}};
  std::vector<LevelTargets<T>> out(grids.size());
  for (size_t l = 0; l < grids.size(); ++l) {
    const int64_t ny = grids[l].ny, nx = grids[l].nx;
    YOLITE_CHECK(ny > 0 && nx > 0, "build_targets: level ", l, " has grid ", ny, "x", nx);
    const T fnx = T(nx), fny = T(ny);
    const size_t na = anchors[l].size();
    // Step 1: kept (anchor, target) pairs in YOLOv5's order (anchor-major), with the five
    // cell flags of step 2.
    struct Pair {
      size_t a;
      int64_t t;
      T gx, gy, gw, gh;
      bool use[5];
    };
    std::vector<Pair> kept;
    for (size_t a = 0; a < na; ++a) {
      const T aw = anchors[l][a][0], ah = anchors[l][a][1];
      for (int64_t t = 0; t < nt; ++t) {
        const T* r = targets.data() + t * 6;
        Pair p{a, t, r[2] * fnx, r[3] * fny, r[4] * fnx, r[5] * fny, {}};
        T rw = p.gw / aw, rh = p.gh / ah;
        T worst = std::max(std::max(rw, T(1) / rw), std::max(rh, T(1) / rh));
        if (!(worst < at)) continue;  // also drops NaN ratios (zero-sized boxes)
        // Python-style x % 1 (= x - floor(x)) as torch computes it.
        auto frac = [](T x) { return x - std::floor(x); };
        T gxi = fnx - p.gx, gyi = fny - p.gy;
        p.use[0] = true;
        p.use[1] = frac(p.gx) < g && p.gx > T(1);
        p.use[2] = frac(p.gy) < g && p.gy > T(1);
        p.use[3] = frac(gxi) < g && gxi > T(1);
        p.use[4] = frac(gyi) < g && gyi > T(1);
        kept.push_back(p);
      }
    }
    // Steps 2-3, offset block by offset block.
    LevelTargets<T>& L = out[l];
    for (int o = 0; o < 5; ++o) {
      for (const Pair& p : kept) {
        if (!p.use[o]) continue;
        const T* r = targets.data() + p.t * 6;
        int64_t b = static_cast<int64_t>(r[0]), c = static_cast<int64_t>(r[1]);
        // .long() truncates toward zero; then clamp to the grid (YOLOv5 clamps in place, so
        // the target offset below is measured from the clamped cell).
        int64_t gi = static_cast<int64_t>(p.gx - off[o][0]);
        int64_t gj = static_cast<int64_t>(p.gy - off[o][1]);
        gi = std::clamp<int64_t>(gi, 0, nx - 1);
        gj = std::clamp<int64_t>(gj, 0, ny - 1);
        L.cls.push_back(c);
        L.box.push_back({p.gx - T(gi), p.gy - T(gj), p.gw, p.gh});
        L.idx.push_back({b, int64_t(p.a), gj, gi});
        L.anchor.push_back(anchors[l][p.a]);
      }
    }
  }
  return out;
}

}  // namespace yolite::loss
