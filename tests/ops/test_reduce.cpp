// ops/cpu/reduce.hpp: blocked parallel double sum vs the serial reference; determinism.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <yolite/core/parallel.hpp>
#include <yolite/core/rng.hpp>
#include <yolite/ops/cpu/reduce.hpp>

using namespace yolite;

TEST_SUITE("ops") {
  TEST_CASE("reduce: sum matches the serial reference and is thread-count independent") {
    Rng rng(81);
    for (int64_t n : {int64_t(0), int64_t(1), int64_t(9), ops::kBlock + 3, 5 * ops::kBlock + 1001}) {
      CAPTURE(n);
      std::vector<float> x(static_cast<size_t>(n));
      double abs_sum = 0;
      for (auto& v : x) {
        v = float(rng.normal() + 0.1);
        abs_sum += std::abs(double(v));
      }
      const double f = ops::sum(x.data(), n), r = ops::ref::sum(x.data(), n);
      CHECK(std::abs(f - r) <= 1e-13 * abs_sum + 1e-300);
      const int saved = max_threads();
      set_threads(1);
      const double f1 = ops::sum(x.data(), n);
      set_threads(saved);
      CHECK(f1 == f);
    }
    std::vector<double> v = {1, 2, 3, 4.5};
    CHECK(ops::sum(v.data(), 4) == 10.5);
  }
}
