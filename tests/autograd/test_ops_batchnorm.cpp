// ag::batch_norm2d beyond the gradient check: forward values and the running-statistics update
// (PyTorch semantics) against a hand computation, eval mode, float path == double path.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include <thread>

#include <yolite/autograd/ops.hpp>
#include <yolite/core/rng.hpp>
#include <yolite/dist/threads.hpp>

using namespace yolite;

TEST_SUITE("autograd") {
  TEST_CASE("batch_norm2d training: output, running stats, num_batches_tracked by hand") {
    // N=2, C=2, H=1, W=2.  channel 0: {1, 2, 3, 6}; channel 1: {0, 0, 4, 0}
    Tensor<double> x = Tensor<double>::from({2, 2, 1, 2}, std::vector<double>{1, 2, 0, 0, 3, 6, 4, 0});
    Var<double> g(Tensor<double>::from({2}, std::vector<double>{2.0, 0.5}), true);
    Var<double> b(Tensor<double>::from({2}, std::vector<double>{0.1, -1.0}), true);
    Tensor<double> rm = Tensor<double>::from({2}, std::vector<double>{0.5, -0.5});
    Tensor<double> rv = Tensor<double>::from({2}, std::vector<double>{2.0, 1.0});
    int64_t tracked = 7;
    const double mom = 0.1, eps = 1e-3;
    Var<double> y = ag::batch_norm2d(Var<double>(x, true), g, b, rm, rv, &tracked, true, mom, eps);
    // channel 0: mean 3, biased var (4+1+0+9)/4 = 3.5, unbiased 14/3
    // channel 1: mean 1, biased var (1+1+9+1)/4 = 3,   unbiased 4
    CHECK(tracked == 8);
    CHECK(rm[0] == doctest::Approx(0.9 * 0.5 + 0.1 * 3));
    CHECK(rm[1] == doctest::Approx(0.9 * -0.5 + 0.1 * 1));
    CHECK(rv[0] == doctest::Approx(0.9 * 2.0 + 0.1 * 14.0 / 3.0));
    CHECK(rv[1] == doctest::Approx(0.9 * 1.0 + 0.1 * 4.0));
    const double y00 = (1 - 3) / std::sqrt(3.5 + eps) * 2.0 + 0.1;  // x[0,0,0,0]
    const double y10 = (4 - 1) / std::sqrt(3.0 + eps) * 0.5 - 1.0;  // x[1,1,0,0]
    CHECK(y.value().at(0, 0, 0, 0) == doctest::Approx(y00));
    CHECK(y.value().at(1, 1, 0, 0) == doctest::Approx(y10));
    // default momentum/eps are YOLOv5's (0.03, 1e-3); null tracked pointer is fine
    Tensor<double> rm2({2}), rv2({2}, 1.0);
    ag::batch_norm2d(Var<double>(x), g, b, rm2, rv2, nullptr, true);
    CHECK(rm2[0] == doctest::Approx(0.03 * 3));
    CHECK(rv2[1] == doctest::Approx(0.97 + 0.03 * 4.0));
  }

  TEST_CASE("batch_norm2d eval: running stats used, nothing updated") {
    Tensor<double> x = Tensor<double>::from({1, 2, 1, 2}, std::vector<double>{1, 2, 3, 4});
    Var<double> g(Tensor<double>::from({2}, std::vector<double>{2.0, 1.0}), true);
    Var<double> b(Tensor<double>::from({2}, std::vector<double>{0.0, 1.0}), true);
    Tensor<double> rm = Tensor<double>::from({2}, std::vector<double>{1.0, 0.0});
    Tensor<double> rv = Tensor<double>::from({2}, std::vector<double>{4.0, 1.0});
    int64_t tracked = 3;
    Var<double> y = ag::batch_norm2d(Var<double>(x), g, b, rm, rv, &tracked, false);
    CHECK(tracked == 3);
    CHECK(rm[0] == 1.0);
    CHECK(rv[0] == 4.0);
    CHECK(y.value().at(0, 0, 0, 1) == doctest::Approx((2 - 1) / std::sqrt(4 + 1e-3) * 2.0));
    CHECK(y.value().at(0, 1, 0, 0) == doctest::Approx(3 / std::sqrt(1 + 1e-3) + 1.0));
    // training with one value per channel is an error, as in PyTorch
    Tensor<double> one({1, 2, 1, 1});
    CHECK_THROWS_AS(ag::batch_norm2d(Var<double>(one), g, b, rm, rv, &tracked, true), Error);
  }

  TEST_CASE("batch_norm2d + silu: float (fast kernels) agrees with double") {
    Rng rng(5);
    const Shape s{3, 11, 23, 29};
    Tensor<double> xd(s);
    for (auto& v : xd) v = rng.normal() * 3 + 1;
    Tensor<double> gd({11}), bd({11}), r({s});
    for (auto& v : gd) v = 1 + 0.3 * rng.normal();
    for (auto& v : bd) v = 0.3 * rng.normal();
    for (auto& v : r) v = rng.normal();
    auto run = [&](auto zero) {
      using T = decltype(zero);
      Var<T> x(xd.cast<T>(), true), g(gd.cast<T>(), true), b(bd.cast<T>(), true);
      Tensor<T> rm({11}), rv({11}, T(1));
      for (bool training : {true, false}) {
        auto y = ag::silu(ag::batch_norm2d(x, g, b, rm, rv, nullptr, training));
        ag::sum(ag::mul(y, Var<T>(r.cast<T>()))).backward();
      }
      return std::vector<Tensor<T>>{x.grad(), g.grad(), b.grad(), rm, rv};
    };
    auto f = run(0.f);
    auto d = run(0.0);
    for (size_t k = 0; k < f.size(); ++k) {
      CAPTURE(k);
      double worst = 0, scale = 0;
      for (int64_t i = 0; i < d[k].numel(); ++i) {
        worst = std::max(worst, std::abs(double(f[k][i]) - d[k][i]));
        scale = std::max(scale, std::abs(d[k][i]));
      }
      CHECK(worst <= 1e-4 * scale + 1e-6);
    }
  }

  TEST_CASE("batch_norm_silu2d equals silu(batch_norm2d(...)): values, gradients, running stats") {
    Rng rng(6);
    const Shape s{2, 7, 13, 11};
    Tensor<float> x0(s), r(s), g0({7}), b0({7});
    for (auto& v : x0) v = float(rng.normal() * 2 + 0.5);
    for (auto& v : r) v = float(rng.normal());
    for (auto& v : g0) v = float(1 + 0.3 * rng.normal());
    for (auto& v : b0) v = float(0.3 * rng.normal());
    struct Out { Tensor<float> y, gx, gg, gb, rm, rv; int64_t seen; };
    auto run = [&](bool fused, bool training) {
      Var<float> x(x0.clone(), true), g(g0.clone(), true), b(b0.clone(), true);
      Tensor<float> rm({7}, 0.1f), rv({7}, 2.f);
      int64_t seen = 3;
      Var<float> y = fused ? ag::batch_norm_silu2d(x, g, b, rm, rv, &seen, training, 0.03, 1e-3)
                           : ag::silu(ag::batch_norm2d(x, g, b, rm, rv, &seen, training, 0.03, 1e-3));
      ag::sum(ag::mul(y, Var<float>(r))).backward();
      return Out{y.value(), x.grad(), g.grad(), b.grad(), rm, rv, seen};
    };
    for (bool training : {true, false}) {
      CAPTURE(training);
      Out f = run(true, training), u = run(false, training);
      CHECK(f.seen == u.seen);
      CHECK(f.seen == (training ? 4 : 3));
      auto near = [](const Tensor<float>& a, const Tensor<float>& b, double tol) {
        REQUIRE(a.shape() == b.shape());
        double worst = 0, scale = 0;
        for (int64_t i = 0; i < a.numel(); ++i) {
          worst = std::max(worst, std::abs(double(a[i]) - double(b[i])));
          scale = std::max(scale, std::abs(double(b[i])));
        }
        CHECK(worst <= tol * scale + 1e-6);
      };
      near(f.y, u.y, 1e-6);
      near(f.gx, u.gx, 1e-4);
      near(f.gg, u.gg, 1e-4);
      near(f.gb, u.gb, 1e-4);
      CHECK(std::memcmp(f.rm.data(), u.rm.data(), 7 * sizeof(float)) == 0);  // same statistics code
      CHECK(std::memcmp(f.rv.data(), u.rv.data(), 7 * sizeof(float)) == 0);
    }
  }

  TEST_CASE("sync-BN: ranks holding parts of a batch get the whole batch's values and gradients") {
    // double: the split only changes the order of the sums, so the results agree to ~1e-13
    Rng rng(8);
    const int C = 5, H = 3, W = 4;
    const Shape whole{4, C, H, W};
    Tensor<double> x0(whole), r0(whole), g0({C}), b0({C});
    for (auto& v : x0) v = rng.normal() * 3 + 20;  // |mean| >> std: the combination must stay exact
    for (auto& v : r0) v = rng.normal();
    for (auto& v : g0) v = 1 + 0.3 * rng.normal();
    for (auto& v : b0) v = 0.3 * rng.normal();
    struct Out {
      Tensor<double> y, gx, gg, gb, rm, rv;
    };
    // images [lo, hi) of the batch, on one rank (sync: with the others)
    auto run = [&](int64_t lo, int64_t hi, bool fused, const ops::BnSync* sync) {
      const int64_t n = hi - lo, per = int64_t(C) * H * W;
      Tensor<double> xs({n, C, H, W}), rs({n, C, H, W});
      std::copy(x0.data() + lo * per, x0.data() + hi * per, xs.data());
      std::copy(r0.data() + lo * per, r0.data() + hi * per, rs.data());
      Var<double> x(xs, true), g(g0.clone(), true), b(b0.clone(), true);
      Tensor<double> rm({C}, 0.1), rv({C}, 2.0);
      Var<double> y = fused ? ag::batch_norm_silu2d(x, g, b, rm, rv, nullptr, true, 0.03, 1e-3, sync)
                            : ag::batch_norm2d(x, g, b, rm, rv, nullptr, true, 0.03, 1e-3, sync);
      ag::sum(ag::mul(y, Var<double>(rs))).backward();
      return Out{y.value(), x.grad(), g.grad(), b.grad(), rm, rv};
    };
    auto near = [](const double* a, const double* b, int64_t n, double tol) {
      double worst = 0;
      for (int64_t i = 0; i < n; ++i) worst = std::max(worst, std::abs(a[i] - b[i]) / (1 + std::abs(b[i])));
      CHECK(worst <= tol);
    };
    for (bool fused : {false, true}) {
      for (std::vector<int64_t> cuts : {std::vector<int64_t>{0, 2, 4}, {0, 3, 4}, {0, 1, 2, 4}}) {
        CAPTURE(fused);
        CAPTURE(cuts.size());
        const Out one = run(0, 4, fused, nullptr);
        const int ranks = int(cuts.size()) - 1;
        dist::ThreadGroup group(ranks);
        std::vector<Out> part(static_cast<size_t>(ranks));
        std::vector<std::thread> threads;
        for (int k = 0; k < ranks; ++k)
          threads.emplace_back([&, k] {
            dist::ThreadComm comm(group, k);
            ops::BnSync sync;
            sync.gather = [&comm](const std::vector<double>& v) { return comm.allgather_values(v); };
            part[size_t(k)] = run(cuts[size_t(k)], cuts[size_t(k) + 1], fused, &sync);
          });
        for (auto& t : threads) t.join();
        Tensor<double> gg({C}), gb({C});
        for (int k = 0; k < ranks; ++k) {
          const Out& p = part[size_t(k)];
          const int64_t at = cuts[size_t(k)] * C * H * W, n = p.y.numel();
          near(p.y.data(), one.y.data() + at, n, 1e-12);    // normalised by the whole batch
          near(p.gx.data(), one.gx.data() + at, n, 1e-12);  // through the whole batch's statistics
          near(p.rm.data(), one.rm.data(), C, 1e-12);       // every rank: the whole batch's running stats
          near(p.rv.data(), one.rv.data(), C, 1e-12);
          CHECK(std::memcmp(p.rm.data(), part[0].rm.data(), C * sizeof(double)) == 0);  // the same bits
          for (int c = 0; c < C; ++c) gg[c] += p.gg[c], gb[c] += p.gb[c];
        }
        // gamma's and beta's gradients are each rank's share: their sum is the whole batch's
        near(gg.data(), one.gg.data(), C, 1e-12);
        near(gb.data(), one.gb.data(), C, 1e-12);
      }
    }
  }
}
