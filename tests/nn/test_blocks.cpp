// nn/: Module registry (PyTorch names, state sharing, loading) and the YOLOv5 blocks.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <string>

#include <yolite/autograd/gradcheck.hpp>
#include <yolite/autograd/ops.hpp>
#include <yolite/nn/bottleneck.hpp>
#include <yolite/nn/c3.hpp>
#include <yolite/nn/conv.hpp>
#include <yolite/nn/layers.hpp>
#include <yolite/nn/sppf.hpp>

using namespace yolite;

namespace {
template <class T>
Tensor<T> random_tensor(const Shape& s, uint64_t seed, double lo = -1, double hi = 1) {
  Rng rng(seed);
  Tensor<T> t(s);
  for (auto& v : t) v = T(rng.uniform(lo, hi));
  return t;
}
// Gives BN non-trivial affine parameters and running stats so eval mode is tested too.
template <class T>
void randomise(nn::Module<T>& m, uint64_t seed) {
  Rng rng(seed);
  for (auto& [name, t] : m.state_dict()) {
    const bool var = name.find("running_var") != std::string::npos;
    const bool bnw = name.find("bn.weight") != std::string::npos;
    for (auto& v : t) v = T(var ? rng.uniform(0.5, 1.5) : bnw ? rng.uniform(0.5, 1.5) : rng.uniform(-0.5, 0.5));
  }
}
}  // namespace

TEST_SUITE("nn") {
  TEST_CASE("Conv: PyTorch names, registration order, shapes") {
    nn::Conv<float> c(3, 8, 3, 2);
    auto keys = c.state_keys();
    REQUIRE(keys.size() == 6);
    CHECK(keys[0].name == "conv.weight");
    CHECK(keys[0].shape == Shape({8, 3, 3, 3}));
    CHECK(keys[1].name == "bn.weight");
    CHECK(keys[2].name == "bn.bias");
    CHECK(keys[3].name == "bn.running_mean");
    CHECK(keys[4].name == "bn.running_var");
    CHECK(keys[5].name == "bn.num_batches_tracked");
    CHECK(keys[5].is_int);
    CHECK(c.named_parameters().size() == 3);
    CHECK(c.state_dict().size() == 5);
    CHECK(c.int_buffers().size() == 1);
    CHECK(c.num_parameters() == 8 * 3 * 9 + 16);
    CHECK(c.bn->eps == doctest::Approx(1e-3));
    CHECK(c.bn->momentum == doctest::Approx(0.03));
    Var<float> y = c.forward(Var<float>(random_tensor<float>({2, 3, 10, 10}, 1)));
    CHECK(y.shape() == Shape({2, 8, 5, 5}));
    CHECK(*c.int_buffers()[0].second == 1);  // train mode: one batch tracked
    c.eval();
    c.forward(Var<float>(random_tensor<float>({2, 3, 10, 10}, 2)));
    CHECK(*c.int_buffers()[0].second == 1);  // eval: running stats untouched
  }

  TEST_CASE("Conv: state_dict shares storage; load_state_dict copies; strict refuses mismatches") {
    nn::Conv<float> a(4, 4, 1), b(4, 4, 1);
    Rng r1(1), r2(2);
    a.init_parameters(r1);
    b.init_parameters(r2);
    auto sa = a.state_dict();
    sa[0].second[0] = 42.f;  // writes into a's conv weight
    CHECK(a.conv->weight.value()[0] == 42.f);
    *a.int_buffers()[0].second = 7;
    b.load_state_dict(a.state_dict(), nn::LoadMode::strict, {{"bn.num_batches_tracked", 7}});
    CHECK(b.conv->weight.value()[0] == 42.f);
    CHECK(*b.int_buffers()[0].second == 7);
    CHECK_FALSE(b.conv->weight.value().same_data(a.conv->weight.value()));  // a copy, not a share

    nn::Conv<float> c(4, 8, 1);
    Tensor<float> before = c.conv->weight.value().clone();
    CHECK_THROWS_AS(c.load_state_dict(a.state_dict(), nn::LoadMode::strict), Error);
    CHECK(std::equal(before.begin(), before.end(), c.conv->weight.value().begin()));  // unchanged
    auto rep = c.load_state_dict(a.state_dict(), nn::LoadMode::transfer);
    CHECK(rep.loaded.empty());                 // every tensor has another shape (8 vs 4 channels)
    CHECK(rep.mismatched.size() == 5);
    CHECK(rep.missing.size() == 1);            // num_batches_tracked was not given
    // a one-element float tensor loads an integer buffer
    std::vector<std::pair<std::string, Tensor<float>>> src{{"bn.num_batches_tracked", Tensor<float>({}, 3.f)}};
    auto r = a.load_state_dict(src, nn::LoadMode::transfer);
    CHECK(r.loaded.size() == 1);
    CHECK(*a.int_buffers()[0].second == 3);
    // an unknown key is reported, and refused in strict mode
    src.emplace_back("nope.weight", Tensor<float>({1}));
    CHECK(a.load_state_dict(src, nn::LoadMode::transfer).unexpected == std::vector<std::string>{"nope.weight"});
    CHECK_THROWS_WITH_AS(a.load_state_dict(src, nn::LoadMode::strict),
                         doctest::Contains("nope.weight"), Error);
  }

  TEST_CASE("init: PyTorch's default bounds, deterministic per seed") {
    nn::Conv<float> a(16, 8, 3), b(16, 8, 3), c(16, 8, 3);
    Rng r1(5), r2(5), r3(6);
    a.init_parameters(r1);
    b.init_parameters(r2);
    c.init_parameters(r3);
    const Tensor<float>& wa = a.conv->weight.value();
    CHECK(std::equal(wa.begin(), wa.end(), b.conv->weight.value().begin()));
    CHECK_FALSE(std::equal(wa.begin(), wa.end(), c.conv->weight.value().begin()));
    const double bound = 1.0 / std::sqrt(16.0 * 9.0);
    double mx = 0;
    for (float v : wa) mx = std::max(mx, std::abs(double(v)));
    CHECK(mx <= bound);
    CHECK(mx > 0.9 * bound);  // it is uniform over the whole range, not a narrower one
    for (float v : a.bn->weight.value()) CHECK(v == 1.f);
    for (float v : a.bn->running_var) CHECK(v == 1.f);
  }

  TEST_CASE("C3: PyTorch names in order, bottleneck residuals") {
    nn::C3<float> c3(8, 8, 2, true);
    auto keys = c3.state_keys();
    REQUIRE(keys.size() == 3 * 6 + 2 * 2 * 6);
    CHECK(keys[0].name == "cv1.conv.weight");
    CHECK(keys[6].name == "cv2.conv.weight");
    CHECK(keys[12].name == "cv3.conv.weight");
    CHECK(keys[12].shape == Shape({8, 8, 1, 1}));
    CHECK(keys[18].name == "m.0.cv1.conv.weight");
    CHECK(keys[18].shape == Shape({4, 4, 1, 1}));
    CHECK(keys[24].name == "m.0.cv2.conv.weight");
    CHECK(keys[24].shape == Shape({4, 4, 3, 3}));
    CHECK(keys[30].name == "m.1.cv1.conv.weight");
    CHECK(std::dynamic_pointer_cast<nn::Bottleneck<float>>(c3.m->ptr(0))->add);
    nn::C3<float> head(8, 8, 1, false);
    CHECK_FALSE(std::dynamic_pointer_cast<nn::Bottleneck<float>>(head.m->ptr(0))->add);
    nn::Bottleneck<float> diff(4, 8, true);
    CHECK_FALSE(diff.add);  // c1 != c2: no residual even with shortcut
  }

  TEST_CASE("Bottleneck eval forward: y = x + cv2(cv1(x)) when add") {
    nn::Bottleneck<double> b(4, 4, true, 1.0);
    randomise(b, 3);
    b.eval();
    Var<double> x(random_tensor<double>({1, 4, 6, 6}, 4));
    Tensor<double> y = b.forward(x).value();
    Tensor<double> inner = b.cv2->forward(b.cv1->forward(x)).value();
    for (int64_t i = 0; i < y.numel(); ++i) CHECK(y[i] == doctest::Approx(x.value()[i] + inner[i]));
  }

  TEST_CASE("SPPF, Upsample, Concat: shapes and values") {
    nn::SPPF<float> s(8, 16, 5);
    CHECK(s.state_keys()[0].name == "cv1.conv.weight");
    CHECK(s.state_keys()[0].shape == Shape({4, 8, 1, 1}));
    CHECK(s.state_keys()[6].shape == Shape({16, 16, 1, 1}));  // cv2 over 4 * c_ = 16 channels
    CHECK(s.forward(Var<float>(random_tensor<float>({2, 8, 7, 7}, 1))).shape() == Shape({2, 16, 7, 7}));

    nn::Upsample<float> up;
    Tensor<float> x = random_tensor<float>({1, 2, 3, 3}, 2);
    Tensor<float> u = up.forward(Var<float>(x)).value();
    REQUIRE(u.shape() == Shape({1, 2, 6, 6}));
    CHECK(u.at(0, 1, 5, 4) == x.at(0, 1, 2, 2));
    CHECK(u.at(0, 0, 0, 1) == x.at(0, 0, 0, 0));
    CHECK_THROWS_AS(nn::Upsample<float>(3), Error);

    nn::Concat<float> cat;
    Tensor<float> b = random_tensor<float>({1, 3, 3, 3}, 3);
    Tensor<float> c = cat.forward_multi({Var<float>(x), Var<float>(b)}).value();
    REQUIRE(c.shape() == Shape({1, 5, 3, 3}));
    CHECK(c.at(0, 4, 1, 2) == b.at(0, 2, 1, 2));
    CHECK(c.at(0, 1, 2, 0) == x.at(0, 1, 2, 0));
    CHECK(cat.state_keys().empty());
  }

  TEST_CASE("bad inputs name the module and the expected shape") {
    nn::Conv<float> c(3, 8, 3);
    CHECK_THROWS_WITH_AS(c.forward(Var<float>(Tensor<float>({1, 4, 8, 8}))),
                         doctest::Contains("[B,3,H,W]"), Error);
    CHECK_THROWS_AS(nn::Conv2d<float>(0, 8, 3, 1, 1, false), Error);
  }

  TEST_CASE("gradients: C3 (train-mode BN) and SPPF in double match finite differences") {
    // loss = sum(block(x) * r) for a fixed random r, checked w.r.t. the input and a few weights
    auto check_block = [](nn::Module<double>& blk, Shape xs, uint64_t seed) {
      randomise(blk, seed);
      blk.train();
      Tensor<double> r = random_tensor<double>(blk.forward(Var<double>(random_tensor<double>(xs, 0))).shape(), seed + 1);
      auto params = blk.named_parameters();
      std::vector<Var<double>> inputs{Var<double>(random_tensor<double>(xs, seed + 2), true)};
      for (auto& [name, p] : params)
        if (name == "cv1.conv.weight" || name == "cv2.bn.weight" || name == "cv3.bn.bias" ||
            name == "m.0.cv2.conv.weight")
          inputs.push_back(p);
      std::function<Var<double>(std::vector<Var<double>>&)> f = [&](std::vector<Var<double>>& in) {
        return ag::sum(ag::mul(blk.forward(in[0]), Var<double>(r)));
      };
      auto res = gradcheck<double>(f, inputs, 1e-6, 1e-6, 1e-5);
      INFO(res.message);
      CHECK(res.ok);
      return inputs.size();
    };
    nn::C3<double> c3(4, 4, 1, true);
    CHECK(check_block(c3, Shape({2, 4, 4, 4}), 10) == 5);
    nn::SPPF<double> sppf(4, 4, 3);
    CHECK(check_block(sppf, Shape({2, 4, 5, 5}), 20) == 3);
  }
}
