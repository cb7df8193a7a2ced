// Parity of the YOLOv5 model with PyTorch reference tensors (shared/fixtures, see its README).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include <yolite/io/npy.hpp>
#include <yolite/model/yolo.hpp>

using namespace yolite;

namespace {
const std::string kFix = std::string(YOLITE_SHARED_DIR) + "/fixtures/";

// worst |a-b| / (atol + rtol*|b|) over the tensors; < 1 passes
double worst(const Tensor<float>& a, const Tensor<float>& b, double atol, double rtol) {
  REQUIRE(a.shape() == b.shape());
  double w = 0;
  for (int64_t i = 0; i < a.numel(); ++i)
    w = std::max(w, std::abs(double(a[i]) - double(b[i])) / (atol + rtol * std::abs(double(b[i]))));
  return w;
}

// The fixture's state (float tensors + num_batches_tracked) as load_state_dict takes it.
void load_npz_state(model::YoloModel& m, const io::Npz& z) {
  std::vector<std::pair<std::string, Tensor<float>>> f;
  std::vector<std::pair<std::string, int64_t>> ints;
  for (auto& k : z.keys()) {
    if (k.find("num_batches_tracked") != std::string::npos) ints.emplace_back(k, z.i64(k).at(0));
    else f.emplace_back(k, z.f32(k));
  }
  auto rep = m.load_state_dict(f, nn::LoadMode::strict, ints);
  CHECK(rep.loaded.size() == 349);
}
}  // namespace

TEST_SUITE("model") {
  TEST_CASE("yolov5n nc5: state_dict keys, order and shapes equal PyTorch's 349 entries") {
    auto m = model::make_yolov5("yolov5n", 5);
    io::Npz z = io::load_npz(kFix + "yolov5n_nc5_seed0_state.npz");
    auto keys = m->state_keys();
    REQUIRE(keys.size() == 349);
    REQUIRE(z.keys().size() == 349);
    size_t i = 0;
    for (auto& k : z.keys()) {
      INFO("entry ", i, " ", k);
      CHECK(keys[i].name == k);
      i++;
    }
    CHECK(m->num_parameters() == 1770682);
  }

  TEST_CASE("yolov5n nc5: eval forward matches the PyTorch fixture") {
    auto m = model::make_yolov5("n", 5);
    load_npz_state(*m, io::load_npz(kFix + "yolov5n_nc5_seed0_state.npz"));
    io::Npz io_ = io::load_npz(kFix + "yolov5n_nc5_seed0_io.npz");
    m->eval();
    NoGradGuard ng;
    std::vector<Var<float>> din;
    auto raw = m->forward_raw(Var<float>(io_.f32("x")), &din);
    for (int l = 0; l < 3; ++l) {
      auto L = std::to_string(l);
      CHECK(worst(din[l].value(), io_.f32("detect_in_" + L), 1e-3, 1e-3) < 1);
      CHECK(worst(raw[l].value(), io_.f32("head_conv_" + L), 1e-3, 1e-3) < 1);
      CHECK(worst(model::Detect<float>::to_yolov5_layout(raw[l].value(), 3),
                  io_.f32("head_raw_" + L), 1e-3, 1e-3) < 1);
    }
    // decoded: boxes in pixels, then objectness and class probabilities
    Tensor<float> y = m->detect().decode(raw), ref = io_.f32("y");
    REQUIRE(y.shape() == ref.shape());
    double wb = 0, wp = 0;
    for (int64_t r = 0; r < y.size(1); ++r)
      for (int k = 0; k < 10; ++k) {
        double a = y.at(0, r, k), b = ref.at(0, r, k);
        if (k < 4) wb = std::max(wb, std::abs(a - b) / (2e-2 + 1e-3 * std::abs(b)));
        else wp = std::max(wp, std::abs(a - b) / 1e-4);
      }
    MESSAGE("yolov5n decoded: worst box ", wb, ", worst prob ", wp, " (of tolerance)");
    CHECK(wb < 1);
    CHECK(wp < 1);
    // predict() gives the same from a fresh call
    Tensor<float> y2 = m->predict(io_.f32("x"));
    REQUIRE(y2.shape() == y.shape());
    CHECK(std::equal(y2.begin(), y2.end(), y.begin()));
  }
}
