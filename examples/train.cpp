// examples/train.cpp -- embed training: the options of `yolite train`, progress callbacks,
// cancellation after a time budget.
//
//   example_train dataset.yaml [epochs] [seconds]
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include <yolite/yolite.hpp>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DATASET.yaml [EPOCHS] [SECONDS]\n", argv[0]);
    return 2;
  }
  yolite::train::TrainOptions o;
  o.data = argv[1];
  o.cfg = "yolov5n";
  o.imgsz = 256;
  o.batch = 16;
  o.epochs = argc > 2 ? std::atoi(argv[2]) : 10;
  o.name = "example";
  o.verbose = false;
  const double budget = argc > 3 ? std::atof(argv[3]) : 1e9;
  try {
    yolite::train::Trainer trainer(o);
    auto t0 = std::chrono::steady_clock::now();
    trainer.callbacks.on_batch_end = [&](const yolite::train::BatchInfo& b) {
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (s > budget) trainer.cancel();  // stops after this batch, last.pt kept
      if (b.batch == b.batches) std::printf("epoch %d: box %.4f obj %.4f cls %.4f\n", b.epoch,
                                            b.mean_loss[0], b.mean_loss[1], b.mean_loss[2]);
    };
    trainer.callbacks.on_epoch_end = [](const yolite::train::EpochRow& r) {
      std::printf("  val mAP@0.5 %.3f  mAP@0.5:0.95 %.3f\n", r.map50, r.map);
    };
    auto res = trainer.run();
    std::printf("best weights: %s\n", res.best.string().c_str());
  } catch (const yolite::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
