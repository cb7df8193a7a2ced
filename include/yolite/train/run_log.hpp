// train/run_log.hpp -- what a training run shows while it runs, besides results.csv:
// TensorBoard event files with YOLOv5's tags, and report.html (train/report.hpp).
//
//   RunLog log(save_dir, opt.tensorboard, names, label_counts, opt.epochs, facts);
//   log.picture(save_dir / "train_batch0.jpg", 0);   // an image event (when TensorBoard is on)
//   log.epoch_end(history);                          // scalars of the last row + live report
//   log.finish(history, &final_val);                 // the plots as images + the final report
//
// Scalars per epoch (step = epoch), as YOLOv5's loggers write them: train/box_loss,
// train/obj_loss, train/cls_loss, metrics/precision, metrics/recall, metrics/mAP_0.5,
// metrics/mAP_0.5:0.95, val/box_loss, val/obj_loss, val/cls_loss, x/lr0, x/lr1, x/lr2 -- the
// columns of results.csv. Images: the first training batches at step 0, and at the end
// results.png, the PR and F1 curves, the confusion matrix and the validation batches, tagged
// with their file stems. Start TensorBoard with `tensorboard --logdir runs/train`.
#pragma once
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../data/image_io.hpp"
#include "../io/file.hpp"
#include "../io/tfevents.hpp"
#include "report.hpp"
#include "results_csv.hpp"

namespace yolite::train {

class RunLog {
 public:
  RunLog(std::filesystem::path save_dir, bool tensorboard, std::vector<std::string> names,
         std::vector<int> label_counts, int epochs, std::vector<std::pair<std::string, std::string>> facts)
      : dir_(std::move(save_dir)) {
    if (tensorboard) tb_ = std::make_unique<io::EventWriter>(dir_);
    report_.title = dir_.string();
    report_.epochs = epochs;
    report_.names = std::move(names);
    report_.label_counts = std::move(label_counts);
    report_.facts = std::move(facts);
  }

  bool tensorboard() const { return tb_ != nullptr; }
  std::filesystem::path report_path() const { return dir_ / "report.html"; }

  // An image file of the run as a TensorBoard image (its stem as the tag); skipped when the
  // file does not exist or TensorBoard is off.
  void picture(const std::filesystem::path& file, int64_t step) {
    std::error_code ec;
    if (!tb_ || !std::filesystem::is_regular_file(file, ec)) return;
    const Image im = data::load_image(file);
    tb_->image(file.stem().string(), io::read_file_bytes(file.string()), im.w, im.h, step);
    tb_->flush();
  }

  void epoch_end(const std::vector<EpochRow>& history) {
    if (history.empty()) return;
    const EpochRow& r = history.back();
    if (tb_) {
      const auto& cols = results_columns();
      const double v[] = {r.train_loss[0], r.train_loss[1], r.train_loss[2], r.precision, r.recall, r.map50, r.map,
                          r.val_loss[0],   r.val_loss[1],   r.val_loss[2],   r.lr[0],     r.lr[1],  r.lr[2]};
      for (size_t k = 0; k < 13; ++k) tb_->scalar(cols[k + 1], v[k], r.epoch);
      tb_->flush();
    }
    report_.live = true;
    report_.history = history;
    report_.images = pictures();
    write_report(report_path(), report_);
  }

  void finish(const std::vector<EpochRow>& history, const ValResult* final_val) {
    const int64_t step = history.empty() ? 0 : history.back().epoch;
    for (const char* f : {"results.png", "PR_curve.png", "F1_curve.png", "confusion_matrix.png",
                          "val_batch0_labels.jpg", "val_batch0_pred.jpg"})
      picture(dir_ / f, step);
    report_.live = false;
    report_.history = history;
    report_.val = final_val;
    report_.images = pictures();
    write_report(report_path(), report_);
    report_.val = nullptr;
  }

 private:
  std::vector<std::filesystem::path> pictures() const {
    std::vector<std::filesystem::path> p;
    for (const char* f : {"results.png", "val_batch0_pred.jpg", "val_batch0_labels.jpg", "PR_curve.png",
                          "F1_curve.png", "confusion_matrix.png", "labels.jpg", "train_batch0.jpg",
                          "train_batch1.jpg", "train_batch2.jpg"})
      p.push_back(dir_ / f);
    return p;
  }

  std::filesystem::path dir_;
  std::unique_ptr<io::EventWriter> tb_;
  Report report_;
};

}  // namespace yolite::train
