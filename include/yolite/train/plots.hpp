// train/plots.hpp -- the pictures of a training run, named as YOLOv5 names them:
//
//   labels.jpg             class histogram, box centres and box sizes of the training labels
//   train_batch0..2.jpg    the first augmented batches with their boxes (mosaics)
//   results.png            losses, precision, recall and mAP per epoch (from results.csv)
//   PR_curve.png           precision-recall per class at IoU 0.5 (+ all classes)
//   F1_curve.png           F1 against confidence per class
//   confusion_matrix.png   column-normalised confusion matrix with a background row/column
//   val_batch0_labels.jpg  validation images with their labels ...
//   val_batch0_pred.jpg    ... and with the predictions (score >= 0.25)
//
// Everything is drawn with viz/ (bitmap font, lines, plots, grids) and saved atomically.
#pragma once
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "../data/dataset.hpp"
#include "../data/image_io.hpp"
#include "../viz/colors.hpp"
#include "../viz/draw.hpp"
#include "../viz/grid.hpp"
#include "../viz/plot.hpp"
#include "results_csv.hpp"
#include "validate.hpp"

namespace yolite::train {

namespace internal {
inline std::string class_name(const std::vector<std::string>& names, int c) {
  return c >= 0 && c < int(names.size()) ? names[size_t(c)] : std::to_string(c);
}
}  // namespace internal

inline void plot_labels(const data::Dataset& ds, const std::vector<std::string>& names,
                        const std::filesystem::path& out) {
  std::vector<double> counts(names.size(), 0.0);
  Image centres(240, 240, 3, 255), sizes(240, 240, 3, 255);
  for (auto& s : ds.samples)
    for (auto& b : s.boxes) {
      if (b.cls >= 0 && b.cls < int(counts.size())) counts[size_t(b.cls)] += 1;
      viz::blend_pixel(centres, int(b.cx * 239), int(b.cy * 239), viz::class_color(b.cls), 0.6f);
      viz::blend_pixel(sizes, int(b.w * 239), 239 - int(b.h * 239), viz::class_color(b.cls), 0.6f);
    }
  viz::PlotOptions po;
  po.title = "instances per class";
  Image hist = viz::bar_plot(names, counts, po);
  viz::GridOptions go;
  go.cols = 3, go.cell_w = 360, go.cell_h = 270;
  data::save_image(out, viz::make_grid({hist, centres, sizes}, go,
                                       {"classes", "box centres (x, y)", "box sizes (w, h)"}));
}

// A batch tensor [B,3,H,W] (0..1) and its targets [nt,6] -> a grid of up to 16 images.
inline void plot_batch(const Tensor<float>& images, const Tensor<float>& targets,
                       const std::vector<std::string>& names, const std::filesystem::path& out) {
  const int64_t B = std::min<int64_t>(images.size(0), 16), H = images.size(2), W = images.size(3);
  std::vector<Image> tiles;
  for (int64_t i = 0; i < B; ++i) {
    Image im(int(W), int(H), 3);
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x)
          im.at(int(x), int(y))[c] = uint8_t(std::clamp(images.at(i, c, y, x) * 255.f + 0.5f, 0.f, 255.f));
    for (int64_t t = 0; t < targets.size(0); ++t) {
      if (int64_t(targets.at(t, 0)) != i) continue;
      int cls = int(targets.at(t, 1));
      float cx = targets.at(t, 2) * W, cy = targets.at(t, 3) * H, w = targets.at(t, 4) * W,
            h = targets.at(t, 5) * H;
      viz::draw_box_label(im, cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2,
                          internal::class_name(names, cls), viz::class_color(cls), 1, 1);
    }
    tiles.push_back(std::move(im));
  }
  viz::GridOptions go;
  go.cols = int(std::ceil(std::sqrt(double(tiles.size()))));
  go.cell_w = go.cell_h = int(std::min<int64_t>(std::max(H, W), 320));
  data::save_image(out, viz::make_grid(tiles, go));
}

inline void plot_results(const std::vector<EpochRow>& rows, const std::filesystem::path& out) {
  std::vector<double> x;
  for (auto& r : rows) x.push_back(r.epoch);
  auto series = [&](const char* name, auto get) {
    viz::Series s;
    s.name = name, s.x = x, s.markers = true;
    for (auto& r : rows) s.y.push_back(get(r));
    viz::PlotOptions po;
    po.title = name, po.xlabel = "epoch", po.legend = false, po.width = 300, po.height = 240;
    return viz::line_plot({s}, po);
  };
  std::vector<Image> plots{
      series("train/box_loss", [](const EpochRow& r) { return r.train_loss[0]; }),
      series("train/obj_loss", [](const EpochRow& r) { return r.train_loss[1]; }),
      series("train/cls_loss", [](const EpochRow& r) { return r.train_loss[2]; }),
      series("metrics/precision", [](const EpochRow& r) { return r.precision; }),
      series("metrics/recall", [](const EpochRow& r) { return r.recall; }),
      series("val/box_loss", [](const EpochRow& r) { return r.val_loss[0]; }),
      series("val/obj_loss", [](const EpochRow& r) { return r.val_loss[1]; }),
      series("val/cls_loss", [](const EpochRow& r) { return r.val_loss[2]; }),
      series("metrics/mAP_0.5", [](const EpochRow& r) { return r.map50; }),
      series("metrics/mAP_0.5:0.95", [](const EpochRow& r) { return r.map; })};
  viz::GridOptions go;
  go.cols = 5, go.cell_w = 300, go.cell_h = 240;
  data::save_image(out, viz::make_grid(plots, go));
}

// Draws detections (or labels) of one validation image, loaded from disk.
inline Image draw_val_image(const ValResult::ImageDets& d, const std::vector<std::string>& names,
                            bool predictions) {
  Image im = data::load_image(d.path);
  if (predictions) {
    for (auto& det : d.dets)
      if (det.score >= 0.25f)
        viz::draw_box_label(im, det.x1, det.y1, det.x2, det.y2,
                            str(internal::class_name(names, det.cls), " ", int(det.score * 100 + 0.5) / 100.0),
                            viz::class_color(det.cls), 2, 1);
  } else {
    for (auto& g : d.labels)
      viz::draw_box_label(im, g.x1, g.y1, g.x2, g.y2, internal::class_name(names, g.cls),
                          viz::class_color(g.cls), 2, 1);
  }
  return im;
}

inline void plot_validation(const ValResult& r, const std::vector<std::string>& names,
                            const std::filesystem::path& dir) {
  const auto& m = r.metrics;
  if (!m.per_class.empty()) {
    std::vector<viz::Series> pr, f1;
    std::vector<double> mean_pr(m.recall_axis.size(), 0.0), mean_f1(m.conf_axis.size(), 0.0);
    for (size_t k = 0; k < m.per_class.size(); ++k) {
      const auto& c = m.per_class[k];
      viz::Series s;
      s.name = str(internal::class_name(names, c.cls), " ", int(c.ap50() * 1000 + 0.5) / 1000.0);
      s.x = m.recall_axis, s.y = m.pr_curve[k];
      pr.push_back(s);
      viz::Series t;
      t.name = internal::class_name(names, c.cls);
      t.x = m.conf_axis, t.y = m.f1_curve[k];
      f1.push_back(t);
      for (size_t i = 0; i < mean_pr.size(); ++i) mean_pr[i] += m.pr_curve[k][i] / double(m.per_class.size());
      for (size_t i = 0; i < mean_f1.size(); ++i) mean_f1[i] += m.f1_curve[k][i] / double(m.per_class.size());
    }
    viz::Series all{str("all classes ", int(m.map50 * 1000 + 0.5) / 1000.0, " mAP@0.5"), m.recall_axis, mean_pr};
    all.auto_color = false, all.color = {0, 0, 255}, all.thickness = 3;
    pr.push_back(all);
    viz::Series allf{"all classes", m.conf_axis, mean_f1};
    allf.auto_color = false, allf.color = {0, 0, 255}, allf.thickness = 3;
    f1.push_back(allf);
    viz::PlotOptions po;
    po.width = 640, po.height = 480, po.xmin = 0, po.xmax = 1, po.ymin = 0, po.ymax = 1;
    po.title = "Precision-Recall Curve", po.xlabel = "Recall", po.ylabel = "Precision";
    data::save_image(dir / "PR_curve.png", viz::line_plot(pr, po));
    po.title = "F1-Confidence Curve", po.xlabel = "Confidence", po.ylabel = "F1";
    data::save_image(dir / "F1_curve.png", viz::line_plot(f1, po));
  }
  if (r.confusion) {
    const int nc = r.confusion->nc();
    std::vector<std::vector<double>> mat(size_t(nc + 1), std::vector<double>(size_t(nc + 1), 0.0));
    for (int t = 0; t <= nc; ++t) {
      double col = 0;
      for (int p = 0; p <= nc; ++p) col += r.confusion->at(p, t);
      for (int p = 0; p <= nc; ++p)
        mat[size_t(p)][size_t(t)] = col > 0 ? r.confusion->at(p, t) / col : 0.0;
    }
    std::vector<std::string> labels = names;
    labels.resize(size_t(nc));
    labels.push_back("background");
    viz::PlotOptions po;
    po.width = 120 + 90 * (nc + 1), po.height = 100 + 60 * (nc + 1);
    po.title = "Confusion Matrix (columns: true, rows: predicted)";
    po.decimals = 2;
    data::save_image(dir / "confusion_matrix.png", viz::heatmap(mat, labels, labels, po));
  }
  if (!r.detections.empty()) {
    for (bool pred : {false, true}) {
      std::vector<Image> tiles;
      for (size_t i = 0; i < r.detections.size() && i < 16; ++i)
        tiles.push_back(draw_val_image(r.detections[i], names, pred));
      viz::GridOptions go;
      go.cols = 4, go.cell_w = go.cell_h = 320;
      data::save_image(dir / (pred ? "val_batch0_pred.jpg" : "val_batch0_labels.jpg"),
                       viz::make_grid(tiles, go));
    }
  }
}

}  // namespace yolite::train
