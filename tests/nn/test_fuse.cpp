// Conv + BatchNorm fusion for inference (nn/conv.hpp: Conv::fuse, nn::fuse_conv_bn; used by
// infer/detector.hpp): fused outputs equal the unfused eval-mode outputs, the state dict does
// not change, and training mode ignores the fused snapshot.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include <yolite/autograd/ops.hpp>
#include <yolite/core/rng.hpp>
#include <yolite/infer/detector.hpp>
#include <yolite/model/yolo.hpp>
#include <yolite/nn/conv.hpp>

using namespace yolite;

namespace {
Tensor<float> random_input(const Shape& s, uint64_t seed) {
  Rng rng(seed);
  Tensor<float> t(s);
  for (auto& v : t) v = float(rng.uniform(0.0, 1.0));
  return t;
}
// BN parameters and running statistics far from the identity, so fusion has work to do.
void randomise_bn(nn::Module<float>& m, uint64_t seed) {
  Rng rng(seed);
  for (auto& [name, t] : m.state_dict()) {
    if (name.find("bn.") == std::string::npos) continue;
    const bool positive = name.find("running_var") != std::string::npos ||
                          name.find("bn.weight") != std::string::npos;
    for (auto& v : t) v = float(positive ? rng.uniform(0.3, 2.0) : rng.uniform(-0.5, 0.5));
  }
}
// max |a-b| / (1 + max |b|)
double rel_diff(const Tensor<float>& a, const Tensor<float>& b) {
  REQUIRE(a.shape() == b.shape());
  double d = 0, m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    d = std::max(d, double(std::fabs(a[i] - b[i])));
    m = std::max(m, double(std::fabs(b[i])));
  }
  return d / (1 + m);
}
}  // namespace

TEST_SUITE("nn") {
  TEST_CASE("Conv::fuse: one conv with folded BN equals conv -> BN -> SiLU in eval mode") {
    nn::Conv<float> c(8, 16, 3, 2);
    Rng rng(3);
    c.init_parameters(rng);
    randomise_bn(c, 4);
    c.eval();
    Tensor<float> x = random_input({2, 8, 17, 19}, 5);
    NoGradGuard ng;
    Tensor<float> ref = c.forward(Var<float>(x)).value().clone();
    auto sd_before = c.state_dict();
    c.fuse();
    CHECK(c.fused());
    Tensor<float> got = c.forward(Var<float>(x)).value();
    CHECK(rel_diff(got, ref) < 1e-5);
    CHECK(rel_diff(got, ref) > 0);  // really a different computation (not the BN path)
    CHECK(c.state_dict().size() == sd_before.size());  // no new parameters or buffers
    // training mode ignores the snapshot (BN uses batch statistics there)
    c.train();
    Tensor<float> tr_fused = c.forward(Var<float>(x)).value().clone();
    c.unfuse();
    CHECK(!c.fused());
    Tensor<float> tr_plain = c.forward(Var<float>(x)).value();
    CHECK(rel_diff(tr_fused, tr_plain) == 0);
  }

  TEST_CASE("Conv::fuse: with a graph (input requires grad) the fused block still differentiates") {
    nn::Conv<float> c(4, 6, 3, 1);
    Rng rng(13);
    c.init_parameters(rng);
    randomise_bn(c, 14);
    c.eval();
    c.fuse();
    Tensor<float> x = random_input({1, 4, 9, 7}, 15);
    Tensor<float> no_graph;
    {
      NoGradGuard ng;  // the epilogue path (SiLU inside the conv, packed weights)
      no_graph = c.forward(Var<float>(x)).value().clone();
    }
    Var<float> xv(x, /*requires_grad=*/true);
    Var<float> y = c.forward(xv);  // ag::silu(ag::conv2d(...)): a graph to x
    CHECK(rel_diff(y.value(), no_graph) < 1e-6);
    ag::sum(y).backward();
    REQUIRE(xv.grad().numel() == x.numel());
    double g = 0;
    for (int64_t i = 0; i < x.numel(); ++i) g += std::fabs(double(xv.grad()[i]));
    CHECK(g > 0);
  }

  TEST_CASE("fuse_conv_bn: a whole yolov5n gives the same raw outputs fused and unfused") {
    auto m = std::make_shared<model::YoloModel>(model::yolov5_spec("yolov5n"), 5, 0);
    randomise_bn(*m, 11);
    m->eval();
    Tensor<float> x = random_input({1, 3, 128, 160}, 7);
    NoGradGuard ng;
    auto plain = m->forward_raw(Var<float>(x));
    const int n = nn::fuse_conv_bn<float>(*m);
    CHECK(n == 57);  // yolov5n's Conv blocks (every Conv2d but Detect's three)
    // Detect's three Conv2d heads are packed instead (their eval forward skips re-packing)
    for (auto& c : m->detect().convs) CHECK(c->packed());
    auto fused = m->forward_raw(Var<float>(x));
    REQUIRE(plain.size() == 3);
    for (size_t i = 0; i < 3; ++i) {
      INFO("level " << i);
      CHECK(rel_diff(fused[i].value(), plain[i].value()) < 1e-4);
    }
    // a packed head alone: same bits as the unpacked 1x1 convolution (the same direct kernel)
    auto& head = *m->detect().convs[0];
    Tensor<float> h = random_input({1, head.c1, 9, 7}, 3);
    auto a = head.forward(Var<float>(h));
    head.unpack();
    CHECK(!head.packed());
    auto b = head.forward(Var<float>(h));
    CHECK(rel_diff(a.value(), b.value()) == 0.0);
  }

  TEST_CASE("Conv2d::pack: a snapshot used in eval mode only; training mode keeps the graph") {
    nn::Conv2d<float> c(16, 24, 3, 1, 1, true);
    Rng rng(4);
    c.init_parameters(rng);
    c.eval();
    Tensor<float> x = random_input({2, 16, 6, 5}, 8);
    NoGradGuard ng;
    auto plain = c.forward(Var<float>(x));
    c.pack();  // 3x3 stride 1: the Winograd form
    auto packed = c.forward(Var<float>(x));
    CHECK(rel_diff(packed.value(), plain.value()) < 1e-5);
    c.weight.value()[0] += 1.f;  // the snapshot does not follow the weights...
    CHECK(rel_diff(c.forward(Var<float>(x)).value(), packed.value()) == 0.0);
    c.train();  // ...and training mode ignores it
    CHECK(rel_diff(c.forward(Var<float>(x)).value(), packed.value()) > 0.0);
  }

  TEST_CASE("Detector: fused (default) and unfused give the same detections") {
    const std::string pt = std::string(YOLITE_SHARED_DIR) + "/fixtures/yolov5n_nc5_seed0.pt";
    DetectorOptions o;
    o.imgsz = 256;
    o.conf_thres = 0.001f;  // an untrained model: keep low-confidence boxes so there are some
    Detector fused(pt, o);
    o.fuse = false;
    Detector plain(pt, o);
    Image img(200, 150, 3);
    Rng rng(2);
    for (int y = 0; y < img.h; ++y)
      for (int xx = 0; xx < img.w; ++xx)
        for (int c = 0; c < 3; ++c) img.at(xx, y)[c] = uint8_t((xx * 3 + y * 5 + c * 70) % 256);
    auto a = fused.detect(img), b = plain.detect(img);
    REQUIRE(!b.empty());
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      CHECK(a[i].cls == b[i].cls);
      CHECK(a[i].score == doctest::Approx(b[i].score).epsilon(1e-3));
      CHECK(a[i].x1 == doctest::Approx(b[i].x1).epsilon(1e-3));
      CHECK(a[i].y2 == doctest::Approx(b[i].y2).epsilon(1e-3));
    }
  }
}
