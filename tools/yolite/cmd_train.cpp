// yolite train -- train a detector; the flags are YOLOv5's train.py flags.
//
//   yolite train --img 300 --cfg yolov5s.yaml --hyp hyp.scratch-low.yaml --batch 128 --epochs 100
//     --data dataset.yaml --weights yolov5s.pt --workers 24 --name yolo_bottle_det
//
// Everything happens in train::Trainer (include/yolite/train/trainer.hpp); this file maps
// flags to TrainOptions and turns Ctrl-C into a clean stop (last.pt saved).
#include <atomic>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>

#include <yolite/train/trainer.hpp>

#include "command.hpp"
#include "ranks.hpp"

namespace {

std::atomic<bool> g_interrupted{false};  // set by SIGINT; the CLI's only global
extern "C" void on_sigint(int) { g_interrupted.store(true); }

int run_train(int argc, char** argv) {
  yolite::train::TrainOptions o;
  CLI::App app{"Train a YOLOv5 detector (flags as YOLOv5's train.py)", "yolite train"};
  app.add_option("--weights", o.weights, "initial weights: a yolite checkpoint or a YOLOv5 .pt ('' = scratch)");
  app.add_option("--cfg", o.cfg, "model: yolov5n/s/m/l/x(.yaml)");
  app.add_option("--data", o.data, "dataset yaml (required unless --resume)");
  app.add_option("--hyp", o.hyp, "hyperparameters: hyp.scratch-low/med/high.yaml or a path");
  app.add_option("--epochs", o.epochs, "total training epochs");
  app.add_option("--batch-size,--batch", o.batch, "images per batch");
  app.add_option("--imgsz,--img,--img-size", o.imgsz, "train and val image size (pixels)");
  app.add_option("--device", o.device, "cpu (CUDA: a build with -DYOLITE_CUDA=ON)");
  app.add_option("--workers", o.workers, "data loader threads (capped at the CPU count)");
  app.add_option("--project", o.project, "save to project/name");
  app.add_option("--name", o.name, "save to project/name");
  app.add_flag("--exist-ok", o.exist_ok, "reuse project/name instead of incrementing");
  app.add_option("--resume", o.resume, "resume from a last.pt")->expected(0, 1)->default_str("");
  app.add_option("--freeze", o.freeze, "freeze the first N layers, or the listed layers")->delimiter(',');
  app.add_option("--optimizer", o.optimizer, "SGD, Adam or AdamW");
  app.add_flag("--cos-lr", o.cos_lr, "cosine learning-rate schedule");
  app.add_option("--label-smoothing", o.label_smoothing, "label smoothing epsilon");
  app.add_option("--patience", o.patience, "stop after this many epochs without improvement");
  app.add_option("--save-period", o.save_period, "also save a checkpoint every N epochs");
  app.add_option("--seed", o.seed, "global training seed");
  app.add_option("--cache", o.cache, "cache images in ram")->expected(0, 1)->default_str("ram");
  app.add_flag("--noval", o.noval, "validate only the final epoch");
  app.add_flag("--nosave", o.nosave, "save only the final checkpoint");
  app.add_flag("--single-cls", o.single_cls, "train multi-class data as single-class");
  app.add_flag("--multi-scale", o.multi_scale, "vary the image size +/- 50%");
  app.add_flag("--rect", o.rect, "rectangular training");
  app.add_option("--threads", o.threads, "compute threads (default: all cores)");
  app.add_flag("--bf16", o.bf16, "convolutions in bf16 (CPUs with AVX512_BF16), fp32 master weights");
  app.add_flag("--sync-bn", o.sync_bn, "mpirun -np N: BatchNorm statistics over the whole batch on all ranks");
  bool quiet = false;
  app.add_flag("--quiet", quiet, "no progress output");
  bool noplots = false;
  app.add_flag("--noplots", noplots, "save no plot files");
  bool no_tensorboard = false;
  app.add_flag("--no-tensorboard", no_tensorboard, "write no TensorBoard event files");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  YOLITE_CHECK(!o.data.empty() || app.count("--resume"), "--data is required (a dataset yaml), unless --resume");
  if (app.count("--resume") && o.resume.empty()) {
    // --resume without a path: the most recent last.pt under the project
    std::filesystem::path newest;
    std::filesystem::file_time_type t{};
    if (std::filesystem::exists(o.project))
      for (auto& e : std::filesystem::recursive_directory_iterator(o.project))
        if (e.path().filename() == "last.pt" && e.last_write_time() > t)
          newest = e.path(), t = e.last_write_time();
    YOLITE_CHECK(!newest.empty(), "--resume: no last.pt found under ", o.project);
    o.resume = newest.string();
  }
  if (app.count("--cache") && o.cache.empty()) o.cache = "ram";
  o.verbose = !quiet;
  o.plots = !noplots;
  o.tensorboard = !no_tensorboard;
  o.comm = yolite::cli::ranks();  // mpirun -np N: data-parallel, each rank a slice of every batch
  yolite::train::Trainer trainer(o);
  std::signal(SIGINT, on_sigint);
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    while (!done.load()) {
      if (g_interrupted.load()) {
        trainer.cancel();
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  yolite::train::TrainResult res;
  try {
    res = trainer.run();
  } catch (...) {
    done.store(true);
    watcher.join();
    throw;
  }
  done.store(true);
  watcher.join();
  if (yolite::cli::is_writer())
    std::printf("Results saved to %s\n  best: %s\n  last: %s\n", res.save_dir.string().c_str(),
                res.best.string().c_str(), res.last.string().c_str());
  return res.cancelled ? 130 : 0;
}

}  // namespace

YOLITE_RANKED_COMMAND(train, "train a detector (YOLOv5 train.py flags)", run_train);
