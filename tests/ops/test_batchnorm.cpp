// ops/cpu/batchnorm.hpp: the parallel kernels against the reference loops (float data, awkward
// shapes, large and small), plus bitwise determinism across runs and thread counts.
#include <doctest/doctest.h>

#include "../test_util.hpp"

#include <cmath>
#include <vector>

#include <yolite/core/rng.hpp>
#include <yolite/ops/cpu/batchnorm.hpp>

using namespace yolite;

namespace {

std::vector<float> randv(Rng& rng, int64_t n, double scale, double offset = 0) {
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& e : v) e = float(offset + scale * rng.normal());
  return v;
}
void check_near(const std::vector<float>& got, const std::vector<float>& want, double rtol,
                double atol, const char* what) {
  REQUIRE(got.size() == want.size());
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double err = std::abs(double(got[i]) - double(want[i]));
    if (!(err <= atol + rtol * std::abs(double(want[i]))) && ++bad <= 5)
      FAIL_CHECK(what << ": element " << i << " got " << got[i] << " want " << want[i]);
  }
  CHECK(bad == 0);
}

struct Out {
  std::vector<float> mean, var, y, dx, dg, db;
};

Out run(bool fast, bool training, int N, int C, int64_t HW, const std::vector<float>& x,
        const std::vector<float>& dy, const std::vector<float>& g, const std::vector<float>& b) {
  Out o;
  o.mean.resize(size_t(C));
  o.var.resize(size_t(C));
  if (fast)
    ops::batchnorm_stats(x.data(), N, C, HW, o.mean.data(), o.var.data());
  else
    ops::ref::batchnorm_stats(x.data(), N, C, HW, o.mean.data(), o.var.data());
  std::vector<float> invstd(static_cast<size_t>(C));
  for (int c = 0; c < C; ++c) invstd[size_t(c)] = 1.f / std::sqrt(o.var[size_t(c)] + 1e-3f);
  o.y.resize(x.size());
  o.dx.assign(x.size(), 0.25f);  // backward accumulates: start from non-zero
  o.dg.assign(size_t(C), 1.f);
  o.db.assign(size_t(C), -1.f);
  if (fast) {
    ops::batchnorm_forward(x.data(), N, C, HW, o.mean.data(), invstd.data(), g.data(), b.data(), o.y.data());
    ops::batchnorm_backward(x.data(), dy.data(), N, C, HW, o.mean.data(), invstd.data(), g.data(),
                            training, o.dx.data(), o.dg.data(), o.db.data());
  } else {
    ops::ref::batchnorm_forward(x.data(), N, C, HW, o.mean.data(), invstd.data(), g.data(), b.data(), o.y.data());
    ops::ref::batchnorm_backward(x.data(), dy.data(), N, C, HW, o.mean.data(), invstd.data(), g.data(),
                                 training, o.dx.data(), o.dg.data(), o.db.data());
  }
  return o;
}

}  // namespace

TEST_SUITE("ops") {
  TEST_CASE("batchnorm: fast kernels match the reference on awkward shapes") {
    Rng rng(21);
    struct Case { int N, C, H, W; double offset; };
    for (Case cs : {Case{1, 3, 5, 7, 0}, Case{3, 5, 17, 13, 0.5}, Case{3, 13, 37, 41, 0},
                    Case{2, 17, 40, 40, 100.0} /* |mean| >> std: the shifted one-pass sums */,
                    Case{1, 1, 1, 2, 0}}) {
      CAPTURE(cs.N);
      CAPTURE(cs.C);
      CAPTURE(cs.H);
      const int64_t HW = int64_t(cs.H) * cs.W, n = cs.N * cs.C * HW;
      auto x = randv(rng, n, 2.0, cs.offset);
      auto dy = randv(rng, n, 1.0);
      auto g = randv(rng, cs.C, 0.3, 1.0);
      auto b = randv(rng, cs.C, 0.3);
      for (bool training : {true, false}) {
        CAPTURE(training);
        Out f = run(true, training, cs.N, cs.C, HW, x, dy, g, b);
        Out r = run(false, training, cs.N, cs.C, HW, x, dy, g, b);
        check_near(f.mean, r.mean, 1e-6, 1e-6, "mean");
        check_near(f.var, r.var, 1e-5, 1e-6, "var");
        check_near(f.y, r.y, 1e-5, 1e-5, "y");
        check_near(f.dg, r.dg, 1e-4, 1e-3, "dgamma");
        check_near(f.db, r.db, 1e-4, 1e-3, "dbeta");
        check_near(f.dx, r.dx, 1e-4, 1e-4, "dx");
      }
    }
  }

  TEST_CASE("batchnorm: statistics are right (hand-computed)") {
    // channel 0: 1,2,3,4 ; channel 1: 10,10,10,14 over N=2, HW=2
    std::vector<float> x = {1, 2, 10, 10, 3, 4, 10, 14};
    float mean[2], var[2];
    ops::batchnorm_stats(x.data(), 2, 2, 2, mean, var);
    CHECK(mean[0] == doctest::Approx(2.5));
    CHECK(var[0] == doctest::Approx(1.25));
    CHECK(mean[1] == doctest::Approx(11));
    CHECK(var[1] == doctest::Approx(3));
  }

  TEST_CASE("batchnorm: bitwise deterministic across runs and thread counts") {
    Rng rng(22);
    const int N = 3, C = 19;
    const int64_t HW = 33 * 35, n = N * C * HW;
    auto x = randv(rng, n, 1.5, 0.2), dy = randv(rng, n, 1.0);
    auto g = randv(rng, C, 0.3, 1.0), b = randv(rng, C, 0.3);
    const auto r = testing::repeat_and_single_thread([&] { return run(true, true, N, C, HW, x, dy, g, b); });
    const Out& a = r[0];
    using testing::same_bits;
    for (const Out* o : {&r[1], &r[2]}) {
      CHECK(same_bits(a.mean, o->mean));
      CHECK(same_bits(a.var, o->var));
      CHECK(same_bits(a.y, o->y));
      CHECK(same_bits(a.dx, o->dx));
      CHECK(same_bits(a.dg, o->dg));
      CHECK(same_bits(a.db, o->db));
    }
  }
}
