// ops::cuda conv2d (implicit GEMM) against ops::ref conv2d on awkward shapes.
#include <doctest/doctest.h>

#include <yolite/ops/cpu/conv2d.hpp>
#include <yolite/ops/cuda/conv2d.cuh>

#include "helpers.cuh"

using namespace yolite;
using namespace yolite::cuda_test;

namespace {

std::string name_of(const ops::Conv2dParams& p) {
  return str("N", p.N, " C", p.C, " ", p.H, "x", p.W, " K", p.K, " k", p.R, "x", p.S, " s",
             p.stride, " p", p.pad);
}

void check_conv(Context& ctx, const ops::Conv2dParams& p, uint64_t seed) {
  CAPTURE(name_of(p));
  Rng rng(seed);
  const int64_t nx = int64_t(p.N) * p.C * p.H * p.W, nw = int64_t(p.K) * p.C * p.R * p.S;
  const int64_t ny = int64_t(p.N) * p.K * p.OH() * p.OW();
  auto x = random_vec(rng, nx), w = random_vec(rng, nw), b = random_vec(rng, p.K);
  auto dy = random_vec(rng, ny), dx0 = random_vec(rng, nx), dw0 = random_vec(rng, nw),
       db0 = random_vec(rng, p.K);
  // The reference in double, from the same float inputs.
  auto dbl = [](const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); };
  auto flt = [](const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); };
  std::vector<double> xd = dbl(x), wd = dbl(w), bd = dbl(b), dyd = dbl(dy);
  std::vector<double> y_ref(static_cast<size_t>(ny)), dx_ref = dbl(dx0), dw_ref = dbl(dw0), db_ref = dbl(db0);
  ops::ref::conv2d_forward(p, xd.data(), wd.data(), bd.data(), y_ref.data());
  ops::ref::conv2d_backward_input(p, dyd.data(), wd.data(), dx_ref.data());
  ops::ref::conv2d_backward_weight(p, xd.data(), dyd.data(), dw_ref.data(), db_ref.data());

  auto gx = up(ctx, x), gw = up(ctx, w), gb = up(ctx, b), gdy = up(ctx, dy);
  auto gdx = up(ctx, dx0), gdw = up(ctx, dw0), gdb = up(ctx, db0);
  DeviceTensor<float> gy(ctx, {p.N, p.K, p.OH(), p.OW()});
  ops::cuda::conv2d_forward(ctx, p, gx.data(), gw.data(), gb.data(), gy.data());
  ops::cuda::conv2d_backward_input(ctx, p, gdy.data(), gw.data(), gdx.data());
  ops::cuda::conv2d_backward_weight(ctx, p, gx.data(), gdy.data(), gdw.data(), gdb.data());
  check_close(gy.to_host(ctx), flt(y_ref), 1e-4, 1e-4, "forward");
  check_close(gdx.to_host(ctx), flt(dx_ref), 1e-4, 1e-4, "backward_input");
  check_close(gdw.to_host(ctx), flt(dw_ref), 2e-4, 2e-4, "backward_weight");
  check_close(gdb.to_host(ctx), flt(db_ref), 1e-4, 1e-4, "bias grad");

  // Without bias: forward is the plain sum, backward_weight leaves db alone.
  ops::cuda::conv2d_forward<float>(ctx, p, gx.data(), gw.data(), nullptr, gy.data());
  std::vector<double> y_nb(static_cast<size_t>(ny));
  ops::ref::conv2d_forward<double>(p, xd.data(), wd.data(), nullptr, y_nb.data());
  check_close(gy.to_host(ctx), flt(y_nb), 1e-4, 1e-4, "forward without bias");
}

}  // namespace

TEST_SUITE("cuda") {
  TEST_CASE("conv2d forward / backward match the reference on awkward shapes") {
    Context ctx;
    const ops::Conv2dParams shapes[] = {
        {1, 3, 7, 9, 5, 1, 1, 1, 0},      // 1x1, tiny
        {3, 13, 11, 10, 17, 3, 3, 1, 1},  // 3x3 s1, odd channels, batch 3
        {3, 5, 12, 13, 19, 3, 3, 2, 1},   // 3x3 s2, odd width
        {1, 3, 20, 18, 16, 6, 6, 2, 2},   // YOLOv5 stem: 6x6 s2 p2
        {2, 70, 9, 9, 67, 1, 1, 1, 0},    // 1x1 with K, C beyond one 64-tile
        {1, 33, 40, 40, 24, 3, 3, 1, 1},  // long reduction: backward_weight splits it
        {2, 7, 5, 6, 3, 1, 1, 2, 0},      // 1x1 stride 2
        {1, 1, 1, 1, 1, 1, 1, 1, 0},      // one element
        {3, 9, 3, 4, 11, 3, 3, 1, 1},     // image smaller than a tile in every direction
    };
    uint64_t seed = 100;
    for (const auto& p : shapes) check_conv(ctx, p, ++seed);
  }

  TEST_CASE("conv2d is deterministic and splits the weight reduction") {
    Context ctx;
    ops::Conv2dParams p{2, 16, 48, 48, 8, 3, 3, 1, 1};
    CHECK(ops::cuda::conv2d_weight_slices(p) > 1);
    Rng rng(5);
    auto x = up(ctx, random_vec(rng, int64_t(p.N) * p.C * p.H * p.W));
    auto dy = up(ctx, random_vec(rng, int64_t(p.N) * p.K * p.OH() * p.OW()));
    std::vector<float> first;
    for (int rep = 0; rep < 2; ++rep) {
      DeviceTensor<float> dw(ctx, {p.K, p.C, p.R, p.S});
      dw.zero(ctx);
      ops::cuda::conv2d_backward_weight<float>(ctx, p, x.data(), dy.data(), dw.data(), nullptr);
      auto h = dw.to_host(ctx);
      if (rep == 0)
        first = h;
      else
        check_equal(h, first, "second run");
    }
  }

  TEST_CASE("conv2d rejects bad parameters with yolite::Error") {
    Context ctx;
    ops::Conv2dParams p{1, 3, 2, 2, 4, 5, 5, 1, 0};  // kernel larger than the input
    CHECK_THROWS_AS(ops::cuda::conv2d_forward<float>(ctx, p, nullptr, nullptr, nullptr, nullptr),
                    yolite::Error);
  }
}
