// Parity of build_targets and the YOLO loss with YOLOv5 v7.0 (shared/fixtures/
// yolov5n_nc5_seed0_train.npz, see its README), and the loss gradient against float64 finite
// differences of our own loss on sampled map entries.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>

#include <yolite/core/rng.hpp>
#include <yolite/io/npy.hpp>
#include <yolite/loss/yolo_loss.hpp>

using namespace yolite;
using namespace yolite::loss;

namespace {

const io::Npz& fixture() {
  static const io::Npz z =
      io::load_npz(std::string(YOLITE_SHARED_DIR) + "/fixtures/yolov5n_nc5_seed0_train.npz");
  return z;
}

// p_i [B, na, ny, nx, no] (what YOLOv5's Detect returns in training) -> [B, na*no, ny, nx]
// (our Detect's conv output layout, channel a*no + k).
template <class T>
Tensor<T> to_map(const Tensor<float>& p) {
  const int64_t B = p.size(0), na = p.size(1), ny = p.size(2), nx = p.size(3), no = p.size(4);
  Tensor<T> m({B, na * no, ny, nx});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t a = 0; a < na; ++a)
      for (int64_t y = 0; y < ny; ++y)
        for (int64_t x = 0; x < nx; ++x)
          for (int64_t k = 0; k < no; ++k) m.at(b, a * no + k, y, x) = T(p.at(b, a, y, x, k));
  return m;
}

template <class T>
std::vector<Var<T>> fixture_maps(bool requires_grad) {
  std::vector<Var<T>> maps;
  for (int l = 0; l < 3; ++l)
    maps.emplace_back(to_map<T>(fixture().f32("p" + std::to_string(l))), requires_grad);
  return maps;
}

const std::vector<double> kStrides{8, 16, 32};

}  // namespace

TEST_SUITE("loss") {
  TEST_CASE("train.py's loss gains for nc=5, nl=3, imgsz=320") {
    LossConfig c = scale_loss_gains(LossConfig{}, 5, 3, 320);
    Tensor<double> g = fixture().f64("hyp_gains");
    CHECK(c.box == g[0]);
    CHECK(c.obj == g[1]);
    CHECK(c.cls == g[2]);
    Tensor<double> bal = fixture().f64("obj_balance");
    for (int i = 0; i < 3; ++i) CHECK(c.balance[size_t(i)] == bal[i]);
    // other sizes: box 3/nl, cls nc/80*3/nl, obj (img/640)^2*3/nl
    LossConfig d = scale_loss_gains(LossConfig{}, 80, 3, 640);
    CHECK(d.box == doctest::Approx(0.05));
    CHECK(d.cls == doctest::Approx(0.5));
    CHECK(d.obj == doctest::Approx(1.0));
    CHECK_THROWS_AS(scale_loss_gains(LossConfig{}, 0, 3, 640), Error);
  }

  TEST_CASE("anchors: pixels <-> grid units (the state dict's model.24.anchors)") {
    Tensor<float> grid = io::load_npz(std::string(YOLITE_SHARED_DIR) +
                                      "/fixtures/yolov5n_nc5_seed0_state.npz")
                             .f32("model.24.anchors");
    AnchorSet px = anchors_px_from_grid(grid, kStrides);
    CHECK(px == yolov5_anchors_px());
    auto back = anchors_in_grid_units<float>(px, kStrides);
    for (int l = 0; l < 3; ++l)
      for (int a = 0; a < 3; ++a)
        for (int c = 0; c < 2; ++c) CHECK(back[size_t(l)][size_t(a)][size_t(c)] == grid.at(l, a, c));
    CHECK_THROWS_AS(anchors_px_from_grid(grid, {8, 16}), Error);
    CHECK_THROWS_AS(anchors_in_grid_units<float>(px, {8, 16, 0}), Error);
  }

  TEST_CASE("build_targets reproduces YOLOv5's indices, tcls, tbox and anchors") {
    const auto& z = fixture();
    Tensor<float> targets = z.f32("targets");
    std::vector<GridSize> grids{{40, 40}, {20, 20}, {10, 10}};
    auto anchors = anchors_in_grid_units<float>(yolov5_anchors_px(), kStrides);
    auto lv = build_targets<float>(targets, grids, anchors, 4.0);
    REQUIRE(lv.size() == 3);
    const size_t expect_n[3] = {42, 27, 18};
    for (int l = 0; l < 3; ++l) {
      const std::string s = std::to_string(l);
      std::vector<int64_t> idx = z.i64("indices_" + s);   // (4, n)
      std::vector<int64_t> tcls = z.i64("tcls_" + s);     // (n,)
      Tensor<float> tbox = z.f32("tbox_" + s);            // (n, 4)
      Tensor<float> anch = z.f32("anch_" + s);            // (n, 2)
      const size_t n = tcls.size();
      REQUIRE(n == expect_n[l]);
      REQUIRE(lv[size_t(l)].size() == n);
      // Compare as sets sorted by (b, a, gj, gi): (key, cls, box, anchor) rows.
      using Row = std::tuple<std::array<int64_t, 4>, int64_t, std::array<float, 4>,
                             std::array<float, 2>>;
      std::vector<Row> ref, ours;
      for (size_t k = 0; k < n; ++k) {
        ref.emplace_back(std::array<int64_t, 4>{idx[k], idx[n + k], idx[2 * n + k], idx[3 * n + k]},
                         tcls[k],
                         std::array<float, 4>{tbox.at(k, 0), tbox.at(k, 1), tbox.at(k, 2),
                                              tbox.at(k, 3)},
                         std::array<float, 2>{anch.at(k, 0), anch.at(k, 1)});
        const auto& L = lv[size_t(l)];
        ours.emplace_back(L.idx[k], L.cls[k], L.box[k], L.anchor[k]);
      }
      // Same order as YOLOv5 (offset block, anchor, target) -- checked before sorting.
      int same_order = 0;
      for (size_t k = 0; k < n; ++k) same_order += std::get<0>(ref[k]) == std::get<0>(ours[k]);
      CHECK(same_order == int(n));
      auto by_key = [](const Row& a, const Row& b) { return std::get<0>(a) < std::get<0>(b); };
      std::sort(ref.begin(), ref.end(), by_key);
      std::sort(ours.begin(), ours.end(), by_key);
      for (size_t k = 0; k < n; ++k) {
        INFO("level ", l, " positive ", k);
        CHECK(std::get<0>(ours[k]) == std::get<0>(ref[k]));  // exact indices
        CHECK(std::get<1>(ours[k]) == std::get<1>(ref[k]));  // exact class
        for (int c = 0; c < 4; ++c)
          CHECK(std::abs(std::get<2>(ours[k])[size_t(c)] - std::get<2>(ref[k])[size_t(c)]) <= 1e-5f);
        for (int c = 0; c < 2; ++c)
          CHECK(std::abs(std::get<3>(ours[k])[size_t(c)] - std::get<3>(ref[k])[size_t(c)]) <= 1e-5f);
      }
    }
  }

  TEST_CASE("loss_items and loss_total match YOLOv5 (float and double)") {
    const auto& z = fixture();
    const LossConfig cfg = scale_loss_gains(LossConfig{}, 5, 3, 320);
    Tensor<float> items = z.f32("loss_items"), total = z.f32("loss_total");
    Tensor<double> items64 = z.f64("loss_items_f64"), total64 = z.f64("loss_total_f64");
    {
      auto out = yolo_loss<float>(fixture_maps<float>(false), z.f32("targets"),
                                  yolov5_anchors_px(), kStrides, cfg);
      for (int i = 0; i < 3; ++i) {
        INFO("item ", i, ": ", out.items[size_t(i)], " vs ", items[i]);
        CHECK(std::abs(out.items[size_t(i)] - items[i]) <= 1e-5 * std::abs(items[i]));
        CHECK(std::abs(out.items[size_t(i)] - items64[i]) <= 1e-5 * std::abs(items64[i]));
      }
      CHECK(std::abs(out.total.value()[0] - total[0]) <= 1e-5f * std::abs(total[0]));
      CHECK(out.total.shape() == Shape({1}));
    }
    {
      Tensor<float> t32 = z.f32("targets");
      auto out = yolo_loss<double>(fixture_maps<double>(false), t32.cast<double>(),
                                   yolov5_anchors_px(), kStrides, cfg);
      CHECK(std::abs(out.total.value()[0] - total64[0]) <= 1e-5 * std::abs(total64[0]));
    }
  }

  TEST_CASE("d loss / d maps matches float64 finite differences on sampled entries") {
    const auto& z = fixture();
    const LossConfig cfg = scale_loss_gains(LossConfig{}, 5, 3, 320);
    Tensor<float> t32 = z.f32("targets");
    // Analytic gradient from the float loss (what training uses).
    auto maps = fixture_maps<float>(true);
    auto out = yolo_loss<float>(maps, t32, yolov5_anchors_px(), kStrides, cfg);
    out.total.backward();
    for (auto& m : maps) REQUIRE(m.grad().defined());

    // Float64 loss with YOLOv5's detached values (CIoU alpha, objectness targets) frozen at the
    // base point: the function whose exact derivative backward computes.
    auto maps64 = fixture_maps<double>(false);
    Tensor<double> t64 = t32.cast<double>();
    std::vector<GridSize> grids;
    for (auto& m : maps64) grids.push_back({m.shape()[2], m.shape()[3]});
    auto levels = build_targets<double>(t64, grids,
                                        anchors_in_grid_units<double>(yolov5_anchors_px(), kStrides),
                                        cfg.anchor_t);
    const std::vector<int64_t> na{3, 3, 3};
    auto base = yolo_loss_assigned<double>(maps64, levels, na, cfg);
    auto f = [&]() {
      return yolo_loss_assigned<double>(maps64, levels, na, cfg, &base.detached).total.value()[0];
    };
    CHECK(f() == base.total.value()[0]);

    double gmax = 0;
    for (auto& m : maps)
      for (float v : m.grad()) gmax = std::max(gmax, double(std::abs(v)));
    REQUIRE(gmax > 0);

    // Samples per level: 60 logits of positive cells (box, obj, class channels) and 60 anywhere.
    Rng rng(123);
    int checked = 0, nonzero = 0;
    for (int l = 0; l < 3; ++l) {
      Tensor<double>& x = maps64[size_t(l)].value();
      const Tensor<float>& g = maps[size_t(l)].grad();
      const int64_t ny = x.size(2), nx = x.size(3);
      const auto& L = levels[size_t(l)];
      for (int s = 0; s < 120; ++s) {
        int64_t i;
        if (s < 60) {
          const auto& id = L.idx[rng.below(uint32_t(L.size()))];
          int64_t k = rng.below(10);
          i = ((id[0] * 30 + id[1] * 10 + k) * ny + id[2]) * nx + id[3];
        } else {
          i = int64_t(rng.below(uint32_t(x.numel())));
        }
        const double h = 1e-5, saved = x[i];
        x[i] = saved + h;
        double hi = f();
        x[i] = saved - h;
        double lo = f();
        x[i] = saved;
        double num = (hi - lo) / (2 * h);
        INFO("level ", l, " element ", i, ": analytic ", g[i], " numeric ", num);
        CHECK(std::abs(double(g[i]) - num) <= 1e-5 * gmax + 1e-3 * std::abs(num));
        ++checked;
        nonzero += std::abs(num) > 1e-3 * gmax;
      }
    }
    CHECK(checked == 360);
    CHECK(nonzero > 100);  // the samples include real box/class gradients, not just ~0 cells
  }

  TEST_CASE("yolo_loss rejects bad inputs with messages") {
    const auto& z = fixture();
    const LossConfig cfg = scale_loss_gains(LossConfig{}, 5, 3, 320);
    auto maps = fixture_maps<float>(false);
    Tensor<float> t = z.f32("targets").clone();
    t.at(2, 1) = 7;  // class 7 of 5
    CHECK_THROWS_WITH_AS(yolo_loss<float>(maps, t, yolov5_anchors_px(), kStrides, cfg),
                         doctest::Contains("class"), Error);
    t = z.f32("targets").clone();
    t.at(0, 0) = 2;  // image 2 of a batch of 2
    CHECK_THROWS_WITH_AS(yolo_loss<float>(maps, t, yolov5_anchors_px(), kStrides, cfg),
                         doctest::Contains("image index"), Error);
    CHECK_THROWS_AS(yolo_loss<float>(maps, Tensor<float>({3, 5}), yolov5_anchors_px(), kStrides, cfg),
                    Error);
    std::vector<Var<float>> two(maps.begin(), maps.begin() + 2);
    CHECK_THROWS_AS(yolo_loss<float>(two, z.f32("targets"), yolov5_anchors_px(), kStrides, cfg),
                    Error);
    // No targets at all: only objectness (every target 0), no box/class loss.
    auto out = yolo_loss<float>(maps, Tensor<float>({0, 6}), yolov5_anchors_px(), kStrides, cfg);
    CHECK(out.items[0] == 0.0);
    CHECK(out.items[2] == 0.0);
    CHECK(out.items[1] > 0.0);
  }
}
