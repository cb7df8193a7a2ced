// Tests of the bf16 convolutions (ops/cpu/conv2d_bf16.hpp, reached through ops/conv2d.hpp under
// ops::PrecisionGuard(Precision::bf16)).
//
// Two bounds per kernel:
//  - exactness of the kernel: against the reference loops in double run on the operands rounded
//    to bf16 (ops::bf16::round_bf16). Products of bf16 values are exact in fp32, so the only
//    error left is fp32 summation: Higham's gamma_n bound, n*eps*sum|terms|, as for fp32;
//  - the bf16 cost: against the fp32 (double) result, within 2 * 2^-8 * sum|terms| (each operand
//    off by at most 2^-9 relative, so each product by about 2^-8).
// Skipped (with a message) on CPUs without AVX512_BF16, where the guard's error is tested.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <thread>

#include <omp.h>

#include <yolite/core/rng.hpp>
#include <yolite/ops/conv2d.hpp>

using namespace yolite;
using ops::Conv2dParams;

// A named namespace (not an anonymous one) around the whole file: the suites are unity
// builds, where another file of the folder may use the same helper names.
namespace test_conv2d_bf16 {

std::vector<float> random_vec(Rng& rng, int64_t n, float scale = 1.f) {
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& e : v) e = float(rng.uniform(-1.0, 1.0)) * scale;
  return v;
}
std::vector<double> to_d(const std::vector<float>& v) { return {v.begin(), v.end()}; }
std::vector<double> rounded_d(const std::vector<float>& v) {
  std::vector<double> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = double(ops::bf16::round_bf16(v[i]));
  return r;
}
std::vector<double> abs_d(const std::vector<float>& v) {
  std::vector<double> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = std::fabs(double(v[i]));
  return r;
}

// |got - want| <= rel * mag + tiny for every element
void check_within(const std::vector<float>& got, const std::vector<double>& want,
                  const std::vector<double>& mag, double rel, const char* what) {
  REQUIRE(got.size() == want.size());
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(double(got[i]) - want[i]);
    if (!(err <= rel * mag[i] + 1e-30) && ++bad <= 5)
      FAIL_CHECK(std::string(what) << ": element " << i << " got " << got[i] << " want "
                                   << want[i] << " (|err| " << err << " > " << rel * mag[i] << ")");
  }
  CHECK(bad == 0);
}
double gamma(int64_t n) { return double(n + 4) * 6e-8; }
constexpr double kBf16Rel = 2.0 / 256;

struct Case {
  int N, C, H, W, K, R, S, stride, pad;
  bool bias;
};

// The accumulating backwards are checked on their increments: the pre-filled start values are
// fp32 and exact, so they enter the bound as |start| * gamma like in test_conv2d.cpp.
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
  ops::PrecisionGuard bf(ops::Precision::bf16);

  {  // forward
    std::vector<float> y(static_cast<size_t>(ny), std::nanf(""));
    ops::conv2d_forward<float>(p, x.data(), w.data(), bp, y.data());
    std::vector<double> exact(static_cast<size_t>(ny)), fp(static_cast<size_t>(ny)), mag(static_cast<size_t>(ny));
    auto xr = rounded_d(x), wr = rounded_d(w), bd = to_d(b), xd = to_d(x), wd = to_d(w);
    auto xa = abs_d(x), wa = abs_d(w), ba = abs_d(b);
    ops::ref::conv2d_forward<double>(p, xr.data(), wr.data(), cs.bias ? bd.data() : nullptr, exact.data());
    ops::ref::conv2d_forward<double>(p, xd.data(), wd.data(), cs.bias ? bd.data() : nullptr, fp.data());
    ops::ref::conv2d_forward<double>(p, xa.data(), wa.data(), cs.bias ? ba.data() : nullptr, mag.data());
    const int64_t n = int64_t(p.C) * p.R * p.S;
    check_within(y, exact, mag, gamma(n), "forward vs bf16-rounded reference");
    check_within(y, fp, mag, kBf16Rel, "forward vs fp32");
    {  // really bf16: the fp32 kernel's result differs (and lies within gamma of fp)
      ops::PrecisionGuard f32(ops::Precision::fp32);
      std::vector<float> y32(static_cast<size_t>(ny));
      ops::conv2d_forward<float>(p, x.data(), w.data(), bp, y32.data());
      CHECK(std::memcmp(y32.data(), y.data(), y.size() * sizeof(float)) != 0);
      check_within(y32, fp, mag, gamma(n), "fp32 forward vs fp32");
    }
    // same result for 1 thread (the split never changes a sum)
    std::vector<float> y1(static_cast<size_t>(ny));
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    ops::conv2d_forward<float>(p, x.data(), w.data(), bp, y1.data());
    omp_set_num_threads(saved);
    CHECK(std::memcmp(y1.data(), y.data(), y.size() * sizeof(float)) == 0);
  }
  {  // backward input
    std::vector<float> dx = dx0;
    ops::conv2d_backward_input<float>(p, dy.data(), w.data(), dx.data());
    auto exact = to_d(dx0), fp = to_d(dx0), mag = abs_d(dx0);
    auto dyr = rounded_d(dy), wr = rounded_d(w), dyd = to_d(dy), wd = to_d(w);
    auto dya = abs_d(dy), wa = abs_d(w);
    ops::ref::conv2d_backward_input<double>(p, dyr.data(), wr.data(), exact.data());
    ops::ref::conv2d_backward_input<double>(p, dyd.data(), wd.data(), fp.data());
    ops::ref::conv2d_backward_input<double>(p, dya.data(), wa.data(), mag.data());
    const int64_t n = int64_t(p.K) * p.R * p.S;
    check_within(dx, exact, mag, gamma(n), "backward_input vs bf16-rounded reference");
    check_within(dx, fp, mag, kBf16Rel, "backward_input vs fp32");
  }
  {  // backward weight
    std::vector<float> dw = dw0, db = db0;
    ops::conv2d_backward_weight<float>(p, x.data(), dy.data(), dw.data(), db.data());
    auto exact = to_d(dw0), fp = to_d(dw0), mag = abs_d(dw0);
    auto wantb = to_d(db0), magb = abs_d(db0), fpb = to_d(db0);
    auto xr = rounded_d(x), dyr = rounded_d(dy), xd = to_d(x), dyd = to_d(dy);
    auto xa = abs_d(x), dya = abs_d(dy);
    std::vector<double> unused(static_cast<size_t>(p.K));
    ops::ref::conv2d_backward_weight<double>(p, xr.data(), dyr.data(), exact.data(), unused.data());
    ops::ref::conv2d_backward_weight<double>(p, xd.data(), dyd.data(), fp.data(), wantb.data());
    ops::ref::conv2d_backward_weight<double>(p, xa.data(), dya.data(), mag.data(), magb.data());
    const int64_t n = int64_t(p.N) * p.OH() * p.OW();
    check_within(dw, exact, mag, gamma(n), "backward_weight vs bf16-rounded reference");
    check_within(dw, fp, mag, kBf16Rel, "backward_weight vs fp32");
    check_within(db, wantb, magb, gamma(n), "backward_weight db (fp32)");
    std::vector<float> dw2 = dw0;  // deterministic for a thread count, db optional
    ops::conv2d_backward_weight<float>(p, x.data(), dy.data(), dw2.data(), nullptr);
    CHECK(std::memcmp(dw2.data(), dw.data(), dw.size() * sizeof(float)) == 0);
  }
}

const Case kCases[] = {
    // N  C   H   W   K  R  S  st pad bias
    {3, 17, 7, 9, 30, 1, 1, 1, 0, true},     // 1x1 pointwise, odd channels (odd reduction)
    {1, 5, 13, 11, 7, 1, 1, 1, 0, false},    // 1x1, K < 16
    {3, 5, 7, 9, 7, 3, 3, 1, 1, true},       // 3x3 s1, CRS = 45 (odd)
    {1, 17, 13, 11, 30, 3, 3, 2, 1, false},  // 3x3 s2
    {3, 3, 13, 11, 16, 6, 6, 2, 2, true},    // the YOLOv5 stem
    {2, 50, 12, 10, 20, 3, 3, 1, 1, true},   // several reduction blocks (CRS = 450)
    {1, 40, 31, 33, 17, 1, 1, 1, 0, false},  // several position blocks, odd positions
    {5, 16, 6, 6, 64, 3, 3, 2, 1, true},     // rows split between threads, K > 48
    {1, 8, 30, 30, 10, 3, 3, 1, 1, false},   // several position blocks of the shifted GEMM
    {2, 3, 17, 15, 100, 1, 1, 1, 0, true},   // K = 100: several (and a partial) panels
    {1, 4, 10, 7, 5, 2, 3, 2, 0, false},     // non-square kernel, stride 2
    {2, 64, 20, 20, 64, 3, 3, 1, 1, false},  // a YOLOv5-like layer
};


TEST_SUITE("ops") {
  TEST_CASE("conv2d bf16: every kernel vs the bf16-rounded reference and vs fp32") {
    if (!ops::bf16::cpu_supported()) {
      MESSAGE("this CPU lacks AVX512_BF16: bf16 kernels not run");
      bool threw = false;
      try {
        ops::PrecisionGuard g(ops::Precision::bf16, "--bf16");
      } catch (const Error& e) {
        threw = std::string(e.what()).find("--bf16") != std::string::npos;
      }
      CHECK(threw);
      return;
    }
    uint64_t seed = 100;
    for (int threads : {1, 2}) {
      const int saved = omp_get_max_threads();
      omp_set_num_threads(threads);
      for (const Case& cs : kCases) run_case(cs, seed++);
      omp_set_num_threads(saved);
    }
  }

  TEST_CASE("bf16 conversions: round to nearest even, NaN kept, denormals flushed") {
    using ops::bf16::round_bf16;
    CHECK(round_bf16(1.0f) == 1.0f);
    CHECK(round_bf16(1.0f + 1.0f / 256) == 1.0f);                // tie -> even (down)
    CHECK(round_bf16(1.0f + 3.0f / 256) == 1.0f + 4.0f / 256);  // tie -> even (up)
    CHECK(round_bf16(1.0f + 1.0f / 256 + 1.0f / 4096) == 1.0f + 2.0f / 256);
    CHECK(std::isnan(round_bf16(std::nanf(""))));
    CHECK(round_bf16(1e-39f) == 0.f);
    CHECK(round_bf16(-3.0e38f) == doctest::Approx(-3.0e38).epsilon(1.0 / 256));  // stays finite
  }

  TEST_CASE("PrecisionGuard: per thread, restored at scope end") {
    CHECK(ops::thread_precision() == ops::Precision::fp32);
    if (ops::bf16::cpu_supported()) {
      {
        ops::PrecisionGuard g(ops::Precision::bf16);
        CHECK(ops::thread_precision() == ops::Precision::bf16);
        ops::Precision other = ops::Precision::bf16;
        std::thread([&] { other = ops::thread_precision(); }).join();
        CHECK(other == ops::Precision::fp32);
        ops::PrecisionGuard inner(ops::Precision::fp32);
        CHECK(ops::thread_precision() == ops::Precision::fp32);
      }
      CHECK(ops::thread_precision() == ops::Precision::fp32);
    }
  }
}

}  // namespace test_conv2d_bf16
