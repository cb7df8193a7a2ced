// yolov5n/yolov5s built from YOLOv5 .pt checkpoints (io/torch_pt.hpp) against PyTorch's outputs.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include <yolite/io/npy.hpp>
#include <yolite/io/torch_pt.hpp>
#include <yolite/model/cfg_yaml.hpp>
#include <yolite/model/yolo.hpp>

using namespace yolite;

namespace {
const std::string kPtFix = std::string(YOLITE_SHARED_DIR) + "/fixtures/";

std::vector<std::pair<std::string, int64_t>> ints_of(const io::TorchCheckpoint& ck) {
  return {ck.int_buffers.begin(), ck.int_buffers.end()};
}

// Builds the model the checkpoint describes (its yaml) and loads every tensor strictly.
std::shared_ptr<model::YoloModel> model_from_pt(const io::TorchCheckpoint& ck, const std::string& name) {
  auto spec = model::spec_from_json(ck.yaml, name, "checkpoint yaml");
  auto m = std::make_shared<model::YoloModel>(spec, ck.nc);
  auto rep = m->load_state_dict(ck.state, nn::LoadMode::strict, ints_of(ck));
  CHECK(rep.loaded.size() == 349);
  return m;
}

struct Worst {
  double w = 0;
  void add(double a, double b, double atol, double rtol) {
    w = std::max(w, std::abs(a - b) / (atol + rtol * std::abs(b)));
  }
};

void check_parity(const std::string& stem) {
  io::TorchCheckpoint ck = io::load_yolov5_pt(kPtFix + stem + ".pt");
  REQUIRE(ck.nc == 5);
  auto m = model_from_pt(ck, stem.substr(0, 7));
  CHECK(m->stride() == std::vector<double>{8, 16, 32});
  io::Npz ref = io::load_npz(kPtFix + stem + "_io.npz");
  m->eval();
  NoGradGuard ng;
  std::vector<Var<float>> din;
  auto raw = m->forward_raw(Var<float>(ref.f32("x")), &din);
  for (int l = 0; l < 3; ++l) {
    const std::string L = std::to_string(l);
    Tensor<float> a = din[size_t(l)].value(), b = ref.f32("detect_in_" + L);
    Tensor<float> c = raw[size_t(l)].value(), d = ref.f32("head_conv_" + L);
    Tensor<float> e = model::Detect<float>::to_yolov5_layout(c, 3), f = ref.f32("head_raw_" + L);
    REQUIRE(a.shape() == b.shape());
    REQUIRE(c.shape() == d.shape());
    REQUIRE(e.shape() == f.shape());
    Worst w1, w2, w3;
    for (int64_t i = 0; i < a.numel(); ++i) w1.add(a[i], b[i], 1e-3, 1e-3);
    for (int64_t i = 0; i < c.numel(); ++i) w2.add(c[i], d[i], 1e-3, 1e-3);
    for (int64_t i = 0; i < e.numel(); ++i) w3.add(e[i], f[i], 1e-3, 1e-3);
    INFO(stem, " level ", l, ": detect_in ", w1.w, ", head_conv ", w2.w, ", head_raw ", w3.w);
    CHECK(w1.w < 1);
    CHECK(w2.w < 1);
    CHECK(w3.w < 1);
  }
  Tensor<float> y = m->detect().decode(raw), yr = ref.f32("y");
  REQUIRE(y.shape() == yr.shape());
  Worst box, prob;
  for (int64_t r = 0; r < y.size(1); ++r)
    for (int k = 0; k < 10; ++k) {
      if (k < 4) box.add(y.at(0, r, k), yr.at(0, r, k), 2e-2, 1e-3);
      else prob.add(y.at(0, r, k), yr.at(0, r, k), 1e-4, 0);
    }
  MESSAGE(stem, ": worst decoded box ", box.w, ", prob ", prob.w, " (fraction of tolerance)");
  CHECK(box.w < 1);
  CHECK(prob.w < 1);
}
}  // namespace

TEST_SUITE("model") {
  TEST_CASE("parity: yolov5n from its .pt") { check_parity("yolov5n_nc5_seed0"); }
  TEST_CASE("parity: yolov5s from its .pt") { check_parity("yolov5s_nc5_seed0"); }

  TEST_CASE("the checkpoint's yaml gives the built-in spec") {
    io::TorchCheckpoint ck = io::load_yolov5_pt(kPtFix + "yolov5s_nc5_seed0.pt");
    auto a = model::spec_from_json(ck.yaml, "yolov5s");
    auto b = model::yolov5_spec("yolov5s");
    CHECK(a.depth_multiple == b.depth_multiple);
    CHECK(a.width_multiple == b.width_multiple);
    CHECK(a.anchors == b.anchors);
    REQUIRE(a.layers.size() == b.layers.size());
    for (size_t i = 0; i < a.layers.size(); ++i) {
      INFO("layer ", i);
      CHECK(a.layers[i].from == b.layers[i].from);
      CHECK(a.layers[i].repeats == b.layers[i].repeats);
      CHECK(a.layers[i].block == b.layers[i].block);
    }
    // the same model either way: identical state keys and shapes
    auto ka = model::YoloModel(a, 5).state_keys(), kb = model::YoloModel(b, 5).state_keys();
    REQUIRE(ka.size() == kb.size());
    for (size_t i = 0; i < ka.size(); ++i) {
      CHECK(ka[i].name == kb[i].name);
      CHECK(ka[i].shape == kb[i].shape);
    }
  }

  TEST_CASE("the .pt and the _state.npz hold the same yolov5n weights") {
    io::TorchCheckpoint ck = io::load_yolov5_pt(kPtFix + "yolov5n_nc5_seed0.pt");
    io::Npz z = io::load_npz(kPtFix + "yolov5n_nc5_seed0_state.npz");
    auto m = model::make_yolov5("n", 5);
    m->load_state_dict(ck.state, nn::LoadMode::strict, ints_of(ck));
    for (auto& [name, t] : m->state_dict()) {
      Tensor<float> r = z.f32(name);
      REQUIRE(r.shape() == t.shape());
      CHECK(std::equal(t.begin(), t.end(), r.begin()));
    }
    for (auto& [name, p] : m->int_buffers()) CHECK(*p == 4);
  }
}
