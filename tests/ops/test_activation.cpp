// ops/cpu/activation.hpp: the fast SiLU / sigmoid (polynomial exp for float) against the
// std::exp reference, over the whole useful range and at the extremes; determinism.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include <yolite/core/parallel.hpp>
#include <yolite/core/rng.hpp>
#include <yolite/ops/cpu/activation.hpp>

using namespace yolite;

TEST_SUITE("ops") {
  TEST_CASE("activation: exp_approx is within a few ulp of std::exp") {
    double worst = 0;
    for (float x = -87.f; x <= 88.f; x += 0.0137f) {
      double want = std::exp(double(x));
      double rel = std::abs(double(ops::exp_approx(x)) - want) / want;
      worst = std::max(worst, rel);
    }
    CHECK(worst < 5e-7);
    CHECK(ops::exp_approx(0.f) == 1.f);
    CHECK(ops::exp_approx(-1000.f) >= 0.f);
    CHECK(ops::exp_approx(-1000.f) < 1e-37f);
    CHECK(std::isfinite(ops::exp_approx(1000.f)));
  }

  TEST_CASE("activation: fast silu/sigmoid forward and backward match the reference") {
    Rng rng(31);
    for (int64_t n : {int64_t(1), int64_t(7), int64_t(3 * 5 * 7 * 9), int64_t(3 * 13 * 37 * 41)}) {
      CAPTURE(n);
      std::vector<float> x(static_cast<size_t>(n)), dy(static_cast<size_t>(n));
      for (auto& v : x) v = float(rng.normal() * 6);
      for (auto& v : dy) v = float(rng.normal());
      x[0] = -100.f;  // extremes (sigmoid -> 0 / 1)
      if (n > 1) x[1] = 100.f;
      if (n > 2) x[2] = 0.f;
      std::vector<float> yf(x.size()), yr(x.size()), df(x.size(), 0.5f), dr(x.size(), 0.5f);
      auto cmp = [&](const std::vector<float>& a, const std::vector<float>& b, const char* what) {
        int bad = 0;
        for (size_t i = 0; i < a.size(); ++i) {
          double err = std::abs(double(a[i]) - double(b[i]));
          if (!(err <= 1e-6 + 2e-6 * std::abs(double(b[i]))) && ++bad <= 5)
            FAIL_CHECK(what << " at " << i << " (x = " << x[i] << "): " << a[i] << " vs " << b[i]);
        }
        CHECK(bad == 0);
      };
      ops::silu_forward(x.data(), yf.data(), n);
      ops::ref::silu_forward(x.data(), yr.data(), n);
      cmp(yf, yr, "silu forward");
      ops::silu_backward(x.data(), dy.data(), df.data(), n);
      ops::ref::silu_backward(x.data(), dy.data(), dr.data(), n);
      cmp(df, dr, "silu backward");
      ops::sigmoid_forward(x.data(), yf.data(), n);
      ops::ref::sigmoid_forward(x.data(), yr.data(), n);
      cmp(yf, yr, "sigmoid forward");
      std::fill(df.begin(), df.end(), 0.5f);
      std::fill(dr.begin(), dr.end(), 0.5f);
      ops::sigmoid_backward(yr.data(), dy.data(), df.data(), n);
      ops::ref::sigmoid_backward(yr.data(), dy.data(), dr.data(), n);
      CHECK(std::memcmp(df.data(), dr.data(), df.size() * sizeof(float)) == 0);
    }
  }

  TEST_CASE("activation: silu known values, double precision path") {
    double x[4] = {0, 1, -1, 20}, y[4];
    ops::silu_forward(x, y, 4);
    CHECK(y[0] == 0);
    CHECK(y[1] == doctest::Approx(0.7310585786300049));
    CHECK(y[2] == doctest::Approx(-0.2689414213699951));
    CHECK(y[3] == doctest::Approx(20 / (1 + std::exp(-20.0))));
  }

  TEST_CASE("activation: bitwise deterministic across runs and thread counts") {
    Rng rng(32);
    const int64_t n = 200003;
    std::vector<float> x(static_cast<size_t>(n)), dy(static_cast<size_t>(n));
    for (auto& v : x) v = float(rng.normal() * 4);
    for (auto& v : dy) v = float(rng.normal());
    auto go = [&] {
      std::vector<float> y(static_cast<size_t>(n)), d(static_cast<size_t>(n));
      ops::silu_forward(x.data(), y.data(), n);
      ops::silu_backward(x.data(), dy.data(), d.data(), n);
      y.insert(y.end(), d.begin(), d.end());
      return y;
    };
    auto a = go(), b = go();
    const int saved = max_threads();
    set_threads(1);
    auto c = go();
    set_threads(saved);
    CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(a.data(), c.data(), a.size() * sizeof(float)) == 0);
  }
}
