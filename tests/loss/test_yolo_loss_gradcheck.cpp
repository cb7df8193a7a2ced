// Finite-difference check of the whole YOLO loss in double on tiny maps (B=2, nc=2, grids
// 8x8 / 4x4 / 2x2), with label smoothing, focal loss, pos_weight and gr variations; plus
// determinism across thread counts and the nc = 1 case.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <vector>

#include <yolite/autograd/gradcheck.hpp>
#include <yolite/core/parallel.hpp>
#include <yolite/core/rng.hpp>
#include <yolite/loss/yolo_loss.hpp>

using namespace yolite;
using namespace yolite::loss;

namespace {

const std::vector<double> kGradStrides{8, 16, 32};  // 64x64 images -> 8x8, 4x4, 2x2

std::vector<Var<double>> tiny_maps(int nc, uint64_t seed) {
  Rng rng(seed);
  std::vector<Var<double>> maps;
  for (int64_t g : {8, 4, 2}) {
    Tensor<double> t({2, 3 * (5 + nc), g, g});
    for (auto& v : t) v = rng.normal(0.0, 1.5);
    maps.emplace_back(t, true);
  }
  return maps;
}

Tensor<double> tiny_targets() {
  // (image, class, cx, cy, w, h): small/medium/large boxes, one near a corner, one near a cell
  // border, in both images.
  const double rows[][6] = {{0, 0, 0.30, 0.40, 0.25, 0.30}, {0, 1, 0.70, 0.20, 0.50, 0.40},
                            {1, 1, 0.50, 0.55, 0.90, 0.80}, {1, 0, 0.06, 0.93, 0.15, 0.12},
                            {1, 1, 0.626, 0.37, 0.30, 0.55}};
  Tensor<double> t({5, 6});
  for (int r = 0; r < 5; ++r)
    for (int c = 0; c < 6; ++c) t.at(r, c) = rows[r][c];
  return t;
}

}  // namespace

TEST_SUITE("loss") {
  TEST_CASE("whole-loss gradcheck in double (label smoothing, focal, pos_weight, gr)") {
    struct Variant {
      const char* name;
      double ls, gamma, cls_pw, obj_pw, gr;
    };
    const Variant variants[] = {{"plain", 0, 0, 1, 1, 1.0},
                                {"label smoothing 0.1", 0.1, 0, 1, 1, 1.0},
                                {"focal gamma 1.5", 0, 1.5, 1, 1, 1.0},
                                {"focal + smoothing + pos_weight + gr 0.5", 0.2, 2.0, 2.0, 1.5, 0.5}};
    Tensor<double> targets = tiny_targets();
    std::vector<GridSize> grids{{8, 8}, {4, 4}, {2, 2}};
    auto levels = build_targets<double>(
        targets, grids, anchors_in_grid_units<double>(yolov5_anchors_px(), kGradStrides), 4.0);
    for (int l = 0; l < 3; ++l) REQUIRE(levels[size_t(l)].size() > 0);  // every level has positives
    const std::vector<int64_t> na{3, 3, 3};
    int seed = 0;
    for (const auto& v : variants) {
      INFO("variant: ", v.name);
      LossConfig cfg = scale_loss_gains(LossConfig{}, 2, 3, 64);
      cfg.label_smoothing = v.ls;
      cfg.fl_gamma = v.gamma;
      cfg.cls_pw = v.cls_pw;
      cfg.obj_pw = v.obj_pw;
      cfg.gr = v.gr;
      // Larger gains than train.py's, so every term weighs in the check.
      cfg.box = 1.0, cfg.obj = 1.0, cfg.cls = 1.0;
      auto maps = tiny_maps(2, uint64_t(100 + seed++));
      // yolo_loss (assignment included) and the explicit-positives entry agree.
      auto full = yolo_loss<double>(maps, targets, yolov5_anchors_px(), kGradStrides, cfg);
      auto base = yolo_loss_assigned<double>(maps, levels, na, cfg);
      CHECK(full.total.value()[0] == base.total.value()[0]);
      CHECK(base.items[0] > 0);
      CHECK(base.items[1] > 0);
      CHECK(base.items[2] > 0);
      std::function<Var<double>(std::vector<Var<double>>&)> f =
          [&](std::vector<Var<double>>& in) {
            return yolo_loss_assigned<double>(in, levels, na, cfg, &base.detached).total;
          };
      GradcheckResult r = gradcheck<double>(f, maps, 1e-6, 1e-7, 1e-5);
      INFO(r.message);
      CHECK(r.ok);
    }
  }

  TEST_CASE("one class: no class loss, class logits get no gradient") {
    Tensor<double> targets = tiny_targets();
    for (int64_t r = 0; r < targets.size(0); ++r) targets.at(r, 1) = 0;
    auto maps = tiny_maps(1, 9);
    LossConfig cfg = scale_loss_gains(LossConfig{}, 1, 3, 64);
    auto out = yolo_loss<double>(maps, targets, yolov5_anchors_px(), kGradStrides, cfg);
    CHECK(out.items[2] == 0.0);
    out.total.backward();
    const Tensor<double>& g = maps[0].grad();
    double cls_abs = 0, box_abs = 0;
    for (int64_t a = 0; a < 3; ++a)
      for (int64_t i = 0; i < 64; ++i) {
        cls_abs += std::abs(g[(a * 6 + 5) * 64 + i]) + std::abs(g[((3 + a) * 6 + 5) * 64 + i]);
        box_abs += std::abs(g[(a * 6 + 0) * 64 + i]) + std::abs(g[((3 + a) * 6 + 0) * 64 + i]);
      }
    CHECK(cls_abs == 0.0);
    CHECK(box_abs > 0.0);
  }

  TEST_CASE("the loss and its gradient do not depend on the thread count") {
    Tensor<double> targets = tiny_targets();
    LossConfig cfg = scale_loss_gains(LossConfig{}, 2, 3, 64);
    auto run = [&](int threads) {
      set_threads(threads);
      // 640x640 images, batch 4: level 0 is big enough to run in parallel.
      Rng rng(5);
      std::vector<Var<float>> mf;
      for (int64_t g : {80, 40, 20}) {
        Tensor<float> t({4, 21, g, g});
        for (auto& v : t) v = float(rng.normal(-2.0, 2.0));
        mf.emplace_back(t, true);
      }
      auto out = yolo_loss<float>(mf, targets.cast<float>(), yolov5_anchors_px(), kGradStrides, cfg);
      out.total.backward();
      std::vector<float> all{out.total.value()[0]};
      for (auto& m : mf) all.insert(all.end(), m.grad().begin(), m.grad().end());
      return all;
    };
    const int prev = max_threads();
    auto a = run(1), b = run(2), c = run(3);
    set_threads(prev);
    CHECK(a == b);
    CHECK(a == c);
  }

  TEST_CASE("backward scales with the upstream gradient and accumulates") {
    Tensor<double> targets = tiny_targets();
    LossConfig cfg = scale_loss_gains(LossConfig{}, 2, 3, 64);
    auto maps = tiny_maps(2, 3);
    auto out = yolo_loss<double>(maps, targets, yolov5_anchors_px(), kGradStrides, cfg);
    out.total.backward(Tensor<double>({1}, 3.0));
    Tensor<double> g3 = maps[1].grad().clone();
    for (auto& m : maps) m.zero_grad();
    auto out2 = yolo_loss<double>(maps, targets, yolov5_anchors_px(), kGradStrides, cfg);
    out2.total.backward();
    double worst = 0;
    for (int64_t i = 0; i < g3.numel(); ++i)
      worst = std::max(worst, std::abs(g3[i] - 3 * maps[1].grad()[i]));
    CHECK(worst < 1e-15);
    // No graph under NoGradGuard.
    NoGradGuard ng;
    auto out3 = yolo_loss<double>(maps, targets, yolov5_anchors_px(), kGradStrides, cfg);
    CHECK_FALSE(out3.total.requires_grad());
    CHECK(out3.total.value()[0] == out2.total.value()[0]);
  }

  TEST_CASE("a batch split over ranks, normalised by the whole batch: the same map gradients") {
    // Data-parallel training gives each rank some images of the batch; with the whole batch's
    // image and positive counts (BatchTotals) every map gradient is computed from the same
    // numbers by the same operations as for the whole batch, so it is the same value.
    Tensor<double> targets = tiny_targets();
    LossConfig cfg = scale_loss_gains(LossConfig{}, 2, 3, 64);
    auto maps = tiny_maps(2, 21);
    auto whole = yolo_loss<double>(maps, targets, yolov5_anchors_px(), kGradStrides, cfg);
    whole.total.backward();
    auto assigned = assign_targets<double>(maps, targets, yolov5_anchors_px(), kGradStrides, cfg);
    BatchTotals totals;
    totals.images = 2;
    totals.positives = assigned.counts();
    std::array<double, 3> items{};
    double total = 0;
    std::vector<int64_t> positives(3, 0);
    for (int64_t img = 0; img < 2; ++img) {  // rank `img` holds image `img`
      std::vector<Var<double>> part;
      for (auto& m : maps) {
        const Shape& s = m.shape();
        const int64_t per = s[1] * s[2] * s[3];
        Tensor<double> t({1, s[1], s[2], s[3]});
        std::copy(m.value().data() + img * per, m.value().data() + (img + 1) * per, t.data());
        part.emplace_back(t, true);
      }
      std::vector<double> rows;
      for (int64_t r = 0; r < targets.size(0); ++r)
        if (targets.at(r, 0) == double(img))
          for (int c = 0; c < 6; ++c) rows.push_back(c == 0 ? 0.0 : targets.at(r, c));
      Tensor<double> mine = Tensor<double>::from({int64_t(rows.size() / 6), 6}, rows);
      auto a = assign_targets<double>(part, mine, yolov5_anchors_px(), kGradStrides, cfg);
      for (size_t l = 0; l < 3; ++l) positives[l] += a.counts()[l];
      auto out = yolo_loss_assigned<double>(part, std::move(a.levels), a.na, cfg, nullptr, &totals);
      out.total.backward();
      for (int k = 0; k < 3; ++k) items[size_t(k)] += out.items[size_t(k)];
      total += out.total.value()[0];
      for (size_t l = 0; l < 3; ++l) {
        const Shape& s = maps[l].shape();
        const int64_t per = s[1] * s[2] * s[3];
        CHECK(std::memcmp(part[l].grad().data(), maps[l].grad().data() + img * per, size_t(per) * sizeof(double)) == 0);
      }
    }
    CHECK(positives == totals.positives);
    for (int k = 0; k < 3; ++k) CHECK(items[size_t(k)] == doctest::Approx(whole.items[size_t(k)]).epsilon(1e-12));
    CHECK(total == doctest::Approx(whole.total.value()[0]).epsilon(1e-12));
    // totals that do not cover the part are refused
    BatchTotals small{1, {0, 0, 0}};
    CHECK_THROWS_AS(yolo_loss<double>(maps, targets, yolov5_anchors_px(), kGradStrides, cfg, &small), Error);
  }
}
