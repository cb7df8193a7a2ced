// Overfit test: a tiny YOLOv5 learns four synthetic images by heart. If the forward,
// the loss, the backward or the optimizer were wrong anywhere, the box loss would not collapse
// and the trained network would not find the boxes it was shown.
//
// Setup: the YOLOv5 layer table at depth 0.33 (as yolov5n) and width 0.0625 (8..64 channels,
// 115 k parameters), 2 classes, input 64x64. Four images of uniform noise, each with one or two
// filled rectangles, red = class 0 and blue = class 1 (6 boxes of 20..40 px, so that the P3 and
// P4 anchors fit them). The whole set is one batch; Adam (lr 0.005, betas 0.937/0.999 as YOLOv5's
// --optimizer Adam, no weight decay) runs 400 full-batch steps with the real YOLOv5 loss
// (hyp.scratch-low gains box 0.05, obj 1.0, cls 0.5, BatchNorm in train mode).
//
// Then the model is put in eval mode (BatchNorm uses its running statistics, which have
// followed the training) and its decoded predictions go through non_max_suppression
// (conf 0.25, IoU 0.45, as detect.py): every box must be found with its class at IoU > 0.5, and
// nothing confident (score > 0.5) may be reported where there is no box.
//
// Measured (g++ 12, Release): the box loss (1 - CIoU averaged over the positives, times 0.05)
// falls from 0.075 to about 0.0065 (a ~12x drop), obj from 0.82 to ~0.12, cls to ~4e-4, and the
// worst matched IoU is 0.82 with 1 thread, 0.75 with 2 (float sums in a different order give a
// different, equally good, trajectory); the thresholds below leave room for that.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <vector>

#include <yolite/core/rng.hpp>
#include <yolite/infer/nms.hpp>
#include <yolite/loss/yolo_loss.hpp>
#include <yolite/model/yolo.hpp>
#include <yolite/optim/adam.hpp>
#include <yolite/optim/param_groups.hpp>

using namespace yolite;

namespace {

struct Box {
  int img, cls;
  int x1, y1, x2, y2;  // pixels, x2/y2 exclusive
};

constexpr int kImg = 64, kBatch = 4, kClasses = 2;

const std::vector<Box>& boxes() {
  static const std::vector<Box> b = {{0, 0, 8, 10, 30, 40},  {0, 1, 36, 30, 60, 54},
                                     {1, 1, 12, 6, 52, 28},  {2, 0, 20, 20, 44, 58},
                                     {3, 1, 4, 36, 24, 60},  {3, 0, 34, 4, 58, 26}};
  return b;
}

// Noise in [0, 0.5) with the rectangles painted on top (colour + a little noise).
Tensor<float> make_images() {
  Rng rng(5);
  Tensor<float> x({kBatch, 3, kImg, kImg});
  for (auto& v : x) v = float(0.5 * rng.uniform());
  const float colour[kClasses][3] = {{0.95f, 0.2f, 0.1f}, {0.1f, 0.3f, 0.95f}};
  for (const Box& b : boxes())
    for (int c = 0; c < 3; ++c)
      for (int y = b.y1; y < b.y2; ++y)
        for (int xx = b.x1; xx < b.x2; ++xx)
          x.at(b.img, c, y, xx) = colour[b.cls][c] + float(0.05 * rng.uniform());
  return x;
}

// YOLO targets: (image, class, cx, cy, w, h), normalised.
Tensor<float> make_targets() {
  const auto& bs = boxes();
  Tensor<float> t({int64_t(bs.size()), 6});
  for (size_t k = 0; k < bs.size(); ++k) {
    const Box& b = bs[k];
    const int64_t r = int64_t(k);
    t.at(r, 0) = float(b.img);
    t.at(r, 1) = float(b.cls);
    t.at(r, 2) = float((b.x1 + b.x2) / 2.0 / kImg);
    t.at(r, 3) = float((b.y1 + b.y2) / 2.0 / kImg);
    t.at(r, 4) = float(double(b.x2 - b.x1) / kImg);
    t.at(r, 5) = float(double(b.y2 - b.y1) / kImg);
  }
  return t;
}

}  // namespace

TEST_SUITE("train") {
  TEST_CASE("overfit: a tiny YOLOv5 learns 4 synthetic images; NMS finds every box afterwards") {
    const auto t0 = std::chrono::steady_clock::now();
    const Tensor<float> x = make_images(), targets = make_targets();
    model::ModelSpec spec = model::yolov5_spec("n");  // depth 0.33
    spec.width_multiple = 0.0625;
    auto m = std::make_shared<model::YoloModel>(spec, kClasses, /*seed=*/0);
    m->train();
    auto params = m->named_parameters();
    optim::Adam<float> opt(optim::yolo_param_groups(params, 0.005, 0.937, 0.0), 0.937, 0.999);
    const loss::LossConfig cfg;  // box 0.05, obj 1.0, cls 0.5 (hyp.scratch-low, unscaled)
    const loss::AnchorSet anchors = loss::yolov5_anchors_px();

    const int steps = 400;
    std::array<double, 3> first{}, last{};
    for (int it = 0; it < steps; ++it) {
      opt.zero_grad();
      auto maps = m->forward_raw(Var<float>(x));
      auto out = loss::yolo_loss<float>(maps, targets, anchors, m->stride(), cfg);
      out.total.backward();
      opt.step();
      if (it == 0) first = out.items;
      last = out.items;
      for (double v : out.items) REQUIRE(std::isfinite(v));
    }
    const double train_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    // The losses of the last step (its forward ran before its update).
    CHECK(first[0] > 0.06);             // untrained: 1 - CIoU ~ 1.5 on average
    CHECK(last[0] < 0.0085);            // box: mean (1 - CIoU) < 0.17 over all positives
    CHECK(last[0] < first[0] / 8);      // ... and at least an 8x drop
    CHECK(last[1] < first[1] / 4);      // objectness
    CHECK(last[2] < 0.01);              // classes: (almost) perfectly separated

    // Eval mode, decoded predictions, NMS.
    m->eval();
    const Tensor<float> y = m->predict(x);
    const int no = kClasses + 5;
    REQUIRE(y.shape() == Shape({kBatch, y.size(1), no}));
    double worst_iou = 1;
    int false_positives = 0;
    for (int b = 0; b < kBatch; ++b) {
      const auto dets = non_max_suppression(y.data() + int64_t(b) * y.size(1) * no, y.size(1), no,
                                            NmsOptions{});
      std::vector<char> used(dets.size(), 0);
      for (const Box& g : boxes()) {
        if (g.img != b) continue;
        Detection gt;
        gt.x1 = float(g.x1), gt.y1 = float(g.y1), gt.x2 = float(g.x2), gt.y2 = float(g.y2);
        float best = 0;
        int best_j = -1;
        for (size_t j = 0; j < dets.size(); ++j) {
          if (dets[j].cls != g.cls) continue;
          const float iou = box_iou(dets[j], gt);
          if (iou > best) best = iou, best_j = int(j);
        }
        INFO("image ", b, ", class ", g.cls, " box (", g.x1, ", ", g.y1, ", ", g.x2, ", ", g.y2,
             "): best IoU ", best);
        CHECK(best > 0.5f);
        if (best_j >= 0) used[size_t(best_j)] = 1;
        worst_iou = std::min(worst_iou, double(best));
      }
      for (size_t j = 0; j < dets.size(); ++j)
        if (!used[j] && dets[j].score > 0.5f) ++false_positives;
    }
    CHECK(false_positives == 0);
    std::printf("overfit: box loss %.4f -> %.4f, obj %.4f -> %.4f, cls %.4f -> %.4f in %d steps "
                "(%.1f s); worst matched IoU %.3f, confident false positives %d\n",
                first[0], last[0], first[1], last[1], first[2], last[2], steps, train_s, worst_iou,
                false_positives);
  }
}
