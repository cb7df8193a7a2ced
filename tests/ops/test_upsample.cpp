// ops/cpu/upsample.hpp: plane-parallel nearest 2x upsample == reference, bit for bit.
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include <yolite/core/rng.hpp>
#include <yolite/ops/cpu/upsample.hpp>

using namespace yolite;

TEST_SUITE("ops") {
  TEST_CASE("upsample_nearest2x: fast == reference (forward and accumulating backward)") {
    Rng rng(61);
    struct Case { int64_t P; int H, W; };
    for (Case cs : {Case{1, 1, 1}, Case{3 * 5, 5, 7}, Case{3 * 13, 21, 19}, Case{2 * 64, 20, 20}}) {
      CAPTURE(cs.P);
      CAPTURE(cs.H);
      std::vector<float> x(static_cast<size_t>(cs.P * cs.H * cs.W));
      for (auto& v : x) v = float(rng.normal());
      std::vector<float> yf(x.size() * 4), yr(x.size() * 4);
      ops::upsample_nearest2x_forward(x.data(), cs.P, cs.H, cs.W, yf.data());
      ops::ref::upsample_nearest2x_forward(x.data(), cs.P, cs.H, cs.W, yr.data());
      CHECK(std::memcmp(yf.data(), yr.data(), yf.size() * sizeof(float)) == 0);
      // y[p, 2h+1, 2w+1] == x[p, h, w] for the last element
      CHECK(yf.back() == x.back());
      std::vector<float> dy(yf.size());
      for (auto& v : dy) v = float(rng.normal());
      std::vector<float> df(x.size(), 0.25f), dr(x.size(), 0.25f);
      ops::upsample_nearest2x_backward(dy.data(), cs.P, cs.H, cs.W, df.data());
      ops::ref::upsample_nearest2x_backward(dy.data(), cs.P, cs.H, cs.W, dr.data());
      CHECK(std::memcmp(df.data(), dr.data(), df.size() * sizeof(float)) == 0);
      const int64_t W2 = 2 * cs.W;
      CHECK(df[0] == doctest::Approx(0.25f + dy[0] + dy[1] + dy[size_t(W2)] + dy[size_t(W2 + 1)]));
    }
  }
}
