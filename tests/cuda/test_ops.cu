// The non-conv CUDA kernels against the CPU reference kernels of the same name.
#include <doctest/doctest.h>

#include <cmath>

#include <yolite/ops/cpu/activation.hpp>
#include <yolite/ops/cpu/batchnorm.hpp>
#include <yolite/ops/cpu/bce.hpp>
#include <yolite/ops/cpu/concat.hpp>
#include <yolite/ops/cpu/elementwise.hpp>
#include <yolite/ops/cpu/maxpool.hpp>
#include <yolite/ops/cpu/upsample.hpp>
#include <yolite/ops/cuda/activation.cuh>
#include <yolite/ops/cuda/batchnorm.cuh>
#include <yolite/ops/cuda/bce.cuh>
#include <yolite/ops/cuda/concat.cuh>
#include <yolite/ops/cuda/elementwise.cuh>
#include <yolite/ops/cuda/ema.cuh>
#include <yolite/ops/cuda/maxpool.cuh>
#include <yolite/ops/cuda/sgd.cuh>
#include <yolite/ops/cuda/upsample.cuh>

#include "helpers.cuh"

using namespace yolite;
using namespace yolite::cuda_test;

TEST_SUITE("cuda") {
  TEST_CASE("elementwise and activations") {
    Context ctx;
    Rng rng(1);
    for (int64_t n : {1, 37, 1000, 70001}) {
      CAPTURE(n);
      auto a = random_vec(rng, n, -6, 6), b = random_vec(rng, n), d0 = random_vec(rng, n);
      auto ga = up(ctx, a), gb = up(ctx, b);
      DeviceTensor<float> gy(ctx, {n});
      std::vector<float> want(static_cast<size_t>(n));

      ops::cuda::add(ctx, ga.data(), gb.data(), gy.data(), n);
      ops::ref::add(a.data(), b.data(), want.data(), n);
      check_equal(gy.to_host(ctx), want, "add");
      ops::cuda::mul(ctx, ga.data(), gb.data(), gy.data(), n);
      ops::ref::mul(a.data(), b.data(), want.data(), n);
      check_equal(gy.to_host(ctx), want, "mul");
      ops::cuda::scale(ctx, ga.data(), 0.37f, gy.data(), n);
      ops::ref::scale(a.data(), 0.37f, want.data(), n);
      check_equal(gy.to_host(ctx), want, "scale");

      auto acc = [&](auto gpu, auto cpu, const char* what) {
        auto g = up(ctx, d0);
        std::vector<float> h = d0;
        gpu(g.data());
        cpu(h.data());
        check_close(g.to_host(ctx), h, 1e-6, 1e-6, what);
      };
      acc([&](float* d) { ops::cuda::accumulate(ctx, d, ga.data(), n); },
          [&](float* d) { ops::ref::accumulate(d, a.data(), n); }, "accumulate");
      acc([&](float* d) { ops::cuda::accumulate_scaled(ctx, d, ga.data(), -1.5f, n); },
          [&](float* d) { ops::ref::accumulate_scaled(d, a.data(), -1.5f, n); }, "accumulate_scaled");
      acc([&](float* d) { ops::cuda::accumulate_mul(ctx, d, ga.data(), gb.data(), n); },
          [&](float* d) { ops::ref::accumulate_mul(d, a.data(), b.data(), n); }, "accumulate_mul");
      acc([&](float* d) { ops::cuda::silu_backward(ctx, ga.data(), gb.data(), d, n); },
          [&](float* d) { ops::ref::silu_backward(a.data(), b.data(), d, n); }, "silu_backward");
      acc([&](float* d) { ops::cuda::sigmoid_backward(ctx, ga.data(), gb.data(), d, n); },
          [&](float* d) { ops::ref::sigmoid_backward(a.data(), b.data(), d, n); }, "sigmoid_backward");

      ops::cuda::silu_forward(ctx, ga.data(), gy.data(), n);
      ops::ref::silu_forward(a.data(), want.data(), n);
      check_close(gy.to_host(ctx), want, 1e-6, 1e-5, "silu_forward");
      ops::cuda::sigmoid_forward(ctx, ga.data(), gy.data(), n);
      ops::ref::sigmoid_forward(a.data(), want.data(), n);
      check_close(gy.to_host(ctx), want, 1e-6, 1e-5, "sigmoid_forward");
    }
  }

  TEST_CASE("batchnorm: stats, forward, backward, train and eval entry points") {
    Context ctx;
    struct S { int N, C; int64_t HW; };
    for (S s : {S{1, 3, 7 * 5}, S{3, 17, 13 * 11}, S{2, 5, 1}, S{4, 64, 20 * 20}}) {
      CAPTURE(s.N); CAPTURE(s.C); CAPTURE(s.HW);
      Rng rng(uint64_t(s.N * 1000 + s.C));
      const int64_t n = int64_t(s.N) * s.C * s.HW;
      auto x = random_vec(rng, n, -2, 5), dy = random_vec(rng, n), dx0 = random_vec(rng, n);
      auto gamma = random_vec(rng, s.C, 0.5, 1.5), beta = random_vec(rng, s.C);
      auto rm0 = random_vec(rng, s.C), rv0 = random_vec(rng, s.C, 0.5, 2);
      auto dg0 = random_vec(rng, s.C), db0 = random_vec(rng, s.C);
      std::vector<float> mean(static_cast<size_t>(s.C)), var(size_t(s.C)), invstd(size_t(s.C));
      ops::ref::batchnorm_stats(x.data(), s.N, s.C, s.HW, mean.data(), var.data());
      const double eps = 1e-3, mom = 0.03, M = double(s.N) * double(s.HW);
      for (int c = 0; c < s.C; ++c) invstd[size_t(c)] = float(1.0 / std::sqrt(double(var[size_t(c)]) + eps));

      auto gx = up(ctx, x), gdy = up(ctx, dy), gg = up(ctx, gamma), gbeta = up(ctx, beta);
      DeviceTensor<float> gmean(ctx, {s.C}), gvar(ctx, {s.C}), gy(ctx, {n});
      ops::cuda::batchnorm_stats(ctx, gx.data(), s.N, s.C, s.HW, gmean.data(), gvar.data());
      check_close(gmean.to_host(ctx), mean, 1e-6, 1e-5, "mean");
      check_close(gvar.to_host(ctx), var, 1e-6, 1e-5, "var");

      // training forward: saved statistics, running-stat update with the unbiased variance
      if (M > 1) {
        auto grm = up(ctx, rm0), grv = up(ctx, rv0);
        DeviceTensor<float> smean(ctx, {s.C}), sinv(ctx, {s.C});
        ops::cuda::batchnorm_train_forward(ctx, gx.data(), s.N, s.C, s.HW, gg.data(), gbeta.data(),
                                           grm.data(), grv.data(), smean.data(), sinv.data(),
                                           gy.data(), mom, eps);
        std::vector<float> want(static_cast<size_t>(n)), rm(rm0), rv(rv0);
        ops::ref::batchnorm_forward(x.data(), s.N, s.C, s.HW, mean.data(), invstd.data(),
                                    gamma.data(), beta.data(), want.data());
        for (size_t c = 0; c < size_t(s.C); ++c) {
          rm[c] = float((1 - mom) * rm0[c] + mom * mean[c]);
          rv[c] = float((1 - mom) * rv0[c] + mom * double(var[c]) * M / (M - 1));
        }
        check_close(gy.to_host(ctx), want, 1e-5, 1e-4, "train forward");
        check_close(sinv.to_host(ctx), invstd, 1e-6, 1e-5, "saved invstd");
        check_close(grm.to_host(ctx), rm, 1e-6, 1e-5, "running_mean");
        check_close(grv.to_host(ctx), rv, 1e-6, 1e-5, "running_var");
      }
      // eval forward with running statistics
      {
        auto grm = up(ctx, rm0), grv = up(ctx, rv0);
        ops::cuda::batchnorm_eval_forward(ctx, gx.data(), s.N, s.C, s.HW, gg.data(), gbeta.data(),
                                          grm.data(), grv.data(), gy.data(), eps);
        std::vector<float> inv_run(static_cast<size_t>(s.C)), want(static_cast<size_t>(n));
        for (size_t c = 0; c < size_t(s.C); ++c) inv_run[c] = float(1.0 / std::sqrt(double(rv0[c]) + eps));
        ops::ref::batchnorm_forward(x.data(), s.N, s.C, s.HW, rm0.data(), inv_run.data(),
                                    gamma.data(), beta.data(), want.data());
        check_close(gy.to_host(ctx), want, 1e-5, 1e-4, "eval forward");
      }
      // backward, both modes, accumulating
      auto gmeanh = up(ctx, mean), ginv = up(ctx, invstd);
      for (bool training : {true, false}) {
        CAPTURE(training);
        auto gdx = up(ctx, dx0), gdg = up(ctx, dg0), gdb = up(ctx, db0);
        ops::cuda::batchnorm_backward(ctx, gx.data(), gdy.data(), s.N, s.C, s.HW, gmeanh.data(),
                                      ginv.data(), gg.data(), training, gdx.data(), gdg.data(),
                                      gdb.data());
        std::vector<float> dx(dx0), dg(dg0), db(db0);
        ops::ref::batchnorm_backward(x.data(), dy.data(), s.N, s.C, s.HW, mean.data(),
                                     invstd.data(), gamma.data(), training, dx.data(), dg.data(),
                                     db.data());
        check_close(gdx.to_host(ctx), dx, 1e-4, 1e-4, "dx");
        check_close(gdg.to_host(ctx), dg, 1e-4, 1e-4, "dgamma");
        check_close(gdb.to_host(ctx), db, 1e-4, 1e-4, "dbeta");
      }
    }
  }

  TEST_CASE("concat forward / backward") {
    Context ctx;
    Rng rng(3);
    const std::vector<int> ch{3, 1, 17};
    const int N = 3;
    const int64_t HW = 5 * 7;
    std::vector<std::vector<float>> xs;
    std::vector<DeviceTensor<float>> gxs;
    std::vector<const float*> hp, gp;
    for (int c : ch) {
      xs.push_back(random_vec(rng, N * c * HW));
      gxs.push_back(up(ctx, xs.back()));
    }
    for (size_t i = 0; i < ch.size(); ++i) {
      hp.push_back(xs[i].data());
      gp.push_back(gxs[i].data());
    }
    const int64_t ny = N * 21 * HW;
    std::vector<float> want(static_cast<size_t>(ny));
    DeviceTensor<float> gy(ctx, {ny});
    ops::ref::concat_forward(hp, ch, N, HW, want.data());
    ops::cuda::concat_forward(ctx, gp, ch, N, HW, gy.data());
    check_equal(gy.to_host(ctx), want, "concat forward");

    auto dy = random_vec(rng, ny);
    auto gdy = up(ctx, dy);
    std::vector<std::vector<float>> dxs;
    std::vector<DeviceTensor<float>> gdxs;
    std::vector<float*> hd, gd;
    for (size_t i = 0; i < ch.size(); ++i) {
      dxs.push_back(random_vec(rng, N * ch[i] * HW));
      gdxs.push_back(up(ctx, dxs.back()));
    }
    for (size_t i = 0; i < ch.size(); ++i) {
      hd.push_back(i == 1 ? nullptr : dxs[i].data());  // input 1 needs no gradient
      gd.push_back(i == 1 ? nullptr : gdxs[i].data());
    }
    ops::ref::concat_backward(dy.data(), ch, N, HW, hd);
    ops::cuda::concat_backward(ctx, gdy.data(), ch, N, HW, gd);
    for (size_t i = 0; i < ch.size(); ++i) check_equal(gdxs[i].to_host(ctx), dxs[i], "concat backward");
    CHECK_THROWS_AS(ops::cuda::concat_forward(ctx, gp, {3, 1}, N, HW, gy.data()), yolite::Error);
  }

  TEST_CASE("upsample nearest 2x forward / backward (bit exact)") {
    Context ctx;
    Rng rng(4);
    for (auto [P, H, W] : {std::tuple<int64_t, int, int>{1, 1, 1}, {6, 5, 7}, {2, 20, 20}}) {
      auto x = random_vec(rng, P * H * W), dy = random_vec(rng, P * 4 * H * W),
           dx = random_vec(rng, P * H * W);
      auto gx = up(ctx, x), gdy = up(ctx, dy), gdx = up(ctx, dx);
      DeviceTensor<float> gy(ctx, {P * 4 * H * W});
      std::vector<float> y(static_cast<size_t>(P * 4 * H * W));
      ops::ref::upsample_nearest2x_forward(x.data(), P, H, W, y.data());
      ops::cuda::upsample_nearest2x_forward(ctx, gx.data(), P, H, W, gy.data());
      check_equal(gy.to_host(ctx), y, "upsample forward");
      ops::ref::upsample_nearest2x_backward(dy.data(), P, H, W, dx.data());
      ops::cuda::upsample_nearest2x_backward(ctx, gdy.data(), P, H, W, gdx.data());
      check_equal(gdx.to_host(ctx), dx, "upsample backward");
    }
  }

  TEST_CASE("max pool forward / backward, with ties and overlapping windows") {
    Context ctx;
    Rng rng(5);
    const ops::Pool2dParams shapes[] = {
        {1, 3, 13, 13, 5, 1, 2},  // SPPF
        {2, 5, 9, 8, 2, 2, 0},
        {3, 2, 7, 11, 3, 2, 1},
        {1, 1, 1, 1, 1, 1, 0},
    };
    for (const auto& p : shapes) {
      CAPTURE(p.k); CAPTURE(p.stride); CAPTURE(p.H);
      const int64_t nx = int64_t(p.N) * p.C * p.H * p.W, ny = int64_t(p.N) * p.C * p.OH() * p.OW();
      auto x = random_vec(rng, nx);
      for (auto& v : x) v = std::round(v * 3.f);  // few distinct values: many ties
      auto dy = random_vec(rng, ny), dx0 = random_vec(rng, nx);
      std::vector<float> y(static_cast<size_t>(ny)), want(dx0);
      std::vector<int32_t> idx(static_cast<size_t>(ny));
      ops::ref::max_pool2d_forward(p, x.data(), y.data(), idx.data());
      ops::ref::max_pool2d_backward(p, dy.data(), idx.data(), want.data());

      auto gx = up(ctx, x), gdy = up(ctx, dy), gdx = up(ctx, dx0);
      DeviceTensor<float> gy(ctx, {ny});
      DeviceTensor<int32_t> gidx(ctx, {ny});
      ops::cuda::max_pool2d_forward(ctx, p, gx.data(), gy.data(), gidx.data());
      check_equal(gy.to_host(ctx), y, "maxpool forward");
      CHECK(gidx.to_host(ctx) == idx);
      // backward (ACCUMULATES into dx) from the same starting dx as the reference
      ops::cuda::max_pool2d_backward(ctx, p, gdy.data(), gidx.data(), gdx.data());
      check_equal(gdx.to_host(ctx), want, "maxpool backward");
    }
  }

  TEST_CASE("BCE with logits: sum and backward") {
    Context ctx;
    Rng rng(6);
    for (int64_t n : {1, 255, 100003}) {
      auto x = random_vec(rng, n, -30, 30), t = random_vec(rng, n, 0, 1), dx = random_vec(rng, n);
      auto gx = up(ctx, x), gt = up(ctx, t), gdx = up(ctx, dx);
      const float pw = 1.7f;
      const double want = ops::ref::bce_with_logits_sum(x.data(), t.data(), n, pw);
      const double got = ops::cuda::bce_with_logits_sum(ctx, gx.data(), gt.data(), n, pw);
      CHECK(got == doctest::Approx(want).epsilon(1e-10));
      CHECK(ops::cuda::bce_with_logits_sum(ctx, gx.data(), gt.data(), n, pw) == got);  // same bits
      ops::ref::bce_with_logits_backward(x.data(), t.data(), n, pw, 0.25f, dx.data());
      ops::cuda::bce_with_logits_backward(ctx, gx.data(), gt.data(), n, pw, 0.25f, gdx.data());
      check_close(gdx.to_host(ctx), dx, 1e-6, 1e-5, "bce backward");
    }
  }

  TEST_CASE("SGD step (momentum, nesterov, weight decay) and EMA update") {
    Context ctx;
    Rng rng(8);
    const int64_t n = 4097;
    for (bool nesterov : {false, true})
      for (double mom : {0.0, 0.937}) {
        CAPTURE(nesterov); CAPTURE(mom);
        auto p = random_vec(rng, n), g1 = random_vec(rng, n), g2 = random_vec(rng, n);
        const float lr = 0.01f, wd = 5e-4f, m = float(mom);
        std::vector<float> hp(p), hb(static_cast<size_t>(n));
        auto gp = up(ctx, p);
        DeviceTensor<float> gbuf(ctx, {n});
        int step = 0;
        for (const auto* g : {&g1, &g2}) {
          const bool first = step++ == 0;
          for (int64_t i = 0; i < n; ++i) {  // optim/sgd.hpp's loop body
            float d = (*g)[size_t(i)];
            d = d + wd * hp[size_t(i)];
            if (mom != 0) {
              hb[size_t(i)] = first ? d : hb[size_t(i)] * m + d;
              d = nesterov ? d + m * hb[size_t(i)] : hb[size_t(i)];
            }
            hp[size_t(i)] = hp[size_t(i)] + (-lr) * d;
          }
          auto gg = up(ctx, *g);
          ops::cuda::sgd_step(ctx, gp.data(), gg.data(), mom != 0 ? gbuf.data() : nullptr, n,
                              double(lr), mom, double(wd), nesterov, first);
        }
        check_close(gp.to_host(ctx), hp, 1e-7, 1e-6, "sgd parameters");
      }
    auto v = random_vec(rng, n), mdl = random_vec(rng, n);
    auto gv = up(ctx, v), gm = up(ctx, mdl);
    const double d = 0.9999 * (1 - std::exp(-3.0 / 2000));
    ops::cuda::ema_update(ctx, gv.data(), gm.data(), n, d);
    for (size_t i = 0; i < v.size(); ++i) {
      v[i] *= float(d);
      v[i] += float(1 - d) * mdl[i];
    }
    check_close(gv.to_host(ctx), v, 1e-7, 1e-6, "ema");
    CHECK_THROWS_AS(ops::cuda::ema_update(ctx, gv.data(), gm.data(), n, 1.5), yolite::Error);
  }
}
