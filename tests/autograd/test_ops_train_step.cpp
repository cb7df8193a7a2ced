// End-to-end check of the differentiable ops in float, at full scale: one YOLOv5 training step
// of the yolov5n fixture model (shared/fixtures/yolov5n_nc5_seed0_train.npz) -- train-mode
// forward (conv, batch norm with batch statistics, SiLU, concat, upsample, SPPF max pools),
// YOLOv5's loss, backward -- against PyTorch: raw head outputs, every parameter gradient and
// every BatchNorm running statistic after the step.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include <yolite/io/npy.hpp>
#include <yolite/loss/yolo_loss.hpp>
#include <yolite/model/yolo.hpp>

using namespace yolite;

namespace {
const std::string kFix = std::string(YOLITE_SHARED_DIR) + "/fixtures/";

// max |a - b| / (atol + rtol * max|b|) over the tensor: < 1 passes. Gradients of one tensor
// share a scale, so the tolerance is relative to the tensor's largest entry.
double worst_rel_to_max(const Tensor<float>& a, const Tensor<float>& b, double rtol, double atol) {
  REQUIRE(a.shape() == b.shape());
  double mx = 0, err = 0;
  for (int64_t i = 0; i < b.numel(); ++i) mx = std::max(mx, std::abs(double(b[i])));
  for (int64_t i = 0; i < a.numel(); ++i) err = std::max(err, std::abs(double(a[i]) - double(b[i])));
  return err / (atol + rtol * mx);
}
}  // namespace

TEST_SUITE("autograd") {
  TEST_CASE("train step: yolov5n gradients and BN running stats match PyTorch") {
    auto m = model::make_yolov5("n", 5);
    {
      io::Npz st = io::load_npz(kFix + "yolov5n_nc5_seed0_state.npz");
      std::vector<std::pair<std::string, Tensor<float>>> f;
      std::vector<std::pair<std::string, int64_t>> ints;
      for (auto& k : st.keys()) {
        if (k.find("num_batches_tracked") != std::string::npos) ints.emplace_back(k, st.i64(k).at(0));
        else f.emplace_back(k, st.f32(k));
      }
      m->load_state_dict(f, nn::LoadMode::strict, ints);
    }
    const io::Npz z = io::load_npz(kFix + "yolov5n_nc5_seed0_train.npz");
    m->train();
    for (auto& [name, p] : m->named_parameters()) p.set_requires_grad(true);

    auto raw = m->forward_raw(Var<float>(z.f32("x")));
    REQUIRE(raw.size() == 3);
    for (int l = 0; l < 3; ++l) {
      CAPTURE(l);
      Tensor<float> mine = model::Detect<float>::to_yolov5_layout(raw[size_t(l)].value(), 3);
      CHECK(worst_rel_to_max(mine, z.f32("p" + std::to_string(l)), 1e-4, 1e-4) < 1);
    }
    const auto cfg = loss::scale_loss_gains(loss::LossConfig{}, 5, 3, 320);
    auto out = loss::yolo_loss<float>(raw, z.f32("targets"), loss::yolov5_anchors_px(), {8, 16, 32}, cfg);
    CHECK(out.total.value()[0] == doctest::Approx(z.f32("loss_total")[0]).epsilon(1e-4));
    out.total.backward();

    // every parameter gradient
    int checked = 0;
    double worst_all = 0;
    std::string worst_name;
    for (auto& [name, p] : m->named_parameters()) {
      CAPTURE(name);
      REQUIRE(p.grad().defined());
      const double w = worst_rel_to_max(p.grad(), z.f32("grad/" + name), 5e-4, 1e-7);
      if (w > worst_all) worst_all = w, worst_name = name;
      CHECK(w < 1);
      ++checked;
    }
    CHECK(checked == 177);
    MESSAGE("worst gradient: ", worst_name, " at ", worst_all, " of tolerance");

    // BatchNorm running statistics after the train-mode forward
    int bns = 0;
    for (auto& [key, t] : m->state_dict()) {
      const auto pos = key.rfind(".running_");
      if (pos == std::string::npos) continue;
      const std::string bn = key.substr(0, pos), what = key.substr(pos + 1);
      CAPTURE(key);
      CHECK(worst_rel_to_max(t, z.f32("bn_" + what + "/" + bn), 1e-4, 1e-6) < 1);
      ++bns;
    }
    CHECK(bns == 2 * 57);
    int tracked = 0;
    for (auto& [key, v] : m->int_buffers()) {
      CAPTURE(key);
      CHECK(*v == 5);  // 4 in the fixture, + this step
      ++tracked;
    }
    CHECK(tracked == 57);
  }
}
