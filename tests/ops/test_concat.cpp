// ops/cpu/concat.hpp: plane-parallel concat forward/backward == element-wise reference, bit
// for bit, on awkward channel counts; inputs skipped in backward stay untouched.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include <yolite/core/rng.hpp>
#include <yolite/ops/cpu/concat.hpp>

using namespace yolite;

TEST_SUITE("ops") {
  TEST_CASE("concat: fast == reference (forward and accumulating backward)") {
    Rng rng(51);
    struct Case { int N; std::vector<int> ch; int H, W; };
    for (const Case& cs : {Case{1, {3}, 5, 7}, Case{3, {3, 5, 1}, 5, 7}, Case{3, {13, 7, 19, 2}, 21, 23},
                           Case{2, {64, 64}, 20, 20}}) {
      CAPTURE(cs.N);
      CAPTURE(cs.ch.size());
      const int64_t HW = int64_t(cs.H) * cs.W;
      int Ct = 0;
      std::vector<std::vector<float>> xs;
      std::vector<const float*> ptrs;
      for (int c : cs.ch) {
        xs.emplace_back(size_t(cs.N * c * HW));
        for (auto& v : xs.back()) v = float(rng.normal());
        ptrs.push_back(xs.back().data());
        Ct += c;
      }
      std::vector<float> yf(static_cast<size_t>(cs.N * Ct * HW)), yr(yf.size());
      ops::concat_forward(ptrs, cs.ch, cs.N, HW, yf.data());
      ops::ref::concat_forward(ptrs, cs.ch, cs.N, HW, yr.data());
      CHECK(std::memcmp(yf.data(), yr.data(), yf.size() * sizeof(float)) == 0);
      // spot check: last image, last input's first channel
      const int lastc = cs.ch.back();
      CHECK(yf[size_t(((cs.N - 1) * Ct + (Ct - lastc)) * HW)] == xs.back()[size_t((cs.N - 1) * lastc * HW)]);

      std::vector<float> dy(yf.size());
      for (auto& v : dy) v = float(rng.normal());
      std::vector<std::vector<float>> df, dr;
      std::vector<float*> pf, pr;
      for (size_t i = 0; i < cs.ch.size(); ++i) {
        df.emplace_back(xs[i].size(), 0.5f);
        dr.emplace_back(xs[i].size(), 0.5f);
      }
      for (size_t i = 0; i < cs.ch.size(); ++i) {
        const bool skip = cs.ch.size() > 1 && i == 1;  // input 1 needs no gradient
        pf.push_back(skip ? nullptr : df[i].data());
        pr.push_back(skip ? nullptr : dr[i].data());
      }
      ops::concat_backward(dy.data(), cs.ch, cs.N, HW, pf);
      ops::ref::concat_backward(dy.data(), cs.ch, cs.N, HW, pr);
      for (size_t i = 0; i < cs.ch.size(); ++i) {
        CHECK(std::memcmp(df[i].data(), dr[i].data(), df[i].size() * sizeof(float)) == 0);
        if (!pf[i]) CHECK(df[i][0] == 0.5f);
      }
      CHECK(df[0][0] == 0.5f + dy[0]);
    }
  }

  TEST_CASE("concat: backward with the same tensor twice (concat({x, x})) has no race") {
    Rng rng(52);
    const int N = 3, C = 7;
    const int64_t HW = 37 * 41;  // large enough for the parallel path
    std::vector<int> ch = {C, C};
    std::vector<float> dy(static_cast<size_t>(N * 2 * C * HW));
    for (auto& v : dy) v = float(rng.normal());
    std::vector<float> df(static_cast<size_t>(N * C * HW), 1.f), dr = df;
    ops::concat_backward<float>(dy.data(), ch, N, HW, {df.data(), df.data()});
    ops::ref::concat_backward<float>(dy.data(), ch, N, HW, {dr.data(), dr.data()});
    CHECK(std::memcmp(df.data(), dr.data(), df.size() * sizeof(float)) == 0);
    CHECK(df[0] == (1.f + dy[0]) + dy[size_t(C * HW)]);
  }

  TEST_CASE("concat: backward into fresh buffers writes them (any old contents ignored)") {
    Rng rng(53);
    const int N = 2;
    const int64_t HW = 33 * 35;
    std::vector<int> ch = {3, 5, 3};
    std::vector<float> dy(static_cast<size_t>(N * 11 * HW));
    for (auto& v : dy) v = float(rng.normal());
    // inputs 0 and 2 are one tensor (fresh the first time only), input 1 is a fresh buffer
    std::vector<float> a(size_t(N * 3 * HW), std::nanf("")), b(size_t(N * 5 * HW), std::nanf(""));
    ops::concat_backward<float>(dy.data(), ch, N, HW, {a.data(), b.data(), a.data()},
                                {true, true, false});
    std::vector<float> ar(a.size(), 0.f), br(b.size(), 0.f);
    ops::ref::concat_backward<float>(dy.data(), ch, N, HW, {ar.data(), br.data(), ar.data()});
    CHECK(std::memcmp(a.data(), ar.data(), a.size() * sizeof(float)) == 0);
    CHECK(std::memcmp(b.data(), br.data(), b.size() * sizeof(float)) == 0);
  }
}
