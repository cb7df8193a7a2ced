// Gradients through a whole (tiny) YOLOv5 network in double: autograd vs finite differences.
#include <doctest/doctest.h>

#include <functional>
#include <string>

#include <yolite/autograd/gradcheck.hpp>
#include <yolite/autograd/ops.hpp>
#include <yolite/model/yolo.hpp>

using namespace yolite;

TEST_SUITE("model") {
  TEST_CASE("gradients: tiny yolov5 layer table in double, train mode, match finite differences") {
    // yolov5n's layer table at width 1/16 (channels 8..64): every block type, both Concat
    // kinds, both Upsamples and the three Detect levels are on the path.
    model::ModelSpec spec = model::yolov5_spec("n");
    spec.width_multiple = 0.0625;
    model::BasicYolo<double> m(spec, 1, 3);
    CHECK(m.state_keys()[0].shape == Shape({8, 3, 6, 6}));
    // spread the BN parameters so the check is not about near-zero signals
    Rng rng(11);
    for (auto& [name, t] : m.state_dict()) {
      if (name.find(".bn.weight") != std::string::npos)
        for (auto& v : t) v = rng.uniform(0.5, 1.5);
      if (name.find(".bn.bias") != std::string::npos)
        for (auto& v : t) v = rng.uniform(-0.3, 0.3);
    }
    m.train();
    Tensor<double> x({2, 3, 32, 64});
    for (auto& v : x) v = rng.uniform();
    std::vector<Tensor<double>> r;
    for (auto& o : m.forward_raw(Var<double>(x))) {
      Tensor<double> w(o.shape());
      for (auto& v : w) v = rng.uniform(-1, 1);
      r.push_back(w);
    }
    std::vector<Var<double>> inputs;
    for (auto& [name, p] : m.named_parameters())
      if (name == "model.24.m.1.bias" || name == "model.0.bn.weight" ||
          name == "model.9.cv2.bn.bias" || name == "model.13.m.0.cv2.bn.weight" ||
          name == "model.2.m.0.cv1.conv.weight")
        inputs.push_back(p);
    REQUIRE(inputs.size() == 5);
    std::function<Var<double>(std::vector<Var<double>>&)> f = [&](std::vector<Var<double>>&) {
      auto raw = m.forward_raw(Var<double>(x));
      Var<double> loss = ag::sum(ag::mul(raw[0], Var<double>(r[0])));
      for (size_t l = 1; l < raw.size(); ++l)
        loss = ag::add(loss, ag::sum(ag::mul(raw[l], Var<double>(r[l]))));
      return loss;
    };
    // early-layer gradients reach several hundred here, so the check is relative (1e-5);
    // measured: worst relative difference about 3e-6, absolute 2e-3 on a gradient of 717
    auto res = gradcheck<double>(f, inputs, 1e-6, 1e-6, 1e-5);
    INFO(res.message);
    CHECK(res.ok);
    MESSAGE("max |analytic - numeric| = ", res.max_abs_err);
  }
}
