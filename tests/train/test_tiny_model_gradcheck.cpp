// Gradient check of the whole training objective on a tiny model: d loss / d parameter
// from one backward through loss + Detect + head + backbone, against central finite differences,
// in double precision.
//
// The model is the full YOLOv5 layer table (Conv, C3 with and without shortcuts, SPPF,
// Upsample, Concat, Detect) at width 0.125 (8..128 channels) on 2 images of 64x64, as
// model::BasicYolo<double>. BatchNorm stays in TRAIN mode: it normalises with the batch
// statistics, which are a deterministic function of the parameters for a fixed batch, so the
// check covers BatchNorm's batch-statistics backward too (the running-stat update does not touch
// the output).
//
// YOLOv5's loss detaches two things: CIoU's alpha and the objectness target of each positive
// (tobj = max(ciou, 0)). Backward treats them as constants, so the finite differences must too:
// the first evaluation records them (YoloLossOutput::detached) and every perturbed evaluation
// calls loss::yolo_loss_assigned with those fixed values and the same positives. The loss is then
// an exact smooth function of the parameters whose derivative is what backward computes.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <yolite/core/rng.hpp>
#include <yolite/loss/yolo_loss.hpp>
#include <yolite/model/yolo.hpp>

using namespace yolite;

namespace {

struct TinyProblem {
  std::shared_ptr<model::BasicYolo<double>> m;
  Tensor<double> x;
  std::vector<loss::LevelTargets<double>> levels;
  std::vector<int64_t> na;
  loss::LossConfig cfg;
};

TinyProblem make_problem() {
  TinyProblem p;
  model::ModelSpec spec = model::yolov5_spec("n");
  spec.width_multiple = 0.125;  // channels 8, 16, 32, 64, 128
  p.m = std::make_shared<model::BasicYolo<double>>(spec, /*nc=*/3, /*seed=*/7);
  p.m->train();
  Rng rng(11);
  p.x = Tensor<double>({2, 3, 64, 64});
  for (auto& v : p.x) v = rng.uniform();
  // (image, class, cx, cy, w, h): boxes of 6..58 px so that every level (anchors 10..373 px)
  // gets positives.
  const double rows[][6] = {{0, 0, 0.30, 0.40, 0.25, 0.30}, {0, 1, 0.70, 0.22, 0.50, 0.40},
                            {0, 2, 0.12, 0.85, 0.10, 0.16}, {1, 1, 0.52, 0.55, 0.90, 0.80},
                            {1, 2, 0.81, 0.63, 0.30, 0.55}};
  Tensor<double> targets({5, 6});
  for (int r = 0; r < 5; ++r)
    for (int c = 0; c < 6; ++c) targets.at(r, c) = rows[r][c];
  std::vector<loss::GridSize> grids{{8, 8}, {4, 4}, {2, 2}};
  p.levels = loss::build_targets<double>(
      targets, grids, loss::anchors_in_grid_units<double>(loss::yolov5_anchors_px(), p.m->stride()),
      4.0);
  p.na = {3, 3, 3};
  p.cfg = loss::LossConfig{};  // unscaled gains: box 0.05, obj 1, cls 0.5
  return p;
}

// d loss / d w by the fourth-order central stencil
//   (8 (L(w+h) - L(w-h)) - (L(w+2h) - L(w-2h))) / (12 h),
// whose truncation error is O(h^4): with h = 1e-5 in double the slope is good to ~1e-9
// relative (the plain two-point difference is only good to ~1e-5 on the stem conv, whose loss
// surface is strongly curved because the BatchNorm after it undoes the weights' scale).
template <class F>
double fd_slope(F&& loss_at, double& w, double h) {
  const double w0 = w;
  auto at = [&](double d) {
    w = w0 + d;
    return loss_at();
  };
  const double d1 = at(h) - at(-h), d2 = at(2 * h) - at(-2 * h);
  w = w0;
  return (8 * d1 - d2) / (12 * h);
}

// The agreement demanded: |backward - fd| <= 1e-9 + 1e-6 |fd|. The absolute part is ~30x the
// rounding noise of the differences (1e-16 * loss / h); on this problem the worst case measured
// is ~0.1 of the bound.
bool close(double analytic, double numeric, double* ratio = nullptr) {
  const double r = std::abs(analytic - numeric) / (1e-9 + 1e-6 * std::abs(numeric));
  if (ratio) *ratio = r;
  return r <= 1.0;
}

}  // namespace

TEST_SUITE("train") {
  TEST_CASE("tiny YOLOv5 (double, train-mode BN): loss gradients match central finite differences") {
    TinyProblem P = make_problem();
    for (int l = 0; l < 3; ++l) REQUIRE(P.levels[size_t(l)].size() > 0);  // positives on every level
    auto& m = *P.m;

    // Analytic gradients from one backward.
    auto maps = m.forward_raw(Var<double>(P.x));
    auto out = loss::yolo_loss_assigned<double>(maps, P.levels, P.na, P.cfg);
    const loss::DetachedValues fixed = out.detached;
    const double L0 = out.total.value()[0];
    REQUIRE(std::isfinite(L0));
    out.total.backward();

    // The loss with the detached values held fixed (no graph recorded).
    auto loss_at = [&]() {
      NoGradGuard ng;
      auto mp = m.forward_raw(Var<double>(P.x));
      return double(loss::yolo_loss_assigned<double>(mp, P.levels, P.na, P.cfg, &fixed).total.value()[0]);
    };
    CHECK(loss_at() == doctest::Approx(L0).epsilon(1e-13));  // same function, same value

    // Parameters sampled across the network: stem conv, backbone bottleneck, a BN in the
    // backbone and one in the head, SPPF, head C3, and all three Detect convs.
    const std::vector<std::string> names{
        "model.0.conv.weight",        "model.2.m.0.cv2.conv.weight", "model.4.cv1.bn.weight",
        "model.4.cv1.bn.bias",        "model.6.m.1.cv1.conv.weight", "model.9.cv2.conv.weight",
        "model.13.cv3.conv.weight",   "model.17.cv3.bn.weight",      "model.23.cv2.bn.bias",
        "model.24.m.0.weight",        "model.24.m.0.bias",           "model.24.m.1.bias",
        "model.24.m.2.weight",        "model.24.m.2.bias"};
    const auto params = m.named_parameters();
    Rng pick(3);
    const double h = 1e-5;
    double worst = 0, biggest = 0;
    std::string worst_at;
    int checked = 0;
    for (const auto& name : names) {
      auto it = std::find_if(params.begin(), params.end(),
                             [&](const auto& p) { return p.first == name; });
      REQUIRE_MESSAGE(it != params.end(), "no parameter named ", name);
      Var<double> v = it->second;
      REQUIRE(v.grad().defined());
      const int64_t n = v.value().numel();
      double tensor_max = 0;
      std::vector<int64_t> picked;
      while (picked.size() < 3) {
        const int64_t i = int64_t(pick.below(uint32_t(n)));
        if (std::find(picked.begin(), picked.end(), i) == picked.end()) picked.push_back(i);
      }
      for (const int64_t i : picked) {
        const double numeric = fd_slope(loss_at, v.value()[i], h);
        const double analytic = v.grad()[i];
        double ratio = 0;
        const bool ok = close(analytic, numeric, &ratio);
        INFO(name, "[", i, "]: backward ", analytic, ", finite difference ", numeric);
        CHECK(ok);
        if (ratio > worst) worst = ratio, worst_at = name;
        tensor_max = std::max(tensor_max, std::abs(numeric));
        biggest = std::max(biggest, std::abs(numeric));
        ++checked;
      }
      INFO(name);
      CHECK(tensor_max > 1e-6);  // the check is not vacuous: these parameters move the loss
    }
    std::printf("tiny-model gradcheck: %d parameters, worst |backward - fd| / (1e-9 + 1e-6 |fd|) "
                "= %.3g at %s, largest |gradient| %.3g\n",
                checked, worst, worst_at.c_str(), biggest);
  }

  TEST_CASE("tiny YOLOv5 gradcheck: a wrong gradient is caught") {
    // The same comparison on a gradient deliberately off by 1e-5 (relative) must fail: the
    // tolerance above sees a 0.001% error in a derivative of this size.
    TinyProblem P = make_problem();
    auto& m = *P.m;
    auto maps = m.forward_raw(Var<double>(P.x));
    auto out = loss::yolo_loss_assigned<double>(maps, P.levels, P.na, P.cfg);
    const loss::DetachedValues fixed = out.detached;
    out.total.backward();
    Var<double> v;
    for (auto& [n, p] : m.named_parameters())
      if (n == "model.24.m.1.bias") v = p;
    REQUIRE(v.defined());
    const int64_t i = 4;  // objectness bias of anchor 0 at P4
    auto loss_at = [&]() {
      NoGradGuard ng;
      auto mp = m.forward_raw(Var<double>(P.x));
      return double(loss::yolo_loss_assigned<double>(mp, P.levels, P.na, P.cfg, &fixed).total.value()[0]);
    };
    const double numeric = fd_slope(loss_at, v.value()[i], 1e-5);
    CHECK(std::abs(numeric) > 1e-4);
    CHECK(close(v.grad()[i], numeric));
    CHECK_FALSE(close(v.grad()[i] * (1 + 1e-5), numeric));
  }
}
