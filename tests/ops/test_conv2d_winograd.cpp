// Tests of the Winograd-style 3x3 convolutions (ops/cpu/conv2d_winograd.hpp: F(2x2,3x3) at
// stride 1, the 25-product algorithm at stride 2) against the reference loops of
// ops/cpu/conv2d.hpp run in double precision.
//
// Error bound: with U = G g G^T (|G| <= 1 element-wise, rows of at most 3 ones) and V = B^T d B
// (|B| <= 1), every |U| <= sum|g| and |V| <= sum|d| over the 3x3 kernel and the tile's a x a
// patch, and an output adds 9 products U.*V per channel at either stride; rounding enters in V
// (3 additions), the sum over C channels and A^T . A (8 additions), so
//   |err| <= (C + 16) * u * (|b| + 9 * sum_c sum|g| * sum|d|).
// That bound is loose by design (it must hold for any input), so the tests also require the
// root-mean-square error to stay within a small multiple of the direct fp32 kernel's.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <omp.h>

#include <yolite/core/error.hpp>
#include <yolite/core/rng.hpp>
#include <yolite/ops/conv2d.hpp>

using namespace yolite;
using ops::Conv2dParams;
using Algo = ops::fast::PackedConvWeights::Algo;

namespace {

std::vector<float> random_vec(Rng& rng, int64_t n, float scale = 1.f) {
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& e : v) e = float(rng.uniform(-1.0, 1.0)) * scale;
  return v;
}

Conv2dParams params(int N, int C, int H, int W, int K, int stride = 1) {
  Conv2dParams p;
  p.N = N, p.C = C, p.H = H, p.W = W, p.K = K, p.R = 3, p.S = 3, p.stride = stride, p.pad = 1;
  return p;
}

// the error bound of the header comment, per output element
std::vector<double> winograd_bound(const Conv2dParams& p, const std::vector<float>& x,
                                   const std::vector<float>& w, const float* b) {
  const int H = p.H, W = p.W, OH = p.OH(), OW = p.OW(), a = p.stride == 1 ? 4 : 5;
  std::vector<double> gsum(size_t(p.K) * p.C);
  for (size_t i = 0; i < gsum.size(); ++i)
    for (int t = 0; t < 9; ++t) gsum[i] += std::fabs(double(w[i * 9 + size_t(t)]));
  std::vector<double> bound(size_t(p.N) * p.K * OH * OW);
  const double u = double(p.C + 16) * 6e-8;
  for (int n = 0; n < p.N; ++n)
    for (int oy = 0; oy < OH; ++oy)
      for (int ox = 0; ox < OW; ++ox) {
        // the tile's a x a patch: tile (oy/2, ox/2) starts at input row 2*stride*(oy/2) - 1
        const int y0 = oy / 2 * 2 * p.stride - 1, x0 = ox / 2 * 2 * p.stride - 1;
        std::vector<double> dsum(size_t(p.C));
        for (int c = 0; c < p.C; ++c)
          for (int i = 0; i < a; ++i)
            for (int j = 0; j < a; ++j) {
              const int iy = y0 + i, ix = x0 + j;
              if (iy >= 0 && iy < H && ix >= 0 && ix < W)
                dsum[size_t(c)] += std::fabs(double(x[((size_t(n) * p.C + c) * H + iy) * W + ix]));
            }
        for (int k = 0; k < p.K; ++k) {
          double s = b ? std::fabs(double(b[k])) : 0.0;
          for (int c = 0; c < p.C; ++c) s += 9.0 * gsum[size_t(k) * p.C + c] * dsum[size_t(c)];
          bound[((size_t(n) * p.K + k) * OH + oy) * OW + ox] = u * s;
        }
      }
  return bound;
}

double rms_err(const std::vector<float>& got, const std::vector<double>& want) {
  double s = 0;
  for (size_t i = 0; i < got.size(); ++i) s += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
  return std::sqrt(s / double(got.size()));
}

struct WCase {
  int N, C, H, W, K, stride = 1;
};

const WCase kWCases[] = {
    // N   C   H   W   K
    {1, 16, 1, 1, 16},    // one output: a single tile, three quarters dropped
    {1, 16, 2, 3, 16},    // odd width
    {2, 17, 5, 7, 19},    // odd everything, batch 2, partial row panels
    {1, 32, 10, 10, 40},  // yolov5s's 10x10 maps: 25 tiles in one block
    {1, 24, 13, 9, 16},   // odd height
    {2, 50, 12, 10, 20},
    {1, 130, 6, 7, 17},   // two reduction blocks (C > 128)
    {1, 16, 20, 40, 24},  // blocks of 48 tiles crossing tile rows
    {3, 16, 9, 11, 33},
    {1, 16, 41, 40, 16},  // 420 tiles: 9 blocks, the last one partial
    {1, 20, 3, 70, 16},   // tile rows wider than 16 lanes (35 tiles)
    // stride 2 (5x5 patches, 4 input columns per tile)
    {1, 16, 1, 1, 16, 2},
    {1, 16, 2, 3, 16, 2},
    {2, 17, 5, 7, 19, 2},    // odd sizes: 3x4 outputs
    {1, 32, 20, 20, 40, 2},  // yolov5s's 20 -> 10 layers
    {1, 24, 13, 9, 16, 2},
    {1, 130, 12, 14, 17, 2}, // two reduction blocks
    {1, 16, 40, 80, 24, 2},  // blocks crossing tile rows
    {3, 16, 17, 23, 33, 2},
    {1, 16, 2, 140, 16, 2},  // 35 tiles in a row: lanes from four 16-column loads
    {1, 16, 81, 80, 16, 2},  // 41 x 40 outputs: 420 tiles, 9 blocks
};

}  // namespace

TEST_SUITE("ops") {
  TEST_CASE("winograd forward (stride 1 and 2) matches the double reference (bias, SiLU, odd sizes)") {
    uint64_t seed = 900;
    for (const WCase& cs : kWCases) {
      const Conv2dParams p = params(cs.N, cs.C, cs.H, cs.W, cs.K, cs.stride);
      INFO("N=" << p.N << " C=" << p.C << " H=" << p.H << " W=" << p.W << " K=" << p.K
                << " stride=" << p.stride);
      REQUIRE(ops::fast::winograd::applies(p));
      const int64_t nx = int64_t(p.N) * p.C * p.H * p.W, nw = int64_t(p.K) * p.C * 9;
      const size_t ny = size_t(int64_t(p.N) * p.K * p.OH() * p.OW());
      Rng rng(seed++);
      auto x = random_vec(rng, nx, 2.f), w = random_vec(rng, nw, 0.5f), b = random_vec(rng, p.K);
      std::vector<double> xd(x.begin(), x.end()), wd(w.begin(), w.end()), bd(b.begin(), b.end());
      const auto pw = ops::fast::pack_conv2d_weights(p, w.data());
      REQUIRE(pw.algo == Algo::winograd);
      for (bool bias : {false, true}) {
        INFO("bias=" << bias);
        const float* bp = bias ? b.data() : nullptr;
        std::vector<double> want(ny);
        ops::ref::conv2d_forward<double>(p, xd.data(), wd.data(), bias ? bd.data() : nullptr,
                                         want.data());
        const auto bound = winograd_bound(p, x, w, bp);
        std::vector<float> y(ny, std::nanf("")), ydirect(ny);
        ops::fast::conv2d_forward_packed(p, x.data(), pw, bp, y.data());
        ops::fast::conv2d_forward(p, x.data(), w.data(), bp, ydirect.data());
        int bad = 0;
        for (size_t i = 0; i < ny; ++i)
          if (!(std::fabs(double(y[i]) - want[i]) <= bound[i]) && ++bad <= 5)
            FAIL_CHECK("element " << i << " got " << y[i] << " want " << want[i] << " bound "
                                  << bound[i]);
        CHECK(bad == 0);
        // typical error: within a few times the direct kernel's (both are ~1e-7 relative)
        const double ew = rms_err(y, want), ed = rms_err(ydirect, want);
        INFO("rms error winograd " << ew << " direct " << ed);
        CHECK(ew <= 4.0 * ed + 1e-7);
        // SiLU epilogue: silu of the same pre-activation, within sigmoid_fast's accuracy
        std::vector<float> ys(ny, std::nanf(""));
        ops::fast::conv2d_forward_packed(p, x.data(), pw, bp, ys.data(), ops::ConvAct::silu);
        bad = 0;
        for (size_t i = 0; i < ny; ++i) {
          const double z = double(y[i]), s = z / (1.0 + std::exp(-z));
          if (!(std::fabs(double(ys[i]) - s) <= 1e-6 * std::fabs(s) + 1e-12) && ++bad <= 5)
            FAIL_CHECK("silu: element " << i << " got " << ys[i] << " want " << s);
        }
        CHECK(bad == 0);
      }
    }
  }

  TEST_CASE("winograd forward gives the same bits for 1, 2 and 3 threads") {
    const int saved = omp_get_max_threads();
    for (const WCase& cs : {kWCases[2], kWCases[3], kWCases[7], kWCases[9], kWCases[13],
                            kWCases[14], kWCases[17], kWCases[20]}) {
      const Conv2dParams p = params(cs.N, cs.C, cs.H, cs.W, cs.K, cs.stride);
      INFO("N=" << p.N << " C=" << p.C << " H=" << p.H << " W=" << p.W << " K=" << p.K
                << " stride=" << p.stride);
      Rng rng(77);
      auto x = random_vec(rng, int64_t(p.N) * p.C * p.H * p.W);
      auto w = random_vec(rng, int64_t(p.K) * p.C * 9, 0.5f), b = random_vec(rng, p.K);
      const auto pw = ops::fast::pack_conv2d_weights(p, w.data());
      const size_t ny = size_t(int64_t(p.N) * p.K * p.OH() * p.OW());
      std::vector<std::vector<float>> ys;
      for (int t = 1; t <= 3; ++t) {
        omp_set_num_threads(t);
        ys.emplace_back(ny, std::nanf(""));
        ops::fast::conv2d_forward_packed(p, x.data(), pw, b.data(), ys.back().data(),
                                         ops::ConvAct::silu);
      }
      omp_set_num_threads(saved);
      CHECK(std::memcmp(ys[0].data(), ys[1].data(), ny * sizeof(float)) == 0);
      CHECK(std::memcmp(ys[0].data(), ys[2].data(), ny * sizeof(float)) == 0);
    }
  }

  TEST_CASE("pack_conv2d_weights: Winograd for 3x3 pad-1 stride 1 or 2, direct otherwise or on request") {
    Rng rng(5);
    const Conv2dParams p = params(1, 16, 6, 6, 16);
    auto x = random_vec(rng, 16 * 36), w = random_vec(rng, 16 * 16 * 9);
    CHECK(ops::fast::pack_conv2d_weights(p, w.data()).algo == Algo::winograd);
    // forced direct: bitwise the unpacked direct kernel
    const auto pd = ops::fast::pack_conv2d_weights(p, w.data(), Algo::direct);
    CHECK(pd.algo == Algo::direct);
    std::vector<float> y1(16 * 36), y2(16 * 36);
    ops::fast::conv2d_forward_packed(p, x.data(), pd, nullptr, y1.data());
    ops::fast::conv2d_forward(p, x.data(), w.data(), nullptr, y2.data());
    CHECK(std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float)) == 0);
    Conv2dParams s2 = p;
    s2.stride = 2;
    CHECK(ops::fast::pack_conv2d_weights(s2, w.data()).algo == Algo::winograd);
    // other shapes stay direct, and forcing Winograd on them is an error
    Conv2dParams q = p;
    q.pad = 0;
    CHECK(ops::fast::pack_conv2d_weights(q, w.data()).algo == Algo::direct);
    CHECK_THROWS_AS(ops::fast::pack_conv2d_weights(q, w.data(), Algo::winograd), Error);
    q = p;
    q.stride = 3;
    CHECK_THROWS_AS(ops::fast::pack_conv2d_weights(q, w.data(), Algo::winograd), Error);
    Conv2dParams few = params(1, 3, 6, 6, 16);  // 3 input channels: the transforms would dominate
    CHECK(ops::fast::pack_conv2d_weights(few, w.data()).algo == Algo::direct);
    // weights packed for one convolution are refused by another, whatever the algorithm
    const auto pwino = ops::fast::pack_conv2d_weights(p, w.data());
    Conv2dParams other = params(1, 16, 6, 6, 8);
    std::vector<float> y3(8 * 36);
    CHECK_THROWS_AS(ops::fast::conv2d_forward_packed(other, x.data(), pwino, nullptr, y3.data()),
                    Error);
  }
}
