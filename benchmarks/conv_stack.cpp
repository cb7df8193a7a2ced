// benchmarks/conv_stack.cpp -- the 60 convolutions of YOLOv5s at 320x320, batch 8, float32:
// yolite's fast CPU kernels vs libtorch (NCHW default and channels_last), 2 threads.
//
//   bench_conv_stack [--threads 2] [--runs 5] [--batch 8] [--size 320] [--cpu-time]
//
// The conv list is derived from the yolov5s.yaml layer list (DESIGN.md section 2) with width
// 0.50 (channels ceil(c*0.5/8)*8) and depth 0.33 (repeats max(round(n*0.33),1)): 57 Conv
// blocks (bias-free; BN and SiLU are not convolutions) and the 3 Detect 1x1 convs with bias,
// nc = 80 -> 3*(5+80) = 255 outputs. Identical shapes are timed once and weighted by their
// multiplicity. "fwd+bwd" = forward + grad input + grad weight (+ grad bias for Detect); the
// stem (layer 0) skips grad input on both sides, as in training. Each time is the median of
// --runs runs (at least 5) after two warm-up runs, the variants (ours, libtorch NCHW, libtorch
// channels_last) interleaved run by run; the sums of the best runs are printed too. Our backward kernels accumulate into existing gradient
// buffers (that is their contract); libtorch allocates fresh ones. Ours go through the
// ops::conv2d_* dispatch, so the 3x3 pad-1 forwards (stride 1 and 2) and the stride-1 input
// gradients run the Winograd-style kernels of ops/cpu/conv2d_winograd.hpp, weights transformed
// on every call as in training.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include <yolite/core/rng.hpp>
#include <yolite/ops/conv2d.hpp>

#if defined(YOLITE_HAVE_TORCH)
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#endif

namespace {

using Clock = std::chrono::steady_clock;

struct ConvSpec {
  std::string name;  // first layer that has this shape
  int C, K, R, S, stride, pad, H, W;
  bool bias = false;
  bool grad_input = true;
  int mult = 1;
  int64_t flops(int N) const {
    int OH = (H + 2 * pad - R) / stride + 1, OW = (W + 2 * pad - S) / stride + 1;
    return 2ll * N * K * OH * OW * C * R * S;
  }
};

// ---- the YOLOv5s conv list ------------------------------------------------------------------
struct Builder {
  std::vector<ConvSpec> convs;
  int ch(int c) const { return int(std::ceil(c * 0.5 / 8.0)) * 8; }
  int rep(int n) const { return std::max(int(std::lround(n * 0.33)), 1); }
  // Conv(c1, c2, k, s, p=k//2) on an HxW input; returns the output size
  int conv(const std::string& name, int c1, int c2, int k, int s, int hw, int p = -1) {
    if (p < 0) p = k / 2;
    ConvSpec cs{name, c1, c2, k, k, s, p, hw, hw};
    convs.push_back(cs);
    return (hw + 2 * p - k) / s + 1;
  }
  // C3(c1, c2, n, shortcut), e = 0.5 (shortcut does not change the convs)
  void c3(const std::string& name, int c1, int c2, int n, int hw) {
    int c_ = c2 / 2;
    conv(name + ".cv1", c1, c_, 1, 1, hw);
    conv(name + ".cv2", c1, c_, 1, 1, hw);
    for (int j = 0; j < n; ++j) {
      conv(name + ".m." + std::to_string(j) + ".cv1", c_, c_, 1, 1, hw);
      conv(name + ".m." + std::to_string(j) + ".cv2", c_, c_, 3, 1, hw);
    }
    conv(name + ".cv3", 2 * c_, c2, 1, 1, hw);
  }
  void sppf(const std::string& name, int c1, int c2, int hw) {
    int c_ = c1 / 2;
    conv(name + ".cv1", c1, c_, 1, 1, hw);
    conv(name + ".cv2", 4 * c_, c2, 1, 1, hw);
  }
  void build(int img, int nc) {
    int h = img;
    const int c64 = ch(64), c128 = ch(128), c256 = ch(256), c512 = ch(512), c1024 = ch(1024);
    h = conv("model.0", 3, c64, 6, 2, h, 2);  // stem: img/2
    convs.back().grad_input = false;
    h = conv("model.1", c64, c128, 3, 2, h);  // img/4
    c3("model.2", c128, c128, rep(3), h);
    h = conv("model.3", c128, c256, 3, 2, h);  // img/8  (P3)
    const int h8 = h;
    c3("model.4", c256, c256, rep(6), h);
    h = conv("model.5", c256, c512, 3, 2, h);  // img/16 (P4)
    const int h16 = h;
    c3("model.6", c512, c512, rep(9), h);
    h = conv("model.7", c512, c1024, 3, 2, h);  // img/32 (P5)
    const int h32 = h;
    c3("model.8", c1024, c1024, rep(3), h);
    sppf("model.9", c1024, c1024, h);
    conv("model.10", c1024, c512, 1, 1, h32);
    // 11 upsample, 12 concat with model.6 (c512) -> 2*c512 at h16
    c3("model.13", 2 * c512, c512, rep(3), h16);
    conv("model.14", c512, c256, 1, 1, h16);
    // 15 upsample, 16 concat with model.4 (c256) -> 2*c256 at h8
    c3("model.17", 2 * c256, c256, rep(3), h8);
    conv("model.18", c256, c256, 3, 2, h8);
    // 19 concat with model.14 (c256) -> 2*c256 at h16
    c3("model.20", 2 * c256, c512, rep(3), h16);
    conv("model.21", c512, c512, 3, 2, h16);
    // 22 concat with model.10 (c512) -> 2*c512 at h32
    c3("model.23", 2 * c512, c1024, rep(3), h32);
    const int no = 3 * (5 + nc);
    const int lv_c[3] = {c256, c512, c1024}, lv_h[3] = {h8, h16, h32};
    for (int l = 0; l < 3; ++l) {
      conv("model.24.m." + std::to_string(l), lv_c[l], no, 1, 1, lv_h[l]);
      convs.back().bias = true;
    }
  }
};

// ---- measuring ------------------------------------------------------------------------------
// Times every variant `runs` times, interleaved (v0, v1, ..., v0, v1, ...) so that a burst of
// load on this shared machine hits all of them alike; two warm-up rounds first (they also grow
// the per-thread scratch buffers). Returns per variant {median, min} in ms.
struct Stat {
  double median = 0, min = 0;
};
// Milliseconds now: wall clock, or (--cpu-time, single thread only) the CPU time of the calling
// thread, which on a loaded machine is far less noisy than the wall clock for OUR kernels. The
// libtorch columns are not comparable in that mode: libtorch (its oneDNN/TBB pools) still uses
// helper threads and the caller's CPU time then includes its waiting.
bool g_cpu_time = false;
double now_ms() {
  if (g_cpu_time) {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) * 1e-6;
  }
  return std::chrono::duration<double, std::milli>(Clock::now().time_since_epoch()).count();
}

std::vector<Stat> measure(int runs, const std::vector<std::function<void()>>& variants) {
  for (int w = 0; w < 2; ++w)
    for (auto& f : variants) f();
  std::vector<std::vector<double>> t(variants.size());
  for (int i = 0; i < runs; ++i)
    for (size_t v = 0; v < variants.size(); ++v) {
      const double t0 = now_ms();
      variants[v]();
      t[v].push_back(now_ms() - t0);
    }
  std::vector<Stat> out(variants.size());
  for (size_t v = 0; v < variants.size(); ++v) {
    std::sort(t[v].begin(), t[v].end());
    out[v] = {t[v][t[v].size() / 2], t[v][0]};
  }
  return out;
}

// FP32 peak of this CPU on `threads` threads: independent FMA chains that never touch memory.
double measure_peak_gflops(int threads) {
  const int64_t iters = 20'000'000;
  double best = 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::vector<float> sink(static_cast<size_t>(threads) * 16, 0.f);
    auto t0 = Clock::now();
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num();
#if defined(__AVX512F__)
      __m512 a[12];
      for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_ps(1.f + 1e-3f * float(i + t));
      const __m512 m = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-7f);
      for (int64_t k = 0; k < iters; ++k) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; ++i) a[i] = _mm512_fmadd_ps(a[i], m, c);
      }
      __m512 s = a[0];
      for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, a[i]);
      _mm512_storeu_ps(&sink[size_t(t) * 16], s);
#elif defined(__AVX2__) && defined(__FMA__)
      __m256 a[12];
      for (int i = 0; i < 12; ++i) a[i] = _mm256_set1_ps(1.f + 1e-3f * float(i + t));
      const __m256 m = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
      for (int64_t k = 0; k < iters; ++k) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; ++i) a[i] = _mm256_fmadd_ps(a[i], m, c);
      }
      __m256 s = a[0];
      for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, a[i]);
      _mm256_storeu_ps(&sink[size_t(t) * 16], s);
#else
      float a[12 * 8];
      for (int i = 0; i < 12 * 8; ++i) a[i] = 1.f + 1e-3f * float(i + t);
      for (int64_t k = 0; k < iters / 4; ++k)
        for (int i = 0; i < 12 * 8; ++i) a[i] = a[i] * 0.9999999f + 1e-7f;
      sink[size_t(t) * 16] = a[0];
#endif
    }
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
#if defined(__AVX512F__)
    const double lanes = 16;
#elif defined(__AVX2__)
    const double lanes = 8;
#else
    const double lanes = 8.0 / 4.0;
#endif
    double flops = double(threads) * double(iters) * 12 * lanes * 2;
    volatile float keep = sink[0];
    (void)keep;
    best = std::max(best, flops / s * 1e-9);
  }
  return best;
}

struct Times {
  double fwd = 0, all = 0;  // ms for one conv of this shape
};

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, runs = 5, batch = 8, size = 320;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--cpu-time") {
      g_cpu_time = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "flag %s needs a value\n", a.c_str());
      return 2;
    }
    int v = std::atoi(argv[++i]);
    if (a == "--threads") threads = v;
    else if (a == "--runs") runs = std::max(v, 5);
    else if (a == "--batch") batch = v;
    else if (a == "--size") size = v;
    else {
      std::fprintf(stderr, "unknown flag %s (expected --threads/--runs/--batch/--size N, --cpu-time)\n",
                   a.c_str());
      return 2;
    }
  }
  if (g_cpu_time && threads != 1) {
    std::fprintf(stderr, "--cpu-time measures the calling thread only: use it with --threads 1\n");
    return 2;
  }
  if (threads < 1 || batch < 1 || size < 32 || size % 32) {
    std::fprintf(stderr, "bad arguments: need threads >= 1, batch >= 1, size a multiple of 32\n");
    return 2;
  }
  omp_set_num_threads(threads);
#if defined(YOLITE_HAVE_TORCH)
  at::set_num_threads(threads);
#endif

  Builder b;
  b.build(size, 80);
  const int nconv = int(b.convs.size());
  int ndetect = 0;
  for (auto& c : b.convs) ndetect += c.bias;
  std::printf("YOLOv5s convs at %dx%d, batch %d, %d threads, %s: %d convs (%d Conv + %d Detect)%s\n",
              size, size, batch, threads, g_cpu_time ? "thread CPU time" : "wall time", nconv,
              nconv - ndetect, ndetect,
              nconv == 60 ? "" : "  <-- EXPECTED 60");
  std::printf("%-22s %5s %5s %2s %2s %3s %3s %4s %s\n", "layer", "C", "K", "R", "s", "pad", "H",
              "bias", "gradin");
  for (auto& c : b.convs)
    std::printf("%-22s %5d %5d %2d %2d %3d %3d %4s %s\n", c.name.c_str(), c.C, c.K, c.R, c.stride,
                c.pad, c.H, c.bias ? "yes" : "no", c.grad_input ? "yes" : "no");

  // distinct shapes with multiplicity
  std::vector<ConvSpec> uniq;
  {
    std::map<std::tuple<int, int, int, int, int, int, int, bool, bool>, size_t> idx;
    for (auto& c : b.convs) {
      auto key = std::make_tuple(c.C, c.K, c.R, c.S, c.stride, c.pad, c.H, c.bias, c.grad_input);
      auto it = idx.find(key);
      if (it == idx.end()) {
        idx[key] = uniq.size();
        uniq.push_back(c);
      } else {
        uniq[it->second].mult++;
      }
    }
  }
  int64_t total_flops_fwd = 0, total_flops_all = 0;
  for (auto& c : uniq) {
    int64_t f = c.flops(batch);
    total_flops_fwd += f * c.mult;
    total_flops_all += f * c.mult * (c.grad_input ? 3 : 2);
  }

  const double peak = measure_peak_gflops(threads);
  if (g_cpu_time)
    std::printf("(--cpu-time: yolite timed by its thread's CPU time; libtorch columns NOT comparable)\n");
  std::printf("\nFP32 peak (register-only FMA loop, %d threads): %.1f GFLOP/s\n", threads, peak);
  std::printf("%zu distinct shapes; forward %.2f GFLOP, fwd+bwd %.2f GFLOP per batch\n\n",
              uniq.size(), total_flops_fwd * 1e-9, total_flops_all * 1e-9);

  std::printf("%-22s %4s %-22s | %8s %6s %5s %8s %8s %6s %6s | %8s %6s %5s %8s %8s %6s %6s\n",
              "layer", "mult", "C->K RxS/s @HxW", "fwd ms", "GF/s", "%pk", "torch", "t.cl",
              "r", "r.cl", "all ms", "GF/s", "%pk", "torch", "t.cl", "r", "r.cl");
  Times ours_sum, torch_sum, torchcl_sum;
  Times best_ours, best_torch, best_torchcl;  // sums of the fastest runs (less load noise)
  yolite::Rng rng(42);
  for (auto& c : uniq) {
    yolite::ops::Conv2dParams p;
    p.N = batch, p.C = c.C, p.H = c.H, p.W = c.W, p.K = c.K, p.R = c.R, p.S = c.S;
    p.stride = c.stride, p.pad = c.pad;
    const int64_t nx = int64_t(p.N) * p.C * p.H * p.W, nw = int64_t(p.K) * p.C * p.R * p.S;
    const int64_t ny = int64_t(p.N) * p.K * p.OH() * p.OW();
    auto vec = [](int64_t n) { return std::vector<float>(static_cast<size_t>(n)); };
    std::vector<float> x = vec(nx), w = vec(nw), bias = vec(p.K), y = vec(ny), dy = vec(ny),
                       dx = vec(nx), dw = vec(nw), db = vec(p.K);
    for (auto& v : x) v = float(rng.uniform(-1, 1));
    for (auto& v : w) v = float(rng.uniform(-0.1, 0.1));
    for (auto& v : bias) v = float(rng.uniform(-1, 1));
    for (auto& v : dy) v = float(rng.uniform(-1e-3, 1e-3));
    const float* bp = c.bias ? bias.data() : nullptr;

    std::vector<std::function<void()>> variants;
    variants.push_back([&] {
      yolite::ops::conv2d_forward<float>(p, x.data(), w.data(), bp, y.data());
    });
    variants.push_back([&] {
      yolite::ops::conv2d_forward<float>(p, x.data(), w.data(), bp, y.data());
      if (c.grad_input) yolite::ops::conv2d_backward_input<float>(p, dy.data(), w.data(), dx.data());
      yolite::ops::conv2d_backward_weight<float>(p, x.data(), dy.data(), dw.data(),
                                                 c.bias ? db.data() : nullptr);
    });
#if defined(YOLITE_HAVE_TORCH)
    auto opt = at::TensorOptions().dtype(at::kFloat);
    at::Tensor tx = at::from_blob(x.data(), {p.N, p.C, p.H, p.W}, opt).clone();
    at::Tensor tw = at::from_blob(w.data(), {p.K, p.C, p.R, p.S}, opt).clone();
    at::Tensor tb = at::from_blob(bias.data(), {p.K}, opt).clone();
    at::Tensor tdy = at::from_blob(dy.data(), {p.N, p.K, p.OH(), p.OW()}, opt).clone();
    const std::vector<int64_t> st = {c.stride, c.stride}, pd = {c.pad, c.pad}, dil = {1, 1},
                               opad = {0, 0}, bsz = {p.K};
    at::Tensor TX[2] = {tx, tx.contiguous(at::MemoryFormat::ChannelsLast)};
    at::Tensor TW[2] = {tw, tw.contiguous(at::MemoryFormat::ChannelsLast)};
    at::Tensor TDY[2] = {tdy, tdy.contiguous(at::MemoryFormat::ChannelsLast)};
    at::Tensor B = c.bias ? tb : at::Tensor();
    for (int layout = 0; layout < 2; ++layout) {
      variants.push_back([&, layout] { auto out = at::conv2d(TX[layout], TW[layout], B, st, pd); });
      variants.push_back([&, layout] {
        auto out = at::conv2d(TX[layout], TW[layout], B, st, pd);
        auto g = at::convolution_backward(
            TDY[layout], TX[layout], TW[layout],
            c.bias ? at::OptionalIntArrayRef(bsz) : at::OptionalIntArrayRef(), st, pd, dil, false,
            opad, 1, {c.grad_input, true, c.bias});
      });
    }
#endif
    const std::vector<Stat> m = measure(runs, variants);
    Times ours{m[0].median, m[1].median}, ours_best{m[0].min, m[1].min};
    Times tt, tcl, tt_best, tcl_best;
#if defined(YOLITE_HAVE_TORCH)
    tt = {m[2].median, m[3].median}, tcl = {m[4].median, m[5].median};
    tt_best = {m[2].min, m[3].min}, tcl_best = {m[4].min, m[5].min};
#endif
    best_ours.fwd += ours_best.fwd * c.mult, best_ours.all += ours_best.all * c.mult;
    best_torch.fwd += tt_best.fwd * c.mult, best_torch.all += tt_best.all * c.mult;
    best_torchcl.fwd += tcl_best.fwd * c.mult, best_torchcl.all += tcl_best.all * c.mult;
    const double f = double(c.flops(batch)), fa = f * (c.grad_input ? 3 : 2);
    auto gf = [](double fl, double ms) { return fl / (ms * 1e-3) * 1e-9; };
    auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
    char shape[64];
    std::snprintf(shape, sizeof shape, "%d->%d %dx%d/%d @%dx%d", c.C, c.K, c.R, c.S, c.stride, c.H,
                  c.W);
    std::printf(
        "%-22s %4d %-22s | %8.2f %6.1f %5.1f %8.2f %8.2f %6.2f %6.2f | %8.2f %6.1f %5.1f %8.2f "
        "%8.2f %6.2f %6.2f\n",
        c.name.c_str(), c.mult, shape, ours.fwd, gf(f, ours.fwd), 100 * gf(f, ours.fwd) / peak,
        tt.fwd, tcl.fwd, ratio(ours.fwd, tt.fwd), ratio(ours.fwd, tcl.fwd), ours.all,
        gf(fa, ours.all), 100 * gf(fa, ours.all) / peak, tt.all, tcl.all, ratio(ours.all, tt.all),
        ratio(ours.all, tcl.all));
    std::fflush(stdout);
    ours_sum.fwd += ours.fwd * c.mult, ours_sum.all += ours.all * c.mult;
    torch_sum.fwd += tt.fwd * c.mult, torch_sum.all += tt.all * c.mult;
    torchcl_sum.fwd += tcl.fwd * c.mult, torchcl_sum.all += tcl.all * c.mult;
  }
  auto gf = [](double fl, double ms) { return fl / (ms * 1e-3) * 1e-9; };
  [[maybe_unused]] auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  std::printf("\nTOTAL forward: yolite %.1f ms (%.1f GFLOP/s, %.1f%% of peak)", ours_sum.fwd,
              gf(double(total_flops_fwd), ours_sum.fwd),
              100 * gf(double(total_flops_fwd), ours_sum.fwd) / peak);
#if defined(YOLITE_HAVE_TORCH)
  std::printf(" | libtorch NCHW %.1f ms, channels_last %.1f ms | ratio %.2f / %.2f",
              torch_sum.fwd, torchcl_sum.fwd, ratio(ours_sum.fwd, torch_sum.fwd),
              ratio(ours_sum.fwd, torchcl_sum.fwd));
#endif
  std::printf("\nTOTAL fwd+bwd:  yolite %.1f ms (%.1f GFLOP/s, %.1f%% of peak)", ours_sum.all,
              gf(double(total_flops_all), ours_sum.all),
              100 * gf(double(total_flops_all), ours_sum.all) / peak);
#if defined(YOLITE_HAVE_TORCH)
  std::printf(" | libtorch NCHW %.1f ms, channels_last %.1f ms | ratio %.2f / %.2f",
              torch_sum.all, torchcl_sum.all, ratio(ours_sum.all, torch_sum.all),
              ratio(ours_sum.all, torchcl_sum.all));
  std::printf("\nbest-of-%d runs instead of median: forward yolite %.1f ms, libtorch %.1f / %.1f ms "
              "(ratio %.2f / %.2f); fwd+bwd yolite %.1f ms, libtorch %.1f / %.1f ms (ratio %.2f / %.2f)",
              runs, best_ours.fwd, best_torch.fwd, best_torchcl.fwd,
              ratio(best_ours.fwd, best_torch.fwd), ratio(best_ours.fwd, best_torchcl.fwd),
              best_ours.all, best_torch.all, best_torchcl.all, ratio(best_ours.all, best_torch.all),
              ratio(best_ours.all, best_torchcl.all));
  std::printf("\nconv-stack yolov5s b%d %d: fwd ratio %.2f, fwd+bwd ratio %.2f (yolite/libtorch default)\n",
              batch, size, ratio(ours_sum.fwd, torch_sum.fwd), ratio(ours_sum.all, torch_sum.all));
#else
  std::printf("\n(built without libtorch: no peer numbers)\n");
  std::printf("conv-stack yolov5s b%d %d: fwd ratio n/a, fwd+bwd ratio n/a (yolite/libtorch default)\n",
              batch, size);
#endif
  return 0;
}
