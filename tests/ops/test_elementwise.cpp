// ops/cpu/elementwise.hpp: the blocked parallel loops against the plain ones (bit for bit:
// elementwise results do not depend on the split), sizes around the block boundary.
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include <yolite/core/rng.hpp>
#include <yolite/ops/cpu/elementwise.hpp>

using namespace yolite;

TEST_SUITE("ops") {
  TEST_CASE("elementwise: fast == reference bit for bit, accumulating into non-zero") {
    Rng rng(41);
    for (int64_t n : {int64_t(1), int64_t(13), ops::kBlock - 1, ops::kBlock + 1, 3 * ops::kBlock + 77}) {
      CAPTURE(n);
      std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n)), init(static_cast<size_t>(n));
      for (auto& v : a) v = float(rng.normal());
      for (auto& v : b) v = float(rng.normal());
      for (auto& v : init) v = float(rng.normal());
      auto same = [](const std::vector<float>& x, const std::vector<float>& y) {
        return std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
      };
      std::vector<float> f(static_cast<size_t>(n)), r(static_cast<size_t>(n));
      ops::add(a.data(), b.data(), f.data(), n);
      ops::ref::add(a.data(), b.data(), r.data(), n);
      CHECK(same(f, r));
      CHECK(f[size_t(n - 1)] == a[size_t(n - 1)] + b[size_t(n - 1)]);
      ops::mul(a.data(), b.data(), f.data(), n);
      ops::ref::mul(a.data(), b.data(), r.data(), n);
      CHECK(same(f, r));
      ops::scale(a.data(), -1.5f, f.data(), n);
      ops::ref::scale(a.data(), -1.5f, r.data(), n);
      CHECK(same(f, r));
      f = init, r = init;
      ops::accumulate(f.data(), a.data(), n);
      ops::ref::accumulate(r.data(), a.data(), n);
      CHECK(same(f, r));
      CHECK(f[0] == init[0] + a[0]);
      ops::accumulate_scaled(f.data(), a.data(), 0.3f, n);
      ops::ref::accumulate_scaled(r.data(), a.data(), 0.3f, n);
      CHECK(same(f, r));
      ops::accumulate_mul(f.data(), a.data(), b.data(), n);
      ops::ref::accumulate_mul(r.data(), a.data(), b.data(), n);
      CHECK(same(f, r));
    }
  }
}
