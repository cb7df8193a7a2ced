// ops/cpu/batchnorm_silu.hpp: the fused BN + SiLU kernels against the reference (the
// composition of the reference BN and SiLU loops), on awkward shapes, in training and eval
// mode, plus bitwise determinism across runs and thread counts.
#include <doctest/doctest.h>

#include "../test_util.hpp"

#include <cmath>
#include <vector>

#include <yolite/core/rng.hpp>
#include <yolite/ops/cpu/batchnorm_silu.hpp>

using namespace yolite;

// A named namespace (not an anonymous one) around the whole file: the suites are unity
// builds, where another file of the folder may use the same helper names.
namespace test_batchnorm_silu {

std::vector<float> randv(Rng& rng, int64_t n, double scale, double offset = 0) {
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& e : v) e = float(offset + scale * rng.normal());
  return v;
}
int count_far(const std::vector<float>& got, const std::vector<float>& want, double rtol,
              double atol, const char* what) {
  REQUIRE(got.size() == want.size());
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::abs(double(got[i]) - double(want[i]));
    if (!(err <= atol + rtol * std::abs(double(want[i]))) && ++bad <= 5)
      FAIL_CHECK(what << ": element " << i << " got " << got[i] << " want " << want[i]);
  }
  return bad;
}

struct Out {
  std::vector<float> y, dx, dg, db;
};

// write_dx: the fast backward writes a fresh dx (accumulate_dx = false; dx starts as NaN)
Out run(bool fast, bool training, int N, int C, int64_t HW, const std::vector<float>& x,
        const std::vector<float>& dy, const std::vector<float>& g, const std::vector<float>& b,
        bool write_dx = false) {
  std::vector<float> mean(static_cast<size_t>(C)), var(static_cast<size_t>(C)), invstd(static_cast<size_t>(C));
  ops::ref::batchnorm_stats(x.data(), N, C, HW, mean.data(), var.data());
  for (int c = 0; c < C; ++c) invstd[size_t(c)] = 1.f / std::sqrt(var[size_t(c)] + 1e-3f);
  Out o;
  o.y.resize(x.size());
  o.dx.assign(x.size(), write_dx ? std::nanf("") : 0.25f);  // accumulating: from non-zero
  o.dg.assign(size_t(C), 1.f);
  o.db.assign(size_t(C), -1.f);
  auto fwd = fast ? ops::batchnorm_silu_forward<float> : ops::ref::batchnorm_silu_forward<float>;
  fwd(x.data(), N, C, HW, mean.data(), invstd.data(), g.data(), b.data(), o.y.data());
  if (fast)
    ops::batchnorm_silu_backward(x.data(), dy.data(), N, C, HW, mean.data(), invstd.data(),
                                 g.data(), b.data(), training, o.dx.data(), o.dg.data(),
                                 o.db.data(), /*accumulate_dx=*/!write_dx);
  else
    ops::ref::batchnorm_silu_backward(x.data(), dy.data(), N, C, HW, mean.data(), invstd.data(),
                                      g.data(), b.data(), training, o.dx.data(), o.dg.data(),
                                      o.db.data());
  return o;
}


TEST_SUITE("ops") {
  TEST_CASE("batchnorm_silu: backward into a fresh dx (accumulate_dx = false) writes it") {
    Rng rng(33);
    const int N = 2, C = 5;
    const int64_t HW = 37 * 29;
    auto x = randv(rng, N * C * HW, 2.0, 0.3), dy = randv(rng, N * C * HW, 1.0);
    auto g = randv(rng, C, 0.3, 1.0), b = randv(rng, C, 0.3);
    const Out w = run(true, true, N, C, HW, x, dy, g, b, /*write_dx=*/true);
    const Out a = run(true, true, N, C, HW, x, dy, g, b);  // dx += onto 0.25
    int bad = 0;
    for (size_t i = 0; i < w.dx.size(); ++i) bad += !(0.25f + w.dx[i] == a.dx[i]);
    CHECK(bad == 0);
    CHECK(w.dg == a.dg);
    CHECK(w.db == a.db);
  }

  TEST_CASE("batchnorm_silu: fused kernels match the reference composition") {
    Rng rng(31);
    struct Case { int N, C, H, W; double offset, scale; };
    for (Case cs : {Case{1, 3, 5, 7, 0, 2}, Case{3, 5, 17, 13, 0.5, 2}, Case{2, 13, 37, 41, 0, 1},
                    Case{2, 9, 40, 40, 50.0, 3} /* |mean| >> std */,
                    Case{1, 4, 9, 9, 0, 40} /* z far into both SiLU tails */,
                    Case{1, 1, 1, 2, 0, 1}}) {
      CAPTURE(cs.N);
      CAPTURE(cs.C);
      CAPTURE(cs.H);
      const int64_t HW = int64_t(cs.H) * cs.W, n = cs.N * cs.C * HW;
      auto x = randv(rng, n, cs.scale, cs.offset);
      auto dy = randv(rng, n, 1.0);
      auto g = randv(rng, cs.C, cs.scale > 10 ? 10.0 : 0.3, 1.0);
      auto b = randv(rng, cs.C, 0.3);
      for (bool training : {true, false}) {
        CAPTURE(training);
        Out f = run(true, training, cs.N, cs.C, HW, x, dy, g, b);
        Out r = run(false, training, cs.N, cs.C, HW, x, dy, g, b);
        CHECK(count_far(f.y, r.y, 1e-5, 1e-5, "y") == 0);
        CHECK(count_far(f.dg, r.dg, 1e-4, 1e-3, "dgamma") == 0);
        CHECK(count_far(f.db, r.db, 1e-4, 1e-3, "dbeta") == 0);
        CHECK(count_far(f.dx, r.dx, 1e-4, 1e-4, "dx") == 0);
      }
    }
  }

  TEST_CASE("batchnorm_silu: gradient by hand for one channel of two values") {
    // x = {0, 2}: mean 1, var 1 (eps folded into invstd = 1), gamma 1, beta 0 -> z = {-1, 1}
    const std::vector<float> x = {0, 2}, dy = {1, 0}, g = {1}, b = {0};
    const float mean = 1, invstd = 1;
    float y[2], dx[2] = {0, 0}, dg = 0, db = 0;
    ops::batchnorm_silu_forward(x.data(), 1, 1, 2, &mean, &invstd, g.data(), b.data(), y);
    const double s = 1 / (1 + std::exp(1.0));  // sigmoid(-1)
    CHECK(y[0] == doctest::Approx(-s).epsilon(1e-6));
    CHECK(y[1] == doctest::Approx(1 - s).epsilon(1e-6));  // sigmoid(1) = 1 - s
    ops::batchnorm_silu_backward(x.data(), dy.data(), 1, 1, 2, &mean, &invstd, g.data(),
                                 b.data(), true, dx, &dg, &db);
    const double dz0 = s * (1 - (1 - s));  // silu'(-1) = s (1 + z (1 - s)) at z = -1
    // BN backward with M = 2, xhat = {-1, 1}, dz = {dz0, 0}
    CHECK(db == doctest::Approx(dz0).epsilon(1e-6));
    CHECK(dg == doctest::Approx(-dz0).epsilon(1e-6));
    CHECK(dx[0] == doctest::Approx(dz0 - dz0 / 2 - (-1) * (-dz0) / 2).epsilon(1e-6));
    CHECK(dx[1] == doctest::Approx(0 - dz0 / 2 - (1) * (-dz0) / 2).epsilon(1e-6));
  }

  TEST_CASE("batchnorm_silu: bitwise deterministic across runs and thread counts") {
    Rng rng(32);
    const int N = 3, C = 19;
    const int64_t HW = 33 * 35, n = N * C * HW;
    auto x = randv(rng, n, 1.5, 0.2), dy = randv(rng, n, 1.0);
    auto g = randv(rng, C, 0.3, 1.0), b = randv(rng, C, 0.3);
    const auto r = testing::repeat_and_single_thread([&] { return run(true, true, N, C, HW, x, dy, g, b); });
    const Out& a = r[0];
    const auto same = [](const std::vector<float>& p, const std::vector<float>& q) { return testing::same_bits(p, q); };
    for (const Out* o : {&r[1], &r[2]}) {
      CHECK(same(a.y, o->y));
      CHECK(same(a.dx, o->dx));
      CHECK(same(a.dg, o->dg));
      CHECK(same(a.db, o->db));
    }
  }
}

}  // namespace test_batchnorm_silu
