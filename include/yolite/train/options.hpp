// train/options.hpp -- TrainOptions: everything `yolite train` takes, with YOLOv5's names.
//
// The command line (tools/yolite/cmd_train.cpp) only fills this struct; a program that embeds
// training fills it the same way and hands it to train::Trainer (train/trainer.hpp). It is
// written to runs/train/NAME/opt.yaml and into every checkpoint, so --resume continues with
// the options of the interrupted run (train/options_json.hpp).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "../core/error.hpp"

namespace yolite::dist {
class Comm;  // dist/comm.hpp
}

namespace yolite::train {

struct TrainOptions {
  std::string weights;                  // initial weights ("" = from scratch)
  std::string cfg;                      // model: yolov5n/s/m/l/x(.yaml); "" = from --weights
  std::string data;                     // dataset yaml
  std::string hyp = "hyp.scratch-low.yaml";
  int epochs = 100;
  int batch = 16;
  int imgsz = 640;                      // rounded up to a multiple of the largest stride
  std::string device = "cpu";
  int workers = 8;                      // loader threads (capped at the CPU count)
  std::string project = "runs/train";
  std::string name = "exp";
  bool exist_ok = false;
  std::string resume;                   // a last.pt to continue ("" = no)
  std::vector<int> freeze{0};           // first N layers, or the listed layer indices
  std::string optimizer = "SGD";        // SGD, Adam, AdamW
  bool cos_lr = false;
  double label_smoothing = 0.0;
  int patience = 100;                   // epochs without improvement before stopping
  int save_period = -1;                 // also save epochN.pt every N epochs (-1: never)
  uint64_t seed = 0;
  std::string cache;                    // "" or "ram" (decoded images kept in memory)
  bool noval = false;                   // validate only after the final epoch
  bool nosave = false;                  // save only the final checkpoint
  bool single_cls = false;              // train as one class
  bool multi_scale = false;             // image size varies +/- 50% per batch
  bool rect = false;                    // rectangular training batches (no mosaic)
  int threads = 0;                      // OpenMP threads for compute (0 = OpenMP's default)
  bool bf16 = false;                    // convolutions in bf16 (AVX512_BF16), fp32 master weights
  bool plots = true;                    // write the pictures of the run
  bool tensorboard = true;              // TensorBoard event files in the run folder
  bool verbose = true;                  // progress bars and tables on stdout
  bool sync_bn = false;                 // data-parallel: BatchNorm statistics over all ranks
  // Data-parallel training: the ranks training together (dist/comm.hpp; nullptr = this process
  // alone). Each takes a slice of every batch; `batch` stays the whole batch. Not saved.
  dist::Comm* comm = nullptr;

  void validate() const {
    YOLITE_CHECK(epochs >= 1, "--epochs must be >= 1, got ", epochs);
    YOLITE_CHECK(batch >= 1, "--batch-size must be >= 1, got ", batch);
    YOLITE_CHECK(imgsz >= 32 && imgsz <= 8192, "--imgsz must be in [32, 8192], got ", imgsz);
    YOLITE_CHECK(workers >= 0, "--workers must be >= 0, got ", workers);
    YOLITE_CHECK(optimizer == "SGD" || optimizer == "Adam" || optimizer == "AdamW",
                 "--optimizer must be SGD, Adam or AdamW, got '", optimizer, "'");
    YOLITE_CHECK(label_smoothing >= 0 && label_smoothing < 1,
                 "--label-smoothing must be in [0, 1), got ", label_smoothing);
    YOLITE_CHECK(cache.empty() || cache == "ram" || cache == "disk",
                 "--cache must be ram or disk, got '", cache, "'");
    YOLITE_CHECK(!freeze.empty(), "--freeze needs at least one number");
    for (int f : freeze) YOLITE_CHECK(f >= 0, "--freeze values must be >= 0, got ", f);
    YOLITE_CHECK(patience >= 0, "--patience must be >= 0, got ", patience);
    YOLITE_CHECK(device == "cpu" || device.empty(),
                 "--device ", device, ": this build of yolite has no CUDA support; use --device cpu");
  }
};

}  // namespace yolite::train
