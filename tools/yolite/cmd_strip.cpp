// yolite strip -- YOLOv5's strip_optimizer for yolite checkpoints: keep the inference weights.
//
//   yolite strip runs/train/exp/weights/last.pt [--out small.pt]
//
// A checkpoint saved during training (last.pt, best.pt, epochN.pt) carries the model, its EMA,
// the optimizer state and pending gradients so that --resume can continue; `strip` keeps only
// the EMA weights (as the model) and the metadata, about a third of the size. Training does
// this to last.pt and best.pt when it finishes; use `strip` on the checkpoints of an interrupted
// run you do not mean to resume. Without --out the file is replaced (temporary name, then rename).
#include <cstdio>
#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>

#include <yolite/train/weights.hpp>

#include "command.hpp"

namespace {

int run_strip(int argc, char** argv) {
  CLI::App app{"strip a training checkpoint down to its inference weights (YOLOv5's strip_optimizer)",
               "yolite strip"};
  std::string in, out;
  app.add_option("weights", in, "a yolite checkpoint (last.pt, best.pt, ...)")->required();
  app.add_option("--out", out, "where to write (default: replace the input)");
  CLI11_PARSE(app, argc, argv);
  if (out.empty()) out = in;
  YOLITE_CHECK(std::filesystem::is_regular_file(in), in, ": no such checkpoint");
  const auto before = std::filesystem::file_size(in);
  const size_t kept = yolite::train::strip_checkpoint(in, out);
  std::printf("%s: %zu tensors, %.1f MB -> %s %.1f MB\n", in.c_str(), kept, double(before) / 1e6,
              out.c_str(), double(std::filesystem::file_size(out)) / 1e6);
  return 0;
}

}  // namespace

YOLITE_COMMAND(strip, "strip a training checkpoint to its inference weights", run_strip);
