// ops/cpu/bce.hpp: blocked parallel BCE-with-logits vs the reference loops, the closed form,
// and extreme logits (no overflow, exact asymptotes).
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include <yolite/core/rng.hpp>
#include <yolite/ops/cpu/bce.hpp>

using namespace yolite;

TEST_SUITE("ops") {
  TEST_CASE("bce: fast == reference; naive formula where it is safe") {
    Rng rng(91);
    for (int64_t n : {int64_t(1), int64_t(77), 2 * ops::kBlock + 5}) {
      for (float pw : {1.f, 0.5f, 3.f}) {
        CAPTURE(n);
        CAPTURE(pw);
        std::vector<float> x(static_cast<size_t>(n)), t(static_cast<size_t>(n));
        for (auto& v : x) v = float(rng.normal() * 4);
        for (auto& v : t) v = float(rng.uniform());
        const double f = ops::bce_with_logits_sum(x.data(), t.data(), n, pw);
        const double r = ops::ref::bce_with_logits_sum(x.data(), t.data(), n, pw);
        CHECK(f == doctest::Approx(r).epsilon(1e-12));
        double naive = 0;
        for (int64_t i = 0; i < n; ++i) {
          double s = 1 / (1 + std::exp(-double(x[size_t(i)])));
          naive += -(pw * t[size_t(i)] * std::log(s) + (1 - t[size_t(i)]) * std::log(1 - s));
        }
        CHECK(f == doctest::Approx(naive).epsilon(1e-7));  // naive log(1-s) loses digits at large x
        std::vector<float> df(size_t(n), 0.5f), dr(size_t(n), 0.5f);
        ops::bce_with_logits_backward(x.data(), t.data(), n, pw, 0.7f, df.data());
        ops::ref::bce_with_logits_backward(x.data(), t.data(), n, pw, 0.7f, dr.data());
        CHECK(std::memcmp(df.data(), dr.data(), df.size() * sizeof(float)) == 0);
        // closed form of the derivative: pw*t*(s-1) + (1-t)*s, times g
        const size_t i = size_t(n / 2);
        const double s = 1 / (1 + std::exp(-double(x[i])));
        CHECK(df[i] - 0.5f == doctest::Approx(0.7 * (pw * t[i] * (s - 1) + (1 - t[i]) * s)).epsilon(1e-5));
      }
    }
  }

  TEST_CASE("bce: extreme logits stay finite") {
    float x[4] = {200.f, -200.f, 200.f, -200.f}, t[4] = {1, 0, 0, 1}, d[4] = {0, 0, 0, 0};
    const double s = ops::bce_with_logits_sum(x, t, 4, 1.f);
    CHECK(s == doctest::Approx(400.0));  // only the two wrong-sided ones cost |x| each
    ops::bce_with_logits_backward(x, t, 4, 1.f, 1.f, d);
    CHECK(d[0] == 0.f);
    CHECK(d[1] == 0.f);
    CHECK(d[2] == 1.f);
    CHECK(d[3] == -1.f);
  }
}
