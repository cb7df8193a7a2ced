// Finite-difference gradient checks (double precision) for every op of autograd/ops.hpp, on
// small awkward shapes: batch 1 and 3, 3 or 5 channels, odd sizes, stride 2, padding.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <numeric>
#include <utility>
#include <vector>

#include <yolite/autograd/gradcheck.hpp>
#include <yolite/autograd/ops.hpp>
#include <yolite/core/rng.hpp>

using namespace yolite;
using D = double;
using Fn = std::function<Var<D>(std::vector<Var<D>>&)>;

namespace {

Tensor<D> randn(const Shape& s, Rng& rng, double scale = 1.0, double offset = 0.0) {
  Tensor<D> t(s);
  for (auto& v : t) v = offset + scale * rng.normal();
  return t;
}
Var<D> param(const Shape& s, Rng& rng, double scale = 1.0, double offset = 0.0) {
  return Var<D>(randn(s, rng, scale, offset), true);
}
// A random weighting, so the checked scalar sum(y * r) has a non-trivial gradient in every
// element (plain sum(y) has zero gradient through a batch norm, for example).
Var<D> weighted_sum(const Var<D>& y, uint64_t seed) {
  Rng rng(seed);
  return ag::sum(ag::mul(y, Var<D>(randn(y.shape(), rng))));
}
void check(const Fn& f, const std::vector<Var<D>>& inputs) {
  GradcheckResult r = gradcheck<D>(f, inputs);
  INFO(r.message);
  CHECK(r.ok);
  // every input that requires grad got a gradient of its shape
  for (const auto& v : inputs)
    if (v.requires_grad()) {
      REQUIRE(v.grad().defined());
      CHECK(v.grad().shape() == v.shape());
    }
}

}  // namespace

TEST_SUITE("autograd") {
  TEST_CASE("gradcheck conv2d: with and without bias, stride 1/2, 6x6 s2 p2, stem without x grad") {
    Rng rng(1);
    struct Case { Shape x, w; bool bias; int stride, pad; };
    std::vector<Case> cases = {
        {{1, 3, 5, 7}, {4, 3, 3, 3}, true, 1, 1},
        {{3, 5, 5, 7}, {2, 5, 3, 3}, false, 2, 1},
        {{1, 3, 9, 7}, {3, 3, 6, 6}, false, 2, 2},  // YOLOv5's 6x6 s2 p2 stem shape
        {{3, 5, 5, 7}, {5, 5, 1, 1}, true, 1, 0},
    };
    for (const auto& c : cases) {
      CAPTURE(c.x.str());
      CAPTURE(c.w.str());
      Var<D> x = param(c.x, rng), w = param(c.w, rng, 0.5);
      std::vector<Var<D>> in = c.bias ? std::vector<Var<D>>{x, w, param({c.w[0]}, rng)}
                                      : std::vector<Var<D>>{x, w};
      const bool bias = c.bias;
      const int st = c.stride, pd = c.pad;
      Fn f = [bias, st, pd](std::vector<Var<D>>& v) {
        return weighted_sum(ag::conv2d(v[0], v[1], bias ? v[2] : Var<D>(), st, pd), 7);
      };
      check(f, in);
    }
    SUBCASE("input without grad gets none, weight still exact") {
      std::vector<Var<D>> in = {Var<D>(randn({1, 3, 9, 7}, rng)), param({3, 3, 6, 6}, rng, 0.5),
                                param({3}, rng)};
      Fn f = [](std::vector<Var<D>>& v) { return weighted_sum(ag::conv2d(v[0], v[1], v[2], 2, 2), 3); };
      check(f, in);
      CHECK_FALSE(in[0].grad().defined());
    }
    SUBCASE("only the bias trains") {
      std::vector<Var<D>> in = {Var<D>(randn({1, 3, 5, 7}, rng)), Var<D>(randn({2, 3, 3, 3}, rng)),
                                param({2}, rng)};
      Fn f = [](std::vector<Var<D>>& v) { return weighted_sum(ag::conv2d(v[0], v[1], v[2], 1, 1), 5); };
      check(f, in);
    }
  }

  TEST_CASE("gradcheck batch_norm2d and the fused batch_norm_silu2d: training (through the batch statistics) and eval") {
    Rng rng(2);
    for (Shape xs : {Shape{1, 3, 5, 7}, Shape{3, 5, 5, 7}, Shape{3, 3, 1, 1}}) {
      CAPTURE(xs.str());
      const int64_t C = xs[1];
      for (auto mode : {std::pair{true, false}, std::pair{false, false}, std::pair{true, true},
                        std::pair{false, true}}) {
        const bool training = mode.first, fused = mode.second;
        CAPTURE(training);
        CAPTURE(fused);
        auto rm = std::make_shared<Tensor<D>>(randn({C}, rng, 0.3));
        auto rv = std::make_shared<Tensor<D>>(randn({C}, rng, 0.2, 1.0));
        for (auto& v : *rv) v = std::abs(v) + 0.2;
        // x with a non-zero mean and non-unit scale
        std::vector<Var<D>> in = {param(xs, rng, 2.0, 0.5), param({C}, rng, 0.5, 1.0),
                                  param({C}, rng, 0.5)};
        Fn f = [rm, rv, training, fused](std::vector<Var<D>>& v) {
          return weighted_sum(fused ? ag::batch_norm_silu2d(v[0], v[1], v[2], *rm, *rv, nullptr, training)
                                    : ag::batch_norm2d(v[0], v[1], v[2], *rm, *rv, nullptr, training), 11);
        };
        check(f, in);
      }
    }
  }

  TEST_CASE("gradcheck silu, sigmoid (including large |x|)") {
    Rng rng(3);
    std::vector<Var<D>> in = {param({3, 5, 5, 7}, rng, 3.0)};
    in[0].value()[0] = 30;
    in[0].value()[1] = -30;
    Fn f1 = [](std::vector<Var<D>>& v) { return weighted_sum(ag::silu(v[0]), 1); };
    Fn f2 = [](std::vector<Var<D>>& v) { return weighted_sum(ag::sigmoid(v[0]), 2); };
    check(f1, in);
    check(f2, in);
  }

  TEST_CASE("gradcheck add, mul, scale (including a shared input)") {
    Rng rng(4);
    std::vector<Var<D>> in = {param({1, 3, 5, 7}, rng), param({1, 3, 5, 7}, rng)};
    Fn fa = [](std::vector<Var<D>>& v) { return weighted_sum(ag::add(v[0], v[1]), 1); };
    Fn fm = [](std::vector<Var<D>>& v) { return weighted_sum(ag::mul(v[0], v[1]), 2); };
    Fn fs = [](std::vector<Var<D>>& v) { return weighted_sum(ag::scale(v[0], -2.5), 3); };
    Fn fsq = [](std::vector<Var<D>>& v) { return weighted_sum(ag::mul(v[0], v[0]), 4); };
    check(fa, in);
    check(fm, in);
    check(fs, {in[0]});
    check(fsq, {in[0]});
  }

  TEST_CASE("gradcheck concat along channels (3 inputs, one without grad)") {
    Rng rng(5);
    std::vector<Var<D>> in = {param({3, 3, 5, 7}, rng), param({3, 5, 5, 7}, rng),
                              Var<D>(randn({3, 1, 5, 7}, rng)), param({3, 2, 5, 7}, rng)};
    Fn f = [](std::vector<Var<D>>& v) { return weighted_sum(ag::concat<D>({v[0], v[1], v[2], v[3]}), 1); };
    check(f, in);
    Fn f2 = [](std::vector<Var<D>>& v) { return weighted_sum(ag::concat<D>({v[0], v[0]}), 2); };
    check(f2, {in[1]});
  }

  TEST_CASE("gradcheck a tensor read by several ops (its gradient written by the first, added to by the rest)") {
    // conv2d (stride 1: written by the shifted GEMM; stride 2: zeroed, then col2im), add,
    // concat listing x twice and the fused BN + SiLU all write into x's gradient first in turn
    // (backward order varies with the graph); the sum must be the same as plain accumulation.
    Rng rng(21);
    std::vector<Var<D>> in = {param({2, 3, 6, 5}, rng), param({4, 3, 3, 3}, rng, 0.5),
                              param({3}, rng, 0.5, 1.0), param({3}, rng, 0.5)};
    auto rm = std::make_shared<Tensor<D>>(randn({3}, rng, 0.3));
    auto rv = std::make_shared<Tensor<D>>(Tensor<D>({3}, 1.0));
    Fn f = [rm, rv](std::vector<Var<D>>& v) {
      Var<D> x = v[0];
      Var<D> a = ag::concat<D>({ag::conv2d(x, v[1], Var<D>(), 1, 1), ag::add(x, x), x});
      Var<D> b = ag::conv2d(x, v[1], Var<D>(), 2, 1);
      Var<D> c = ag::batch_norm_silu2d(x, v[2], v[3], *rm, *rv, nullptr, true);
      return ag::add(ag::add(weighted_sum(a, 1), weighted_sum(b, 2)), weighted_sum(c, 3));
    };
    check(f, in);
    Fn g = [rm, rv](std::vector<Var<D>>& v) {  // the other order of first writers
      Var<D> x = v[0];
      Var<D> c = ag::batch_norm_silu2d(x, v[2], v[3], *rm, *rv, nullptr, true);
      Var<D> b = ag::conv2d(x, v[1], Var<D>(), 2, 1);
      return ag::add(weighted_sum(ag::concat<D>({x, c, x}), 4), weighted_sum(b, 5));
    };
    check(g, in);
  }

  TEST_CASE("gradcheck upsample_nearest2x") {
    Rng rng(6);
    for (Shape s : {Shape{1, 3, 5, 7}, Shape{3, 5, 1, 3}}) {
      Fn f = [](std::vector<Var<D>>& v) { return weighted_sum(ag::upsample_nearest2x(v[0]), 1); };
      check(f, {param(s, rng)});
    }
  }

  TEST_CASE("gradcheck max_pool2d: k5 s1 p2 (SPPF), k3 s2 p1, k2 s2 p0 -- inputs without ties") {
    Rng rng(7);
    struct Case { Shape s; int k, st, pd; };
    for (Case c : {Case{{1, 3, 5, 7}, 5, 1, 2}, Case{{3, 5, 5, 7}, 3, 2, 1}, Case{{3, 3, 5, 7}, 2, 2, 0},
                   Case{{1, 5, 7, 5}, 5, 1, 2}}) {
      CAPTURE(c.s.str());
      CAPTURE(c.k);
      // distinct values 0.01 apart (a shuffled ramp): a +-1e-6 step never changes an argmax
      Tensor<D> x(c.s);
      std::vector<int64_t> perm(size_t(x.numel()));
      std::iota(perm.begin(), perm.end(), 0);
      rng.shuffle(perm.begin(), perm.end());
      for (int64_t i = 0; i < x.numel(); ++i) x[i] = 0.01 * double(perm[size_t(i)]) - 1.0;
      const int k = c.k, st = c.st, pd = c.pd;
      Fn f = [k, st, pd](std::vector<Var<D>>& v) { return weighted_sum(ag::max_pool2d(v[0], k, st, pd), 1); };
      check(f, {Var<D>(x, true)});
    }
  }

  TEST_CASE("gradcheck sum, mean") {
    Rng rng(8);
    Fn fs = [](std::vector<Var<D>>& v) { return ag::sum(ag::mul(v[0], v[0])); };
    Fn fm = [](std::vector<Var<D>>& v) { return ag::mean(ag::mul(v[0], v[0])); };
    check(fs, {param({3, 5, 5, 7}, rng)});
    check(fm, {param({3, 5, 5, 7}, rng)});
    // values: sum and mean of a known tensor
    Var<D> x(Tensor<D>::from({2, 2}, std::vector<D>{1, 2, 3, 4.5}));
    CHECK(ag::sum(x).value()[0] == doctest::Approx(10.5));
    CHECK(ag::mean(x).value()[0] == doctest::Approx(2.625));
    CHECK(ag::sum(x).shape() == Shape{1});
  }

  TEST_CASE("gradcheck bce_with_logits: pos_weight 1 and 2.5, soft targets, large |x|") {
    Rng rng(9);
    Tensor<D> t(Shape{3, 5, 5, 7});
    for (auto& v : t) v = rng.uniform();  // soft targets like YOLOv5's IoU objectness
    t[0] = 0;
    t[1] = 1;
    std::vector<Var<D>> in = {param({3, 5, 5, 7}, rng, 3.0)};
    in[0].value()[0] = 40;  // stable form: no overflow, finite gradient
    in[0].value()[1] = -40;
    for (D pw : {1.0, 2.5}) {
      CAPTURE(pw);
      Fn f = [t, pw](std::vector<Var<D>>& v) { return ag::bce_with_logits(v[0], t, pw); };
      check(f, in);
    }
  }

  TEST_CASE("bce_with_logits matches -[pw t log s + (1-t) log(1-s)] and stays finite") {
    Tensor<D> x = Tensor<D>::from({4}, std::vector<D>{0.3, -1.2, 2.0, 0.0});
    Tensor<D> t = Tensor<D>::from({4}, std::vector<D>{1.0, 0.0, 0.25, 0.5});
    const D pw = 3.0;
    double want = 0;
    for (int i = 0; i < 4; ++i) {
      double s = 1 / (1 + std::exp(-x[i]));
      want += -(pw * t[i] * std::log(s) + (1 - t[i]) * std::log(1 - s));
    }
    want /= 4;
    CHECK(ag::bce_with_logits(Var<D>(x), t, pw).value()[0] == doctest::Approx(want).epsilon(1e-12));
    // |x| = 1000: exact asymptotes, no inf/nan
    Tensor<float> xb = Tensor<float>::from({2}, std::vector<float>{1000.f, -1000.f});
    Tensor<float> tb = Tensor<float>::from({2}, std::vector<float>{0.f, 0.f});
    Var<float> lb = ag::bce_with_logits(Var<float>(xb, true), tb);
    CHECK(lb.value()[0] == doctest::Approx(500.0));
  }
}
