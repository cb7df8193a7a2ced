// yolite forward -- run a model's eval-mode forward pass on a tensor saved with numpy.
//
//   yolite forward --weights yolov5s.pt --input x.npy --output y.npy [--raw DIR] [--img N]
//
// --weights: a YOLOv5 .pt or a yolite checkpoint (model/weights.hpp reads both); --cfg instead
// builds an untrained model (yolov5n..x or a model yaml) with --nc classes and --seed.
// --input: float32 (or float16/float64) .npy of shape (B, 3, H, W), H and W multiples of 32,
// values as the model expects them (0..1 RGB). --output: the decoded predictions (B, N, 5+nc),
// YOLOv5's `model(x)[0]`: rows ordered level, anchor, gy, gx; x, y, w, h in input pixels then
// objectness and class probabilities. --raw DIR also writes the head logits of each level as
// DIR/raw0.npy, raw1.npy, raw2.npy in YOLOv5's (B, na, ny, nx, 5+nc) layout (`model(x)[1]`).
// --img N: the size the caller means to run at (rounded up to a multiple of 32 as YOLOv5 does);
// the input must then be N x N -- a guard against feeding the wrong file.
// This is the command to compare yolite with PyTorch on the same input, tensor for tensor.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include <yolite/core/parallel.hpp>
#include <yolite/io/npy.hpp>
#include <yolite/model/cfg_yaml.hpp>
#include <yolite/model/summary.hpp>
#include <yolite/model/yolo.hpp>
#include <yolite/model/weights.hpp>

#include "command.hpp"

namespace {

namespace fs = std::filesystem;
using namespace yolite;

int run_forward(int argc, char** argv) {
  std::string weights, cfg, input, output, raw_dir;
  int img = 0, nc = 80, threads = 0;
  uint64_t seed = 0;
  bool quiet = false;
  CLI::App app{"Eval-mode forward pass of a model on a float NCHW .npy tensor", "yolite forward"};
  app.add_option("--weights", weights, "YOLOv5 .pt or yolite checkpoint");
  app.add_option("--cfg", cfg, "build an untrained model instead: yolov5n..x or a model yaml");
  app.add_option("--nc", nc, "classes of the --cfg model")->check(CLI::PositiveNumber);
  app.add_option("--seed", seed, "initialisation seed of the --cfg model");
  app.add_option("--input", input, "input .npy, shape (B, 3, H, W)")->required();
  app.add_option("--output", output, "decoded predictions .npy, shape (B, N, 5+nc)")->required();
  app.add_option("--raw", raw_dir, "also write DIR/raw{0,1,2}.npy, shape (B, na, ny, nx, 5+nc)");
  app.add_option("--img,--imgsz,--img-size", img, "expected input size (pixels)")
      ->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "OpenMP threads (0: OpenMP's default)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--quiet,-q", quiet, "print nothing on success");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  YOLITE_CHECK(weights.empty() != cfg.empty(),
               "give exactly one of --weights (a trained model) and --cfg (an untrained one)");
  set_threads(threads);

  std::shared_ptr<model::YoloModel> m;
  if (!weights.empty()) {
    m = model::build_model(model::read_weights(weights));
  } else {
    m = std::make_shared<model::YoloModel>(model::load_model_spec(cfg), nc, seed);
  }
  m->eval();

  YOLITE_CHECK(fs::exists(input), "--input ", input, ": no such file");
  Tensor<float> x = io::load_npy_f32(input);
  YOLITE_CHECK(x.ndim() == 4 && x.size(1) == m->input_channels(), "--input ", input, ": shape ",
               x.shape().str(), ", expected (B, ", m->input_channels(), ", H, W)");
  const int64_t ms = int64_t(m->max_stride());
  if (img > 0) {
    const int64_t want = (int64_t(img) + ms - 1) / ms * ms;
    YOLITE_CHECK(x.size(2) == want && x.size(3) == want, "--input ", input, ": shape ",
                 x.shape().str(), " but --img ", img, " means ", want, "x", want,
                 (want != img ? " (rounded up to a multiple of the stride)" : ""));
  }
  YOLITE_CHECK(x.size(2) % ms == 0 && x.size(3) % ms == 0 && x.size(2) > 0 && x.size(3) > 0,
               "--input ", input, ": H and W (", x.size(2), "x", x.size(3),
               ") must be positive multiples of ", ms, " (the model's largest stride)");
  if (!raw_dir.empty()) {
    std::error_code ec;
    fs::create_directories(raw_dir, ec);
    YOLITE_CHECK(fs::is_directory(raw_dir), "--raw ", raw_dir, ": cannot create the directory");
  }

  auto t0 = std::chrono::steady_clock::now();
  std::vector<Var<float>> raw;
  Tensor<float> y;
  {
    NoGradGuard ng;
    raw = m->forward_raw(Var<float>(x));
    y = m->detect().decode(raw);
  }
  const double ms_taken =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();

  io::save_npy(output, y);
  if (!raw_dir.empty())
    for (size_t l = 0; l < raw.size(); ++l)
      io::save_npy((fs::path(raw_dir) / ("raw" + std::to_string(l) + ".npy")).string(),
                   model::Detect<float>::to_yolov5_layout(raw[l].value(), m->num_anchors()));
  if (!quiet) {
    std::printf("%s\n", model::summarize(*m).fused_line().c_str());  // as detect.py prints it
    std::printf("input %s -> output %s %s (%.1f ms)\n", x.shape().str().c_str(),
                y.shape().str().c_str(), output.c_str(), ms_taken);
    if (!raw_dir.empty())
      std::printf("raw head outputs: %s/raw0.npy .. raw%zu.npy\n", raw_dir.c_str(), raw.size() - 1);
  }
  return 0;
}

}  // namespace

YOLITE_COMMAND(forward, "eval-mode forward pass on a .npy tensor (parity checks with PyTorch)",
               run_forward);
