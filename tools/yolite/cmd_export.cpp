// yolite export -- hand a trained model to other runtimes (YOLOv5's export.py).
//
//   yolite export --weights best.pt --include onnx [--img 320 | --img H W] [--batch 1]
//                 [--dynamic] [--opset 17] [--nms [--conf-thres 0.25 --iou-thres 0.45
//                 --max-det 300 --agnostic-nms]] [--include pt safetensors] [--out DIR]
//
// onnx        -> best.onnx: the fused network with the Detect decode inside, input "images"
//                [B,3,H,W] (RGB 0..1), output "output0" [B, N, 5+nc] in input pixels, metadata
//                names/stride/imgsz; --nms adds "detections" [K, 7] (export/onnx.hpp)
// pt          -> best_yolov5.pt: a state-dict checkpoint PyTorch loads with weights_only=True,
//                keys as YOLOv5's DetectionModel (export/torch_pt.hpp)
// safetensors -> best.safetensors: the same tensors
// Files go beside the weights (or into --out), each through a temporary name: an export that
// fails leaves nothing behind.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <yolite/export/onnx.hpp>
#include <yolite/export/torch_pt.hpp>
#include <yolite/model/weights.hpp>

#include "command.hpp"

namespace {

namespace fs = std::filesystem;
using namespace yolite;

int run_export(int argc, char** argv) {
  std::string weights, out_dir;
  std::vector<std::string> include{"onnx"};
  std::vector<int> img{640};
  OnnxExportOptions o;
  CLI::App app{"export a model to ONNX, a PyTorch state-dict checkpoint or safetensors", "yolite export"};
  app.add_option("--weights", weights, "a yolite checkpoint or a YOLOv5 .pt")->required();
  app.add_option("--include", include, "formats: onnx, pt, safetensors (default onnx)");
  app.add_option("--img,--imgsz,--img-size", img, "input size: one number, or height width")->expected(1, 2);
  app.add_option("--batch,--batch-size", o.batch, "batch size of the ONNX input (default 1)");
  app.add_flag("--dynamic", o.dynamic, "ONNX: batch, height and width left open");
  app.add_option("--opset", o.opset, "ONNX opset, 12 to 17 (default 17)");
  app.add_flag("--nms", o.nms, "ONNX: append NonMaxSuppression (output 'detections' [K, 7])");
  app.add_option("--conf-thres", o.conf_thres, "--nms: score threshold (default 0.25)");
  app.add_option("--iou-thres", o.iou_thres, "--nms: IoU threshold (default 0.45)");
  app.add_option("--max-det", o.max_det, "--nms: detections per image at most (default 300)");
  app.add_flag("--agnostic-nms", o.agnostic, "--nms: suppress across classes");
  app.add_option("--out", out_dir, "output folder (default: beside the weights)");
  CLI11_PARSE(app, argc, argv);

  const std::set<std::string> known{"onnx", "pt", "safetensors"};
  for (const auto& f : include)
    YOLITE_CHECK(known.count(f), "--include ", f, ": unknown format (choose from onnx, pt, safetensors)");
  YOLITE_CHECK(o.opset >= kOnnxMinOpset && o.opset <= kOnnxMaxOpset, "--opset ", o.opset,
               ": not supported (supported: ", kOnnxMinOpset, " to ", kOnnxMaxOpset, ")");
  YOLITE_CHECK(o.batch >= 1, "--batch ", o.batch, ": must be at least 1");
  for (int v : img) YOLITE_CHECK(v > 0, "--img ", v, ": must be positive");
  YOLITE_CHECK(o.conf_thres >= 0 && o.conf_thres <= 1 && o.iou_thres >= 0 && o.iou_thres <= 1,
               "--conf-thres and --iou-thres must be in [0, 1]");
  YOLITE_CHECK(o.max_det >= 1, "--max-det ", o.max_det, ": must be at least 1");

  auto m = model::build_model(model::read_weights(weights));
  const int gs = int(m->max_stride());
  auto round_up = [&](int v) {
    const int r = (v + gs - 1) / gs * gs;
    if (r != v) std::printf("--img %d is not a multiple of the stride %d: using %d\n", v, gs, r);
    return r;
  };
  o.height = round_up(img[0]);
  o.width = img.size() > 1 ? round_up(img[1]) : o.height;

  fs::path dir = out_dir.empty() ? fs::path(weights).parent_path() : fs::path(out_dir);
  if (!out_dir.empty()) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    YOLITE_CHECK(fs::is_directory(dir), "--out ", out_dir, ": cannot create the folder");
  }
  const std::string stem = fs::path(weights).stem().string();
  std::printf("%s: %s, %d classes, %lld parameters\n", weights.c_str(), m->spec().name.c_str(), m->nc(),
              static_cast<long long>(m->num_parameters()));
  using clock = std::chrono::steady_clock;
  std::set<std::string> done;
  for (const auto& f : include) {
    if (!done.insert(f).second) continue;
    const auto t0 = clock::now();
    std::string path;
    std::string what;
    if (f == "onnx") {
      o.file = (dir / (stem + ".onnx")).string();
      const OnnxExportReport r = export_onnx(*m, o);
      path = r.file;
      what = str("ONNX opset ", o.opset, ", input images [", o.dynamic ? "batch" : std::to_string(o.batch),
                 ", 3, ", o.dynamic ? "height" : std::to_string(o.height), ", ",
                 o.dynamic ? "width" : std::to_string(o.width), "], ", r.nodes, " nodes",
                 o.nms ? ", with NonMaxSuppression" : "");
    } else if (f == "pt") {
      path = (dir / (stem + "_yolov5.pt")).string();
      YOLITE_CHECK(fs::weakly_canonical(path) != fs::weakly_canonical(weights), path,
                   ": would overwrite the input weights; choose another --out");
      export_pt(*m, path);
      what = "PyTorch state dict (YOLOv5 keys)";
    } else {
      path = (dir / (stem + ".safetensors")).string();
      YOLITE_CHECK(fs::weakly_canonical(path) != fs::weakly_canonical(weights), path,
                   ": would overwrite the input weights; choose another --out");
      export_safetensors(*m, path);
      what = "safetensors";
    }
    const double s = std::chrono::duration<double>(clock::now() - t0).count();
    std::printf("%s: %s, %.1f s, saved as %s (%.1f MB)\n", f.c_str(), what.c_str(), s, path.c_str(),
                double(fs::file_size(path)) / 1e6);
  }
  return 0;
}

}  // namespace

YOLITE_COMMAND(export, "export a model: ONNX, PyTorch state dict, safetensors", run_export);
