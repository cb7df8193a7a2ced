// The bf16 path end to end on a real network (ops::PrecisionGuard around a yolov5n): eval
// outputs and one training step's gradients stay close to fp32, repeat bit for bit, and the
// options that select it (TrainOptions::bf16, DetectorOptions::bf16) round-trip / apply.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include <yolite/autograd/ops.hpp>
#include <yolite/core/rng.hpp>
#include <yolite/infer/detector.hpp>
#include <yolite/loss/yolo_loss.hpp>
#include <yolite/model/yolo.hpp>
#include <yolite/ops/conv2d.hpp>
#include <yolite/train/options_json.hpp>
#include <yolite/train/validate.hpp>

using namespace yolite;

namespace {
Tensor<float> images(int b, int h, int w, uint64_t seed) {
  Rng rng(seed);
  Tensor<float> t({b, 3, h, w});
  for (auto& v : t) v = float(rng.uniform(0.0, 1.0));
  return t;
}
Tensor<float> targets(int b) {
  Tensor<float> t({2 * b, 6});
  for (int i = 0; i < 2 * b; ++i) {
    const float v[6] = {float(i / 2), float(i % 5), 0.3f + 0.1f * (i % 3), 0.6f - 0.1f * (i % 2),
                        0.2f + 0.05f * (i % 4), 0.3f};
    for (int k = 0; k < 6; ++k) t.at(i, k) = v[k];
  }
  return t;
}
// all gradients of one forward + loss + backward, concatenated
std::vector<float> grads_of_step(model::YoloModel& m, const Tensor<float>& x, const Tensor<float>& t,
                                 ops::Precision prec) {
  ops::PrecisionGuard g(prec);
  m.zero_grad();
  auto raw = m.forward_raw(Var<float>(x));
  loss::LossConfig lc;
  auto out = loss::yolo_loss<float>(raw, t, train::anchor_set(m), m.stride(), lc);
  out.total.backward();
  std::vector<float> all;
  for (auto& [name, p] : m.named_parameters())
    if (p.grad().defined()) all.insert(all.end(), p.grad().begin(), p.grad().end());
  return all;
}
}  // namespace

TEST_SUITE("nn") {
  TEST_CASE("bf16 yolov5n: eval outputs and training gradients close to fp32, deterministic") {
    if (!ops::bf16::cpu_supported()) {
      MESSAGE("this CPU lacks AVX512_BF16: bf16 model test not run");
      CHECK_THROWS_AS(ops::PrecisionGuard(ops::Precision::bf16, "--bf16"), Error);
      return;
    }
    auto m = std::make_shared<model::YoloModel>(model::yolov5_spec("yolov5n"), 5, 0);
    Tensor<float> x = images(2, 128, 128, 3);
    {  // eval: raw maps within a few percent of the largest output
      m->eval();
      NoGradGuard ng;
      auto a = m->forward_raw(Var<float>(x));
      ops::PrecisionGuard bf(ops::Precision::bf16);
      auto b = m->forward_raw(Var<float>(x));
      for (size_t l = 0; l < a.size(); ++l) {
        double d = 0, mx = 0;
        for (int64_t i = 0; i < a[l].value().numel(); ++i) {
          d = std::max(d, double(std::fabs(a[l].value()[i] - b[l].value()[i])));
          mx = std::max(mx, double(std::fabs(a[l].value()[i])));
        }
        INFO("level " << l << " max|diff| " << d << " max|y| " << mx);
        CHECK(d > 0);
        CHECK(d < 0.03 * mx);
      }
    }
    m->train();
    Tensor<float> t = targets(2);
    auto g32 = grads_of_step(*m, x, t, ops::Precision::fp32);
    auto g16 = grads_of_step(*m, x, t, ops::Precision::bf16);
    auto g16b = grads_of_step(*m, x, t, ops::Precision::bf16);
    REQUIRE(g32.size() == g16.size());
    CHECK(g16 == g16b);  // same inputs, same thread count -> same bits
    double dot = 0, n32 = 0, n16 = 0;
    for (size_t i = 0; i < g32.size(); ++i)
      dot += double(g32[i]) * g16[i], n32 += double(g32[i]) * g32[i], n16 += double(g16[i]) * g16[i];
    const double cosine = dot / std::sqrt(n32 * n16);
    INFO("cosine(grad fp32, grad bf16) = " << cosine);
    // A fresh network in train mode (batch statistics over few pixels at the deep levels, the
    // objectness target taken from the predicted boxes' IoU) is sensitive to tiny changes:
    // measured here, rounding only the input image to bf16 (all else fp32) already gives a
    // gradient cosine of 0.971, and the full bf16 path 0.940 (per layer from 0.998 at the head
    // to 0.94 at the stem). Each kernel's exactness is tested in tests/ops/test_conv2d_bf16.cpp;
    // this bound catches a wrong operand or layout (cosine near 0), not rounding.
    CHECK(cosine > 0.9);
    CHECK(g16 != g32);
  }

  TEST_CASE("bf16 options: TrainOptions json round trip, Detector option") {
    train::TrainOptions o;
    CHECK(!o.bf16);
    o.bf16 = true;
    CHECK(train::options_from_json(train::to_json(o)).bf16);
    o.bf16 = false;
    CHECK(!train::options_from_json(train::to_json(o)).bf16);
    const std::string pt = std::string(YOLITE_SHARED_DIR) + "/fixtures/yolov5n_nc5_seed0.pt";
    DetectorOptions d;
    d.imgsz = 128;
    d.conf_thres = 0.001f;
    d.bf16 = true;
    if (!ops::bf16::cpu_supported()) {
      CHECK_THROWS_AS(Detector(pt, d), Error);
      return;
    }
    Detector det(pt, d);
    Image img(120, 100, 3, 90);
    CHECK_NOTHROW(det.detect(img));
    CHECK(ops::thread_precision() == ops::Precision::fp32);  // restored after the call
  }
}
