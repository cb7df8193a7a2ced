// bench_cuda_conv_stack -- times ops::cuda conv2d (forward, backward-input, backward-weight)
// on the distinct convolution shapes of a YOLOv5s backbone at 640x640.
//
//   bench_cuda_conv_stack [batch=16] [repeats=10]
// Prints one line per layer: shape, milliseconds per call and TFLOP/s for each of the three
// kernels, then the totals. Built only with -DYOLITE_CUDA=ON (cmake/YoliteCuda.cmake) and
// YOLITE_BUILD_BENCHMARKS; needs a GPU (exits with a message otherwise). Compare with
// PyTorch/cuDNN on the same shapes (torch.backends.cudnn.benchmark = True, fp32, TF32 off).
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <yolite/core/cuda/device_tensor.hpp>
#include <yolite/core/rng.hpp>
#include <yolite/ops/cuda/conv2d.cuh>

using namespace yolite;

namespace {

struct Layer {
  const char* name;
  int C, H, K, k, s, p;
};

// The distinct conv shapes of YOLOv5s (width 0.50) for a 640x640 input.
const Layer kLayers[] = {
    {"stem 6x6 s2", 3, 640, 32, 6, 2, 2},   {"down 3x3 s2", 32, 320, 64, 3, 2, 1},
    {"C3 1x1", 64, 160, 32, 1, 1, 0},       {"C3 3x3", 32, 160, 32, 3, 1, 1},
    {"down 3x3 s2", 64, 160, 128, 3, 2, 1}, {"C3 1x1", 128, 80, 64, 1, 1, 0},
    {"C3 3x3", 64, 80, 64, 3, 1, 1},        {"down 3x3 s2", 128, 80, 256, 3, 2, 1},
    {"C3 1x1", 256, 40, 128, 1, 1, 0},      {"C3 3x3", 128, 40, 128, 3, 1, 1},
    {"down 3x3 s2", 256, 40, 512, 3, 2, 1}, {"C3 1x1", 512, 20, 256, 1, 1, 0},
    {"C3 3x3", 256, 20, 256, 3, 1, 1},      {"SPPF cv2 1x1", 1024, 20, 512, 1, 1, 0},
};

template <class F>
float time_ms(cuda::Context& ctx, int reps, F&& f) {
  f();  // warm-up (and first-use allocations)
  cudaEvent_t a, b;
  YOLITE_CUDA_CHECK(cudaEventCreate(&a));
  YOLITE_CUDA_CHECK(cudaEventCreate(&b));
  YOLITE_CUDA_CHECK(cudaEventRecord(a, ctx.stream()));
  for (int i = 0; i < reps; ++i) f();
  YOLITE_CUDA_CHECK(cudaEventRecord(b, ctx.stream()));
  YOLITE_CUDA_CHECK(cudaEventSynchronize(b));
  float ms = 0;
  YOLITE_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
  YOLITE_CUDA_CHECK(cudaEventDestroy(a));
  YOLITE_CUDA_CHECK(cudaEventDestroy(b));
  return ms / float(reps);
}

std::vector<float> random_vec(Rng& rng, int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = float(rng.uniform(-1, 1));
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const int batch = argc > 1 ? std::atoi(argv[1]) : 16;
    const int reps = argc > 2 ? std::atoi(argv[2]) : 10;
    YOLITE_CHECK(batch > 0 && reps > 0, "bench_cuda_conv_stack: batch (", batch, ") and repeats (",
                 reps, ") must be positive");
    std::string why;
    if (cuda::device_count(&why) == 0) {
      std::printf("bench_cuda_conv_stack: no usable CUDA GPU (%s); nothing to time\n", why.c_str());
      return 0;
    }
    const auto info = cuda::device_info(0);
    std::printf("device: %s (sm_%d%d), batch %d, %d repeats, fp32\n", info.name.c_str(),
                info.major, info.minor, batch, reps);
    std::printf("%-14s %-26s %9s %7s %9s %7s %9s %7s\n", "layer", "shape", "fwd ms", "TF/s",
                "bwd-in ms", "TF/s", "bwd-w ms", "TF/s");
    cuda::Context ctx;
    Rng rng(1);
    double tf = 0, tbi = 0, tbw = 0;
    for (const Layer& L : kLayers) {
      ops::Conv2dParams p{batch, L.C, L.H, L.H, L.K, L.k, L.k, L.s, L.p};
      const int64_t nx = int64_t(batch) * L.C * L.H * L.H, nw = int64_t(L.K) * L.C * L.k * L.k;
      const int64_t ny = int64_t(batch) * L.K * p.OH() * p.OW();
      auto x = cuda::DeviceTensor<float>::from_host(ctx, random_vec(rng, nx));
      auto w = cuda::DeviceTensor<float>::from_host(ctx, random_vec(rng, nw));
      auto dy = cuda::DeviceTensor<float>::from_host(ctx, random_vec(rng, ny));
      cuda::DeviceTensor<float> y(ctx, {ny}), dx(ctx, {nx}), dw(ctx, {nw}), db(ctx, {L.K});
      dx.zero(ctx);
      dw.zero(ctx);
      db.zero(ctx);
      const float f = time_ms(ctx, reps, [&] {
        ops::cuda::conv2d_forward<float>(ctx, p, x.data(), w.data(), nullptr, y.data());
      });
      const float bi = time_ms(ctx, reps, [&] {
        ops::cuda::conv2d_backward_input(ctx, p, dy.data(), w.data(), dx.data());
      });
      const float bw = time_ms(ctx, reps, [&] {
        ops::cuda::conv2d_backward_weight(ctx, p, x.data(), dy.data(), dw.data(), db.data());
      });
      const double fl = double(p.flops());
      char shape[64];
      std::snprintf(shape, sizeof shape, "%dx%dx%d -> %d k%d s%d", L.C, L.H, L.H, L.K, L.k, L.s);
      std::printf("%-14s %-26s %9.3f %7.2f %9.3f %7.2f %9.3f %7.2f\n", L.name, shape, f,
                  fl / f * 1e-9, bi, fl / bi * 1e-9, bw, fl / bw * 1e-9);
      tf += f;
      tbi += bi;
      tbw += bw;
    }
    std::printf("total ms: forward %.3f, backward-input %.3f, backward-weight %.3f\n", tf, tbi, tbw);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cuda_conv_stack: %s\n", e.what());
    return 1;
  }
}
