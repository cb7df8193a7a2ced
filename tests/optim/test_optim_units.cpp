// Hand-computed values: parameter groups, SGD / Adam / AdamW steps, gradient clipping, LR
// lambdas, warm-up (np.interp) and accumulation, EMA decay; state export / import.
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include <omp.h>

#include <yolite/optim/adam.hpp>
#include <yolite/optim/ema.hpp>
#include <yolite/optim/param_groups.hpp>
#include <yolite/optim/schedule.hpp>
#include <yolite/optim/sgd.hpp>

using namespace yolite;
using namespace yolite::optim;

namespace {
template <class T>
Var<T> scalar_param(T v, T g) {
  Var<T> p(Tensor<T>({1}, v), true);
  p.grad() = Tensor<T>({1}, g);
  return p;
}
template <class T>
std::vector<ParamGroup<T>> one_group(Var<T> p, double lr, double momentum, double wd) {
  ParamGroup<T> g;
  g.params = {{"w", p}};
  g.lr = g.initial_lr = lr;
  g.momentum = momentum;
  g.weight_decay = wd;
  return {g};
}
}  // namespace

TEST_SUITE("optim") {
  TEST_CASE("YOLOv5 parameter groups by state-dict name") {
    CHECK(yolo_group_of("model.0.conv.weight") == 1);
    CHECK(yolo_group_of("model.0.bn.weight") == 2);
    CHECK(yolo_group_of("model.0.bn.bias") == 0);
    CHECK(yolo_group_of("model.24.m.0.bias") == 0);
    CHECK(yolo_group_of("model.24.m.0.weight") == 1);
    CHECK(yolo_group_of("model.2.m.0.cv1.bn.weight") == 2);
    NamedParams<float> ps;
    for (const char* n : {"model.0.conv.weight", "model.0.bn.weight", "model.0.bn.bias",
                          "model.24.m.0.weight", "model.24.m.0.bias"})
      ps.emplace_back(n, Var<float>(Tensor<float>({2}), true));
    auto g = yolo_param_groups(ps, 0.01, 0.937, 5e-4);
    REQUIRE(g.size() == 3);
    CHECK(g[0].params.size() == 2);
    CHECK(g[1].params.size() == 2);
    CHECK(g[2].params.size() == 1);
    CHECK(g[0].weight_decay == 0.0);
    CHECK(g[1].weight_decay == 5e-4);
    CHECK(g[2].weight_decay == 0.0);
    CHECK(g[1].params[1].first == "model.24.m.0.weight");
    CHECK(g[0].lr == 0.01);
    CHECK(g[0].initial_lr == 0.01);
    CHECK(g[2].momentum == 0.937);
  }

  TEST_CASE("SGD: classic momentum and Nesterov, two steps by hand") {
    // p = 1, g = 0.5 both steps, lr 0.1, momentum 0.9, wd 0.1.
    // step 1: d = 0.5 + 0.1*1 = 0.6, buf = 0.6.
    //   classic: p = 1 - 0.1*0.6 = 0.94
    //   nesterov: d = 0.6 + 0.9*0.6 = 1.14, p = 1 - 0.114 = 0.886
    // step 2 classic: d = 0.5 + 0.094 = 0.594, buf = 0.54 + 0.594 = 1.134, p = 0.94 - 0.1134
    // step 2 nesterov: d = 0.5 + 0.0886 = 0.5886, buf = 0.54 + 0.5886 = 1.1286,
    //   d = 0.5886 + 0.9*1.1286 = 1.60434, p = 0.886 - 0.160434 = 0.725566
    for (bool nest : {false, true}) {
      auto p = scalar_param<double>(1.0, 0.5);
      SGD<double> opt(one_group(p, 0.1, 0.9, 0.1), nest);
      opt.step();
      CHECK(p.value()[0] == doctest::Approx(nest ? 0.886 : 0.94).epsilon(1e-14));
      opt.step();
      CHECK(p.value()[0] == doctest::Approx(nest ? 0.725566 : 0.94 - 0.1134).epsilon(1e-14));
      auto st = opt.state_dict();
      REQUIRE(st.size() == 1);
      CHECK(st[0].first == "w.momentum_buffer");
      CHECK(st[0].second[0] == doctest::Approx(nest ? 1.1286 : 1.134).epsilon(1e-14));
    }
    // momentum 0: plain gradient descent, no buffer
    auto q = scalar_param<double>(2.0, 1.0);
    SGD<double> plain(one_group(q, 0.5, 0.0, 0.0));
    plain.step();
    CHECK(q.value()[0] == 1.5);
    CHECK(plain.state_dict().empty());
  }

  TEST_CASE("SGD state export / import reproduces an uninterrupted run") {
    auto a = scalar_param<float>(1.0f, 0.3f);
    SGD<float> A(one_group(a, 0.05, 0.937, 5e-4), true);
    A.step();
    // Resume: a second optimizer over a copy of the parameter, loaded with A's state.
    auto b = scalar_param<float>(a.value()[0], 0.3f);
    SGD<float> Bopt(one_group(b, 0.05, 0.937, 5e-4), true);
    Bopt.load_state_dict(A.state_dict());
    A.step();
    Bopt.step();
    CHECK(a.value()[0] == b.value()[0]);
    NamedState<float> bad{{"nope.momentum_buffer", Tensor<float>({1})}};
    CHECK_THROWS_WITH_AS(Bopt.load_state_dict(bad), doctest::Contains("nope.momentum_buffer"),
                         Error);
    NamedState<float> wrong_shape{{"w.momentum_buffer", Tensor<float>({2})}};
    CHECK_THROWS_AS(Bopt.load_state_dict(wrong_shape), Error);
  }

  TEST_CASE("parameters without a gradient are skipped; zero_grad clears") {
    Var<float> p(Tensor<float>({3}, 1.0f), true);
    SGD<float> opt(one_group(p, 0.1, 0.9, 0.1), true);
    opt.step();
    CHECK(p.value()[0] == 1.0f);
    CHECK(opt.state_dict().empty());
    p.grad() = Tensor<float>({3}, 1.0f);
    opt.step();
    CHECK(p.value()[0] != 1.0f);
    opt.zero_grad();
    CHECK_FALSE(p.grad().defined());
  }

  TEST_CASE("Adam and AdamW steps by hand") {
    // p = 1, g = 0.5, lr 0.1, betas (0.9, 0.999), eps 1e-8, weight decay 0.1.
    // Adam step 1: g' = 0.6, m = 0.06, v = 0.00036, bias corrections 0.1 and 0.001:
    //   p = 1 - (0.1/0.1) * 0.06 / (sqrt(0.00036)/sqrt(0.001) + 1e-8) = 1 - 0.06/(0.6 + 1e-8)
    // AdamW step 1: p = 1 * (1 - 0.01) = 0.99, m = 0.05, v = 0.00025, denom 0.5 + 1e-8:
    //   p = 0.99 - 0.05 / (0.5 + 1e-8)
    // Steps 2 and 3 as computed in float64 by the same formulas (Python).
    auto p = scalar_param<double>(1.0, 0.5);
    Adam<double> adam(one_group(p, 0.1, 0.0, 0.1), 0.9, 0.999, 1e-8);
    adam.step();
    CHECK(p.value()[0] == doctest::Approx(1 - 0.06 / (0.6 + 1e-8)).epsilon(1e-13));
    adam.step();
    CHECK(p.value()[0] == doctest::Approx(0.8000473404883315).epsilon(1e-13));
    adam.step();
    CHECK(p.value()[0] == doctest::Approx(0.7001745748141189).epsilon(1e-13));

    auto q = scalar_param<double>(1.0, 0.5);
    AdamW<double> adamw(one_group(q, 0.1, 0.0, 0.1), 0.9, 0.999, 1e-8);
    adamw.step();
    CHECK(q.value()[0] == doctest::Approx(0.99 - 0.05 / (0.5 + 1e-8)).epsilon(1e-13));
    adamw.step();
    CHECK(q.value()[0] == doctest::Approx(0.7811000039800006).epsilon(1e-13));
    // state: moments and the step count
    auto st = adamw.state_dict();
    REQUIRE(st.size() == 3);
    CHECK(st[0].first == "w.exp_avg");
    CHECK(st[0].second[0] == doctest::Approx(0.095).epsilon(1e-13));
    CHECK(st[1].second[0] == doctest::Approx(0.00049975).epsilon(1e-12));
    CHECK(st[2].first == "w.step");
    CHECK(st[2].second[0] == 2.0);
    // resume from the state: step 3 equals the uninterrupted run's
    auto r = scalar_param<double>(q.value()[0], 0.5);
    AdamW<double> resumed(one_group(r, 0.1, 0.0, 0.1), 0.9, 0.999, 1e-8);
    resumed.load_state_dict(st);
    resumed.step();
    CHECK(r.value()[0] == doctest::Approx(0.6732890059402006).epsilon(1e-13));
    // float Adam lands within float rounding of the double result
    auto pf = scalar_param<float>(1.0f, 0.5f);
    Adam<float> adamf(one_group(pf, 0.1, 0.0, 0.1), 0.9, 0.999, 1e-8);
    adamf.step();
    CHECK(pf.value()[0] == doctest::Approx(0.9).epsilon(1e-6));
  }

  TEST_CASE("clip_grad_norm: total norm, scaling only above max_norm") {
    NamedParams<double> ps;
    ps.emplace_back("a", scalar_param<double>(0.0, 3.0));
    Var<double> b(Tensor<double>({2}), true);
    b.grad() = Tensor<double>({2}, 0.0);
    b.grad()[1] = 4.0;
    ps.emplace_back("b", b);
    ps.emplace_back("c", Var<double>(Tensor<double>({1}), true));  // no gradient: skipped
    CHECK(clip_grad_norm(ps, 10.0) == doctest::Approx(5.0));
    CHECK(ps[0].second.grad()[0] == 3.0);  // unchanged below max_norm
    CHECK(clip_grad_norm(ps, 1.0) == doctest::Approx(5.0));
    CHECK(ps[0].second.grad()[0] == doctest::Approx(3.0 / (5.0 + 1e-6)).epsilon(1e-12));
    CHECK(b.grad()[1] == doctest::Approx(4.0 / (5.0 + 1e-6)).epsilon(1e-12));
  }

  TEST_CASE("clip_grad_norm: large gradients (several parallel blocks) -- exact, any thread count") {
    // 3 blocks and a partial one; values whose squares sum exactly in double
    const int64_t n = 3 * ops::kBlock + 123;
    auto make = [&] {
      NamedParams<float> ps;
      Var<float> w(Tensor<float>({n}), true);
      w.grad() = Tensor<float>({n});
      for (int64_t i = 0; i < n; ++i) w.grad()[i] = float((i % 7) - 3) * 0.5f;
      ps.emplace_back("w", w);
      ps.emplace_back("s", scalar_param<float>(0.f, 2.f));
      return ps;
    };
    double want = 4.0;  // the scalar's 2^2
    for (int64_t i = 0; i < n; ++i) want += std::pow(double((i % 7) - 3) * 0.5, 2);
    want = std::sqrt(want);
    const int saved = omp_get_max_threads();
    std::vector<float> scaled[2];
    for (int th : {1, 2}) {
      omp_set_num_threads(th);
      auto ps = make();
      CHECK(clip_grad_norm(ps, 1.0) == doctest::Approx(want).epsilon(1e-15));
      const float c = float(1.0 / (want + 1e-6));
      CHECK(ps[0].second.grad()[5] == float(2 * 0.5f) * c);  // (5 % 7) - 3 = 2
      scaled[th - 1].assign(ps[0].second.grad().begin(), ps[0].second.grad().end());
    }
    omp_set_num_threads(saved);
    CHECK(scaled[0] == scaled[1]);
  }

  TEST_CASE("LR lambdas: linear and one-cycle") {
    auto lin = linear_lr(300, 0.01);
    CHECK(lin(0) == 1.0);
    CHECK(lin(150) == doctest::Approx(0.505).epsilon(1e-14));
    CHECK(lin(300) == doctest::Approx(0.01).epsilon(1e-14));
    CHECK(lin(1) == doctest::Approx((1 - 1.0 / 300) * 0.99 + 0.01).epsilon(1e-14));
    auto cyc = one_cycle_lr(100, 0.1);
    CHECK(cyc(0) == 1.0);
    CHECK(cyc(25) == doctest::Approx(0.8681980515339465).epsilon(1e-14));  // Python float64
    CHECK(cyc(50) == doctest::Approx(0.55).epsilon(1e-14));
    CHECK(cyc(100) == doctest::Approx(0.1).epsilon(1e-14));
    std::vector<ParamGroup<float>> g(3);
    for (auto& x : g) x.initial_lr = 0.01;
    set_epoch_lr(g, lin, 150);
    CHECK(g[1].lr == doctest::Approx(0.00505).epsilon(1e-14));
    CHECK_THROWS_AS(linear_lr(0, 0.01), Error);
  }

  TEST_CASE("np.interp, Python round, warm-up iterations") {
    CHECK(np_interp(250, 0, 1000, 0.1, 0.01) == doctest::Approx(0.0775).epsilon(1e-14));
    CHECK(np_interp(-5, 0, 1000, 0.1, 0.01) == 0.1);
    CHECK(np_interp(1000, 0, 1000, 0.1, 0.01) == 0.01);
    CHECK(np_interp(2000, 0, 1000, 0.1, 0.01) == 0.01);
    CHECK(py_round(2.5) == 2);
    CHECK(py_round(3.5) == 4);
    CHECK(py_round(1.5) == 2);
    CHECK(py_round(0.5) == 0);
    CHECK(py_round(1.49) == 1);
    CHECK(py_round(2.51) == 3);
    CHECK(warmup_iterations(10, 3.0) == 100);     // max(30, 100)
    CHECK(warmup_iterations(1000, 3.0) == 3000);
    CHECK(warmup_iterations(101, 2.5) == 252);   // round(252.5) = 252 (half to even)
    CHECK(accumulate_steps(16) == 4);
    CHECK(accumulate_steps(24) == 3);            // round(2.67)
    CHECK(accumulate_steps(128) == 1);           // max(round(0.5) = 0, 1)
    CHECK(accumulate_steps(2) == 32);
  }

  TEST_CASE("warm-up: per-group lr / momentum and accumulate as train.py") {
    auto lf = linear_lr(300, 0.01);
    const std::vector<double> init{0.01, 0.01, 0.01};
    WarmupHyp hyp;  // bias lr 0.1, momentum 0.8 -> 0.937, nbs 64
    // ni = 250 of nw = 1000, epoch 0 (lf = 1), batch 16:
    //   bias lr = 0.1 + 0.25*(0.01 - 0.1) = 0.0775; others 0.25*0.01 = 0.0025
    //   momentum = 0.8 + 0.25*0.137 = 0.83425; accumulate = round(1 + 0.25*3) = round(1.75) = 2
    auto w = warmup(250, 1000, 0, lf, init, hyp, 16);
    CHECK(w.active);
    REQUIRE(w.lr.size() == 3);
    CHECK(w.lr[0] == doctest::Approx(0.0775).epsilon(1e-14));
    CHECK(w.lr[1] == doctest::Approx(0.0025).epsilon(1e-14));
    CHECK(w.lr[2] == doctest::Approx(0.0025).epsilon(1e-14));
    for (double m : w.momentum) CHECK(m == doctest::Approx(0.83425).epsilon(1e-14));
    CHECK(w.accumulate == 2);
    // ni = 500: accumulate = round(2.5) = 2 (half to even); ni = 100: round(1.3) = 1
    CHECK(warmup(500, 1000, 0, lf, init, hyp, 16).accumulate == 2);
    CHECK(warmup(100, 1000, 0, lf, init, hyp, 16).accumulate == 1);
    // ni = 0 (the fixture's iteration): 0.1 / 0 / 0, momentum 0.8, accumulate 1
    auto w0 = warmup(0, 100, 0, lf, init, hyp, 2);
    CHECK(w0.lr == std::vector<double>{0.1, 0.0, 0.0});
    CHECK(w0.momentum == std::vector<double>{0.8, 0.8, 0.8});
    CHECK(w0.accumulate == 1);
    // epoch 1 (lf(1) = 0.9967): ends at lr0 * lf(1); at ni == nw exactly the targets.
    auto w1 = warmup(1000, 1000, 1, lf, init, hyp, 16);
    CHECK(w1.active);
    CHECK(w1.lr[0] == doctest::Approx(0.01 * 0.9967).epsilon(1e-14));
    CHECK(w1.momentum[1] == 0.937);
    CHECK(w1.accumulate == 4);
    // after the warm-up nothing is set; accumulate = round(nbs / batch)
    auto w2 = warmup(1001, 1000, 1, lf, init, hyp, 16);
    CHECK_FALSE(w2.active);
    CHECK(w2.accumulate == 4);
    // apply_warmup() writes into an optimizer's groups
    std::vector<ParamGroup<float>> g(3);
    for (auto& x : g) x.initial_lr = 0.01;
    apply_warmup(w, g);
    CHECK(g[0].lr == w.lr[0]);
    CHECK(g[2].momentum == w.momentum[2]);
    auto wg = warmup(250, 1000, 0, lf, g, hyp, 16);  // reads initial_lr from the groups
    CHECK(wg.lr == w.lr);
    optim::apply(w0, g);  // the short name, qualified
    CHECK(g[0].lr == 0.1);
    CHECK(g[1].momentum == 0.8);
  }

  TEST_CASE("EMA: decay ramp, update values, copy_to, state save / load") {
    Tensor<float> w({2}, 1.0f), rm({1}, 0.5f);
    ModelEMA<float>::StateDict model{{"w", w}, {"bn.running_mean", rm}};
    ModelEMA<float> ema(model);
    CHECK(ema.decay_at(1) == doctest::Approx(0.000499825033328626).epsilon(1e-12));
    CHECK(ema.decay_at(2000) == doctest::Approx(0.6320573467726748).epsilon(1e-12));
    CHECK(ema.decay_at(1000000) == doctest::Approx(0.9999).epsilon(1e-12));
    // the EMA holds copies: changing the model does not change it
    w.fill(3.0f);
    rm.fill(1.5f);
    CHECK(ema.state()[0].second[0] == 1.0f);
    ema.update(model);  // d = decay_at(1): v = d*1 + (1-d)*3 = 3 - 2d
    const double d1 = 0.000499825033328626;
    CHECK(ema.updates() == 1);
    CHECK(ema.state()[0].second[1] == doctest::Approx(3 - 2 * d1).epsilon(1e-6));
    CHECK(ema.state()[1].second[0] == doctest::Approx(1.5 - d1).epsilon(1e-6));
    ema.update(model);  // d2: v = d2*v + (1-d2)*3
    const double d2 = 0.9999 * (1 - std::exp(-2.0 / 2000));
    CHECK(ema.state()[0].second[0] ==
          doctest::Approx(d2 * (3 - 2 * d1) + (1 - d2) * 3).epsilon(1e-6));
    // copy_to an evaluation model
    Tensor<float> ew({2}), erm({1});
    ema.copy_to({{"w", ew}, {"bn.running_mean", erm}});
    CHECK(ew[0] == ema.state()[0].second[0]);
    CHECK(erm[0] == ema.state()[1].second[0]);
    // save / load: a new EMA resumed from the state continues identically
    ModelEMA<float> resumed(model);
    resumed.load(ema.state(), ema.updates());
    w.fill(-1.0f);
    ema.update(model);
    resumed.update(model);
    CHECK(resumed.updates() == 3);
    CHECK(resumed.state()[0].second[0] == ema.state()[0].second[0]);
    CHECK_THROWS_WITH_AS(resumed.load({{"x", Tensor<float>({1})}}, 1), doctest::Contains("'x'"),
                         Error);
    CHECK_THROWS_AS(resumed.load({{"w", Tensor<float>({3})}}, 1), Error);
    CHECK_THROWS_AS(resumed.update({{"w", w}}), Error);
  }
}
