// ops/cpu/maxpool.hpp: the separable plane-parallel max pool == the window-scanning reference,
// values AND argmax indices bit for bit -- including ties (first maximum in row-major window
// order), -inf inputs and windows hanging over the padding.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include <yolite/core/error.hpp>
#include <yolite/core/rng.hpp>
#include <yolite/ops/cpu/maxpool.hpp>

using namespace yolite;

namespace {
void compare(const ops::Pool2dParams& p, const std::vector<float>& x, Rng& rng) {
  const size_t out = size_t(p.N) * p.C * p.OH() * p.OW();
  std::vector<float> yf(out), yr(out);
  std::vector<int32_t> idf(out), idr(out);
  ops::max_pool2d_forward(p, x.data(), yf.data(), idf.data());
  ops::ref::max_pool2d_forward(p, x.data(), yr.data(), idr.data());
  CHECK(std::memcmp(yf.data(), yr.data(), out * sizeof(float)) == 0);
  CHECK(idf == idr);
  // values only (idx == nullptr, the inference path): the same values
  std::vector<float> yv(out, std::nanf(""));
  ops::max_pool2d_forward<float>(p, x.data(), yv.data(), nullptr);
  CHECK(std::memcmp(yv.data(), yr.data(), out * sizeof(float)) == 0);
  bool in_range = true;
  for (int32_t i : idf) in_range = in_range && i >= 0 && i < p.H * p.W;
  CHECK(in_range);
  std::vector<float> dy(out);
  for (auto& v : dy) v = float(rng.normal());
  std::vector<float> df(x.size(), 0.5f), dr(x.size(), 0.5f);
  ops::max_pool2d_backward(p, dy.data(), idf.data(), df.data());
  ops::ref::max_pool2d_backward(p, dy.data(), idr.data(), dr.data());
  CHECK(std::memcmp(df.data(), dr.data(), df.size() * sizeof(float)) == 0);
}
}  // namespace

TEST_SUITE("ops") {
  TEST_CASE("max_pool2d: fast == reference (values, argmax, backward)") {
    Rng rng(71);
    struct Case { int N, C, H, W, k, s, pad; };
    for (Case cs : {Case{1, 3, 5, 7, 5, 1, 2}, Case{3, 5, 5, 7, 3, 2, 1}, Case{3, 3, 5, 7, 2, 2, 0},
                    Case{1, 5, 1, 1, 1, 1, 0}, Case{3, 13, 21, 19, 5, 1, 2}, Case{2, 17, 20, 20, 5, 1, 2},
                    Case{1, 3, 9, 11, 4, 3, 2}, Case{1, 2, 3, 3, 5, 1, 2},
                    Case{1, 256, 10, 10, 5, 1, 2}}) {  // SPPF at 320 px: planes in parallel
      CAPTURE(cs.N);
      CAPTURE(cs.C);
      CAPTURE(cs.H);
      CAPTURE(cs.W);
      CAPTURE(cs.k);
      ops::Pool2dParams p{cs.N, cs.C, cs.H, cs.W, cs.k, cs.s, cs.pad};
      std::vector<float> x(static_cast<size_t>(cs.N * cs.C * cs.H * cs.W));
      SUBCASE("continuous values") {
        for (auto& v : x) v = float(rng.normal());
        compare(p, x, rng);
      }
      SUBCASE("many ties (values in {0, 1, 2})") {
        for (auto& v : x) v = float(rng.below(3));
        compare(p, x, rng);
      }
      SUBCASE("all -inf / all equal") {
        std::fill(x.begin(), x.end(), -std::numeric_limits<float>::infinity());
        compare(p, x, rng);
        std::fill(x.begin(), x.end(), 1.f);
        compare(p, x, rng);
      }
    }
  }

  TEST_CASE("max_pool2d: k5 s1 p2 hand example and bad parameters") {
    // 1x1x1x3 row [1, 3, 2] -> every window sees all three -> 3 at index 1
    ops::Pool2dParams p{1, 1, 1, 3, 5, 1, 2};
    float x[3] = {1, 3, 2}, y[3];
    int32_t id[3];
    ops::max_pool2d_forward(p, x, y, id);
    for (int i = 0; i < 3; ++i) {
      CHECK(y[i] == 3.f);
      CHECK(id[i] == 1);
    }
    ops::Pool2dParams bad{1, 1, 5, 5, 3, 1, 2};  // pad > k/2
    CHECK_THROWS_AS(bad.validate(), Error);
  }
}
