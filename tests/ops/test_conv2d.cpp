// Tests of the fast float conv2d kernels (ops/cpu/conv2d_fast.hpp via ops/conv2d.hpp) against
// the reference loops of ops/cpu/conv2d.hpp run in double precision.
//
// Tolerance: a float dot product of n terms is off by at most ~n*eps*sum|terms| (Higham's
// gamma_n bound); we compute sum|terms| exactly by running the reference on |x|, |w|, |dy|.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <omp.h>

#include <yolite/core/rng.hpp>
#include <yolite/ops/conv2d.hpp>

using namespace yolite;
using ops::Conv2dParams;

namespace {

std::vector<float> random_vec(Rng& rng, int64_t n, float scale = 1.f) {
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& e : v) e = float(rng.uniform(-1.0, 1.0)) * scale;
  return v;
}
std::vector<double> to_d(const std::vector<float>& v) { return {v.begin(), v.end()}; }
std::vector<double> abs_d(const std::vector<float>& v) {
  std::vector<double> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = std::fabs(double(v[i]));
  return r;
}

// every element of got within the gamma_n bound of want (mag = the same sum over |terms|,
// including the |initial value| for accumulating outputs)
void check_close(const std::vector<float>& got, const std::vector<double>& want,
                 const std::vector<double>& mag, int64_t nterms, const char* what) {
  REQUIRE(got.size() == want.size());
  const double gamma = double(nterms + 4) * 6e-8;
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double err = std::fabs(double(got[i]) - want[i]);
    if (!(err <= gamma * mag[i] + 1e-30)) {
      if (++bad <= 5)
        FAIL_CHECK(std::string(what) << ": element " << i << " got " << got[i] << " want " << want[i]
                        << " (|err| " << err << " > bound " << gamma * mag[i] << ")");
    }
  }
  CHECK(bad == 0);
}

struct Case {
  int N, C, H, W, K, R, S, stride, pad;
  bool bias;
};

void run_case(const Case& cs, uint64_t seed) {
  Conv2dParams p;
  p.N = cs.N, p.C = cs.C, p.H = cs.H, p.W = cs.W, p.K = cs.K, p.R = cs.R, p.S = cs.S;
  p.stride = cs.stride, p.pad = cs.pad;
  INFO("N=" << p.N << " C=" << p.C << " H=" << p.H << " W=" << p.W << " K=" << p.K << " R=" << p.R
            << " S=" << p.S << " stride=" << p.stride << " pad=" << p.pad << " bias=" << cs.bias);
  const int64_t nx = int64_t(p.N) * p.C * p.H * p.W, nw = int64_t(p.K) * p.C * p.R * p.S;
  const int64_t ny = int64_t(p.N) * p.K * p.OH() * p.OW();
  Rng rng(seed);
  auto x = random_vec(rng, nx), w = random_vec(rng, nw, 0.5f), b = random_vec(rng, p.K);
  auto dy = random_vec(rng, ny);
  auto dx0 = random_vec(rng, nx), dw0 = random_vec(rng, nw), db0 = random_vec(rng, p.K);
  const float* bp = cs.bias ? b.data() : nullptr;

  // ops:: picks Winograd for 3x3 stride-1 pad-1 shapes with enough channels: then the direct
  // kernels (ops::fast::) are checked as well
  const bool wino = ops::fast::winograd::applies(p);
  // forward: overwrites y (pre-filled with NaN to catch untouched elements)
  for (bool direct : {false, true}) {
    if (direct && !wino) continue;
    INFO("direct kernel called: " << direct);
    std::vector<float> y(static_cast<size_t>(ny), std::nanf(""));
    if (direct)
      ops::fast::conv2d_forward(p, x.data(), w.data(), bp, y.data());
    else
      ops::conv2d_forward<float>(p, x.data(), w.data(), bp, y.data());
    std::vector<double> want(static_cast<size_t>(ny)), mag(static_cast<size_t>(ny));
    auto xd = to_d(x), wd = to_d(w), bd = to_d(b);
    ops::ref::conv2d_forward<double>(p, xd.data(), wd.data(), cs.bias ? bd.data() : nullptr,
                                     want.data());
    auto xa = abs_d(x), wa = abs_d(w), ba = abs_d(b);
    ops::ref::conv2d_forward<double>(p, xa.data(), wa.data(), cs.bias ? ba.data() : nullptr,
                                     mag.data());
    check_close(y, want, mag, int64_t(p.C) * p.R * p.S, "forward");
  }
  // backward input: accumulates into a pre-filled dx
  for (bool direct : {false, true}) {
    if (direct && !wino) continue;
    INFO("direct kernel called: " << direct);
    std::vector<float> dx = dx0;
    if (direct)
      ops::fast::conv2d_backward_input(p, dy.data(), w.data(), dx.data());
    else
      ops::conv2d_backward_input<float>(p, dy.data(), w.data(), dx.data());
    auto want = to_d(dx0), mag = abs_d(dx0);
    auto dyd = to_d(dy), wd = to_d(w), dya = abs_d(dy), wa = abs_d(w);
    ops::ref::conv2d_backward_input<double>(p, dyd.data(), wd.data(), want.data());
    ops::ref::conv2d_backward_input<double>(p, dya.data(), wa.data(), mag.data());
    check_close(dx, want, mag, int64_t(p.K) * p.R * p.S, "backward_input");
  }
  // backward weight: accumulates into pre-filled dw and db (and works without db)
  {
    std::vector<float> dw = dw0, db = db0;
    ops::conv2d_backward_weight<float>(p, x.data(), dy.data(), dw.data(), db.data());
    auto want = to_d(dw0), mag = abs_d(dw0), wantb = to_d(db0), magb = abs_d(db0);
    auto xd = to_d(x), dyd = to_d(dy), xa = abs_d(x), dya = abs_d(dy);
    ops::ref::conv2d_backward_weight<double>(p, xd.data(), dyd.data(), want.data(), wantb.data());
    ops::ref::conv2d_backward_weight<double>(p, xa.data(), dya.data(), mag.data(), magb.data());
    const int64_t nterms = int64_t(p.N) * p.OH() * p.OW();
    check_close(dw, want, mag, nterms, "backward_weight dw");
    check_close(db, wantb, magb, nterms, "backward_weight db");

    std::vector<float> dw2 = dw0;
    ops::conv2d_backward_weight<float>(p, x.data(), dy.data(), dw2.data(), nullptr);
    CHECK(std::memcmp(dw2.data(), dw.data(), dw.size() * sizeof(float)) == 0);
  }
  // backward input into a fresh buffer (accumulate = false): written whatever it held, equal
  // to accumulating into zeros
  {
    std::vector<float> dxw(static_cast<size_t>(nx), std::nanf("")), dxz(static_cast<size_t>(nx), 0.f);
    ops::conv2d_backward_input<float>(p, dy.data(), w.data(), dxw.data(), /*accumulate=*/false);
    ops::conv2d_backward_input<float>(p, dy.data(), w.data(), dxz.data());
    int bad = 0;
    for (size_t i = 0; i < dxw.size(); ++i) bad += !(dxw[i] == dxz[i]);
    CHECK(bad == 0);
  }
}

const Case kCases[] = {
    // N  C   H   W   K  R  S  st pad bias
    {3, 17, 7, 9, 30, 1, 1, 1, 0, true},     // 1x1 pointwise, odd channels
    {1, 5, 13, 11, 7, 1, 1, 1, 0, false},    // 1x1 pointwise, batch 1
    {3, 5, 7, 9, 7, 3, 3, 1, 1, true},       // 3x3 s1
    {1, 17, 13, 11, 30, 3, 3, 2, 1, false},  // 3x3 s2
    {3, 3, 13, 11, 16, 6, 6, 2, 2, true},    // the YOLOv5 stem: 6x6 s2 p2, C=3
    {1, 3, 14, 14, 32, 6, 6, 2, 2, false},   // stem, even size
    {2, 8, 9, 7, 9, 3, 3, 1, 0, false},      // 3x3 without padding
    {1, 5, 11, 13, 7, 5, 5, 3, 2, true},     // generic stride 3
    {3, 6, 9, 7, 5, 1, 1, 2, 0, false},      // 1x1 stride 2 (not pointwise)
    {1, 4, 5, 6, 3, 1, 1, 1, 1, true},       // 1x1 with padding
    {1, 2, 3, 3, 4, 5, 5, 1, 2, false},      // kernel larger than the image
    {2, 50, 12, 10, 20, 3, 3, 1, 1, true},   // several reduction blocks (C*R*S = 450)
    {3, 16, 7, 9, 24, 3, 3, 1, 1, true},     // Winograd through ops::, odd sizes, batch 3
    {1, 20, 5, 5, 130, 3, 3, 1, 1, false},   // Winograd input gradient over 130 channels
    {1, 40, 31, 33, 17, 1, 1, 1, 0, false},  // several pixel blocks (P = 1023)
    {2, 24, 25, 23, 9, 3, 3, 1, 1, false},   // several pixel blocks, 3x3
    {5, 16, 6, 6, 64, 3, 3, 2, 1, true},     // odd batch, rows split between threads
    {1, 8, 30, 30, 10, 3, 3, 1, 1, false},   // several position blocks of the shifted GEMM
    {1, 40, 9, 11, 12, 3, 3, 2, 1, true},    // stride 2 with several reduction blocks
    {1, 4, 9, 9, 400, 3, 3, 2, 1, false},    // stride-2 backward input with K > one block
    {2, 3, 17, 15, 100, 1, 1, 1, 0, true},   // K = 100: several (and a partial) panels
    {2, 5, 8, 9, 6, 3, 1, 1, 1, true},       // non-square kernel 3x1
    {1, 4, 10, 7, 5, 2, 3, 2, 0, false},     // non-square kernel 2x3, stride 2, no padding
};

}  // namespace

TEST_SUITE("ops") {
  TEST_CASE("conv2d fast float kernels match the reference (forward, backward input/weight)") {
    uint64_t seed = 1;
    for (const Case& cs : kCases) run_case(cs, seed++);
  }

  TEST_CASE("conv2d fast kernels agree with the reference for 1, 2 and 3 threads") {
    const int saved = omp_get_max_threads();
    for (int th : {1, 2, 3}) {
      omp_set_num_threads(th);
      INFO("threads=" << th);
      run_case({3, 17, 7, 9, 30, 1, 1, 1, 0, true}, 100 + th);
      run_case({2, 5, 13, 11, 12, 3, 3, 2, 1, false}, 200 + th);
      run_case({1, 3, 13, 11, 16, 6, 6, 2, 2, true}, 300 + th);
      // batch 1 with 7 position blocks: their count rounded up to a multiple of the threads
      run_case({1, 4, 70, 66, 8, 3, 3, 1, 1, true}, 400 + th);
    }
    omp_set_num_threads(saved);
  }

  TEST_CASE("conv2d fast kernels are deterministic") {
    Conv2dParams p;
    p.N = 3, p.C = 19, p.H = 21, p.W = 17, p.K = 24, p.R = 3, p.S = 3, p.stride = 1, p.pad = 1;
    const int64_t nx = int64_t(p.N) * p.C * p.H * p.W, nw = int64_t(p.K) * p.C * p.R * p.S;
    const int64_t ny = int64_t(p.N) * p.K * p.OH() * p.OW();
    Rng rng(7);
    auto x = random_vec(rng, nx), w = random_vec(rng, nw), b = random_vec(rng, p.K);
    auto dy = random_vec(rng, ny);
    auto run = [&](std::vector<float>& y, std::vector<float>& dx, std::vector<float>& dw,
                   std::vector<float>& db) {
      y.assign(size_t(ny), 0.f), dx.assign(size_t(nx), 0.f), dw.assign(size_t(nw), 0.f);
      db.assign(size_t(p.K), 0.f);
      ops::conv2d_forward<float>(p, x.data(), w.data(), b.data(), y.data());
      ops::conv2d_backward_input<float>(p, dy.data(), w.data(), dx.data());
      ops::conv2d_backward_weight<float>(p, x.data(), dy.data(), dw.data(), db.data());
    };
    auto same = [](const std::vector<float>& a, const std::vector<float>& b) {
      return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
    };
    std::vector<float> y1, dx1, dw1, db1, y2, dx2, dw2, db2;
    run(y1, dx1, dw1, db1);
    run(y2, dx2, dw2, db2);
    CHECK(same(y1, y2));
    CHECK(same(dx1, dx2));
    CHECK(same(dw1, dw2));
    CHECK(same(db1, db2));
    // forward and backward_input split work by output blocks only: bitwise the same for any
    // thread count (backward_weight is reproducible for a given thread count).
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    std::vector<float> y3, dx3, dw3, db3;
    run(y3, dx3, dw3, db3);
    omp_set_num_threads(saved);
    CHECK(same(y1, y3));
    CHECK(same(dx1, dx3));
    CHECK(same(db1, db3));
  }

  TEST_CASE("conv2d forward with the SiLU epilogue and with packed weights matches the reference") {
    uint64_t seed = 500;
    for (const Case& cs : kCases) {
      Conv2dParams p;
      p.N = cs.N, p.C = cs.C, p.H = cs.H, p.W = cs.W, p.K = cs.K, p.R = cs.R, p.S = cs.S;
      p.stride = cs.stride, p.pad = cs.pad;
      INFO("N=" << p.N << " C=" << p.C << " H=" << p.H << " W=" << p.W << " K=" << p.K
                << " R=" << p.R << " S=" << p.S << " stride=" << p.stride << " pad=" << p.pad);
      const int64_t nx = int64_t(p.N) * p.C * p.H * p.W, nw = int64_t(p.K) * p.C * p.R * p.S;
      const size_t ny = size_t(int64_t(p.N) * p.K * p.OH() * p.OW());
      Rng rng(seed++);
      auto x = random_vec(rng, nx, 2.f), w = random_vec(rng, nw, 0.5f), b = random_vec(rng, p.K);
      const float* bp = cs.bias ? b.data() : nullptr;
      // reference: double conv, then x * sigmoid(x) in double
      std::vector<double> want(ny), mag(ny);
      auto xd = to_d(x), wd = to_d(w), bd = to_d(b), xa = abs_d(x), wa = abs_d(w), ba = abs_d(b);
      ops::ref::conv2d_forward<double>(p, xd.data(), wd.data(), cs.bias ? bd.data() : nullptr,
                                       want.data());
      ops::ref::conv2d_forward<double>(p, xa.data(), wa.data(), cs.bias ? ba.data() : nullptr,
                                       mag.data());
      const double gamma = double(int64_t(p.C) * p.R * p.S + 4) * 6e-8;
      std::vector<float> y(ny, std::nanf(""));
      ops::conv2d_forward<float>(p, x.data(), w.data(), bp, y.data(), ops::ConvAct::silu);
      int bad = 0;
      for (size_t i = 0; i < ny; ++i) {
        const double z = want[i], s = z / (1.0 + std::exp(-z));
        // |silu'| <= 1.1, so the conv's error bound grows by 1.1; plus sigmoid_fast's ~1e-7
        const double bound = 1.1 * gamma * mag[i] + 1e-6 * std::fabs(s) + 1e-30;
        if (!(std::fabs(double(y[i]) - s) <= bound) && ++bad <= 5)
          FAIL_CHECK("silu epilogue: element " << i << " got " << y[i] << " want " << s);
      }
      CHECK(bad == 0);
      // packed weights (the direct kernel's form; the Winograd form, which ops::conv2d_forward
      // picks for 3x3 stride-1 pad-1 shapes, has its own tests in test_conv2d_winograd.cpp):
      // bitwise what the unpacked direct kernel gives, with and without the epilogue
      const auto pw = ops::fast::pack_conv2d_weights(p, w.data(),
                                                     ops::fast::PackedConvWeights::Algo::direct);
      std::vector<float> yd(ny), yp(ny, std::nanf(""));
      ops::fast::conv2d_forward(p, x.data(), w.data(), bp, yd.data(), ops::ConvAct::silu);
      ops::fast::conv2d_forward_packed(p, x.data(), pw, bp, yp.data(), ops::ConvAct::silu);
      CHECK(std::memcmp(yp.data(), yd.data(), ny * sizeof(float)) == 0);
      std::vector<float> y0(ny), yp0(ny, std::nanf(""));
      ops::fast::conv2d_forward(p, x.data(), w.data(), bp, y0.data());
      ops::fast::conv2d_forward_packed(p, x.data(), pw, bp, yp0.data());
      CHECK(std::memcmp(yp0.data(), y0.data(), ny * sizeof(float)) == 0);
    }
  }

  TEST_CASE("conv2d SiLU epilogue: the double path is the reference conv then the reference SiLU") {
    Conv2dParams p;
    p.N = 2, p.C = 3, p.H = 6, p.W = 5, p.K = 4, p.R = 3, p.S = 3, p.stride = 1, p.pad = 1;
    Rng rng(9);
    auto x = to_d(random_vec(rng, 2 * 3 * 6 * 5, 3.f)), w = to_d(random_vec(rng, 4 * 27));
    std::vector<double> y(2 * 4 * 30), want(y.size());
    ops::conv2d_forward<double>(p, x.data(), w.data(), nullptr, y.data(), ops::ConvAct::silu);
    ops::ref::conv2d_forward<double>(p, x.data(), w.data(), nullptr, want.data());
    for (auto& v : want) v = v / (1.0 + std::exp(-v));
    for (size_t i = 0; i < y.size(); ++i) CHECK(y[i] == doctest::Approx(want[i]).epsilon(1e-14));
  }

  TEST_CASE("conv2d_forward_packed rejects weights packed for another convolution") {
    Conv2dParams p;
    p.N = 1, p.C = 4, p.H = 8, p.W = 8, p.K = 8, p.R = 3, p.S = 3, p.stride = 1, p.pad = 1;
    std::vector<float> w(8 * 4 * 9, 0.1f), x(4 * 64, 1.f), y(8 * 64);
    const auto pw = ops::fast::pack_conv2d_weights(p, w.data());
    Conv2dParams q = p;
    q.stride = 2;
    CHECK_THROWS_AS(ops::fast::conv2d_forward_packed(q, x.data(), pw, nullptr, y.data()), Error);
    q = p;
    q.C = 5;
    CHECK_THROWS_AS(ops::fast::conv2d_forward_packed(q, x.data(), pw, nullptr, y.data()), Error);
  }

  TEST_CASE("conv2d rejects bad parameters with yolite::Error") {
    Conv2dParams p;
    p.N = 1, p.C = 3, p.H = 2, p.W = 2, p.K = 4, p.R = 3, p.S = 3, p.stride = 1, p.pad = 0;
    std::vector<float> buf(64);
    CHECK_THROWS_AS(ops::conv2d_forward<float>(p, buf.data(), buf.data(), nullptr, buf.data()),
                    Error);
  }
}
