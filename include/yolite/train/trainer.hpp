// train/trainer.hpp -- the training loop (YOLOv5's train.py), as a class a program can drive.
//
//   train::TrainOptions o;
//   o.data = "bottles/dataset.yaml"; o.cfg = "yolov5n"; o.imgsz = 320; o.epochs = 10;
//   train::Trainer t(o);
//   t.callbacks.on_epoch_end = [](const train::EpochRow& r) { std::printf("%g\n", r.map50); };
//   train::TrainResult res = t.run();        // res.best, res.last: checkpoint paths
//   // from another thread (or a signal handler's flag): t.cancel() -> saves last.pt, returns
//
// One epoch, as train.py v7.0 does it:
//   * batches from data/loader.hpp (mosaic, perspective, HSV, flips: hyp.*.yaml);
//   * warm-up over max(3 epochs, 100 iterations): bias lr 0.1 -> lr0*lf, other lrs 0 -> lr0*lf,
//     momentum 0.8 -> 0.937, gradient accumulation 1 -> 64/batch (optim/schedule.hpp);
//   * loss (loss/yolo_loss.hpp, gains scaled for nc, 3 levels and the image size) -> backward;
//     gradients accumulate until 64 images (the nominal batch) have been seen, then the
//     gradient norm is clipped at 10, the optimizer steps (SGD nesterov, 3 parameter groups,
//     weight decay scaled by batch*accumulate/64) and the EMA of the weights is updated;
//   * after the epoch: LambdaLR step (linear or --cos-lr), validation of the EMA weights,
//     fitness = 0.1 mAP@0.5 + 0.9 mAP@0.5:0.95 picks best.pt; last.pt every epoch.
// Checkpoints (io/checkpoint.hpp, written to a temporary name then renamed) hold the model,
// its EMA, the optimizer state, pending accumulated gradients and the options, so --resume
// continues bit for bit (same seed and thread count) where the last complete epoch ended.
#pragma once
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

#include "../core/parallel.hpp"
#include "../data/dataset_yaml.hpp"
#include "../data/fs.hpp"
#include "../data/loader.hpp"
#include "../io/checkpoint.hpp"
#include "../loss/yolo_loss.hpp"
#include "../model/yolo.hpp"
#include "../optim/adam.hpp"
#include "../optim/ema.hpp"
#include "../optim/param_groups.hpp"
#include "../optim/schedule.hpp"
#include "../optim/sgd.hpp"
#include "hyp.hpp"
#include "options.hpp"
#include "plots.hpp"
#include "results_csv.hpp"
#include "run_log.hpp"
#include "run_dir.hpp"
#include "validate.hpp"
#include "weights.hpp"

namespace yolite::train {

struct BatchInfo {
  int epoch = 0, epochs = 0;
  int64_t batch = 0, batches = 0;
  std::array<double, 3> mean_loss{};  // running means of (box, obj, cls) this epoch
  int instances = 0, imgsz = 0;
  double it_per_s = 0;
};

struct Callbacks {
  std::function<void(const BatchInfo&)> on_batch_end;
  std::function<void(const EpochRow&)> on_epoch_end;
};

// The augmentation part of the hyperparameters, as the training loader takes it.
inline data::AugmentHyp augment_hyp(const Hyp& h) {
  data::AugmentHyp a;
  a.hsv_h = float(h.hsv_h), a.hsv_s = float(h.hsv_s), a.hsv_v = float(h.hsv_v);
  a.degrees = float(h.degrees), a.translate = float(h.translate), a.scale = float(h.scale);
  a.shear = float(h.shear), a.perspective = float(h.perspective);
  a.flipud = float(h.flipud), a.fliplr = float(h.fliplr);
  a.mosaic = float(h.mosaic), a.mixup = float(h.mixup);
  return a;
}

struct TrainResult {
  std::filesystem::path save_dir, best, last;
  int epochs_done = 0;
  double best_fitness = 0;
  bool cancelled = false;
  ValResult final_val;  // the best weights on the validation split (unless --noval skipped it)
};

class Trainer {
 public:
  explicit Trainer(TrainOptions o) : opt_(std::move(o)) {}
  Callbacks callbacks;
  // Ask the running loop to stop after the current batch; last.pt is saved. Thread-safe.
  void cancel() { cancel_.store(true); }
  const TrainOptions& options() const { return opt_; }

  TrainResult run() {
    using clock = std::chrono::steady_clock;
    io::Checkpoint resume_ck;
    bool resuming = !opt_.resume.empty();
    if (resuming) {
      YOLITE_CHECK(std::filesystem::exists(opt_.resume), "--resume: checkpoint '", opt_.resume,
                   "' not found");
      resume_ck = io::load_checkpoint(opt_.resume);
      YOLITE_CHECK(resume_ck.meta.contains("opt") && resume_ck.meta.contains("epoch"), opt_.resume,
                   ": not a resumable yolite training checkpoint (no options or epoch inside)");
      YOLITE_CHECK(resume_ck.meta.value("resumable", false), opt_.resume,
                   ": this checkpoint was stripped at the end of training; nothing to resume");
      std::string keep = opt_.resume;
      opt_ = options_from_json(resume_ck.meta["opt"]);
      opt_.resume = keep;
      opt_.exist_ok = true;
    }
    opt_.validate();
    set_threads(opt_.threads);
    FlushDenormalsGuard ftz;  // denormals -> 0 on the compute threads for the whole run
    ops::PrecisionGuard prec(opt_.bf16 ? ops::Precision::bf16 : ops::Precision::fp32, "--bf16");
    Hyp hyp = resuming ? hyp_from_yaml(data::parse_yaml(resume_ck.meta["hyp"].get<std::string>(), opt_.resume), opt_.resume)
                       : load_hyp(opt_.hyp);

    // ---- data
    YOLITE_CHECK(!opt_.data.empty(), "--data: a dataset yaml is required");
    data::DatasetYaml dy = data::read_dataset_yaml(opt_.data);
    data::Dataset train_set = data::load_yolo_split(dy, "train");
    YOLITE_CHECK(!train_set.samples.empty(), opt_.data, ": the train split has no images");
    data::Dataset val_set;
    if (!dy.val.empty()) val_set = data::load_yolo_split(dy, "val");
    std::vector<std::string> names = dy.names;
    if (opt_.single_cls) {
      names = {"item"};
      for (auto* ds : {&train_set, &val_set})
        for (auto& s : ds->samples)
          for (auto& b : s.boxes) b.cls = 0;
    }
    const int nc = int(names.size());
    YOLITE_CHECK(nc >= 1, opt_.data, ": no class names");
    for (auto* ds : {&train_set, &val_set})
      for (auto& s : ds->samples)
        for (auto& b : s.boxes)
          YOLITE_CHECK(b.cls >= 0 && b.cls < nc, s.label_path, ": class ", b.cls, " but ",
                       opt_.data, " names only ", nc, " classes");

    // ---- model
    std::optional<model::Weights> init;
    if (!opt_.weights.empty() && !resuming) init = model::read_weights(opt_.weights);
    model::ModelSpec spec;
    if (resuming)
      spec = model::spec_from_meta(resume_ck.meta["spec"], opt_.resume);
    else if (!opt_.cfg.empty())
      spec = model::yolov5_spec(opt_.cfg);
    else if (init)
      spec = init->spec;
    else
      fail("--cfg or --weights is needed to know which model to train");
    spec.nc = nc;
    auto model = std::make_shared<model::YoloModel>(spec, nc, opt_.seed);
    model->names = names;
    auto ema_model = std::make_shared<model::YoloModel>(spec, nc, opt_.seed);
    ema_model->names = names;
    ema_model->eval();
    if (init) {
      auto rep = transfer(*model, *init);
      log(str("Transferred ", rep.loaded.size(), "/", rep.total, " items from ", opt_.weights,
              rep.mismatched.empty() ? "" : str(" (", rep.mismatched.size(), " with another shape, e.g. the Detect head for ", nc, " classes)"), "\n"));
    }
    const int gs = std::max(int(model->max_stride()), 32);
    const int imgsz = data::round_up_to_stride(opt_.imgsz, gs);
    if (imgsz != opt_.imgsz)
      log(str("WARNING: --img-size ", opt_.imgsz, " must be a multiple of max stride ", gs,
              ", updating to ", imgsz, "\n"));

    // freeze: YOLOv5's `model.{i}.` prefixes for i in range(freeze[0]) (or the listed ones)
    std::vector<std::string> frozen;
    if (opt_.freeze.size() > 1)
      for (int f : opt_.freeze) frozen.push_back(str("model.", f, "."));
    else
      for (int f = 0; f < opt_.freeze[0]; ++f) frozen.push_back(str("model.", f, "."));
    optim::NamedParams<float> params;
    for (auto& [n, v] : model->named_parameters()) {
      bool freeze = false;
      for (auto& p : frozen) freeze = freeze || n.rfind(p, 0) == 0;
      v.set_requires_grad(!freeze);
      params.emplace_back(n, v);
    }

    // ---- optimizer, schedule, EMA, loss
    const int nbs = 64;
    const int64_t accumulate_nominal = optim::accumulate_steps(opt_.batch, nbs);
    hyp.weight_decay *= double(opt_.batch) * double(accumulate_nominal) / nbs;
    auto groups = optim::yolo_param_groups(params, hyp.lr0, hyp.momentum, hyp.weight_decay);
    std::unique_ptr<optim::Optimizer<float>> opt;
    if (opt_.optimizer == "SGD")
      opt = std::make_unique<optim::SGD<float>>(groups, /*nesterov=*/true);
    else
      opt = std::make_unique<optim::Adam<float>>(groups, hyp.momentum, 0.999, 1e-8, opt_.optimizer == "AdamW");
    optim::LrLambda lf = opt_.cos_lr ? optim::one_cycle_lr(opt_.epochs, hyp.lrf)
                                     : optim::linear_lr(opt_.epochs, hyp.lrf);
    optim::set_epoch_lr(opt->groups(), lf, 0);
    optim::ModelEMA<float> ema(model->state_dict());
    loss::LossConfig lc;
    lc.box = hyp.box, lc.obj = hyp.obj, lc.cls = hyp.cls, lc.cls_pw = hyp.cls_pw,
    lc.obj_pw = hyp.obj_pw, lc.anchor_t = hyp.anchor_t, lc.fl_gamma = hyp.fl_gamma;
    lc.label_smoothing = opt_.label_smoothing;
    lc = loss::scale_loss_gains(lc, nc, int(model->stride().size()), imgsz);
    const loss::AnchorSet anchors = anchor_set(*model);

    int start_epoch = 0;
    double best_fitness = 0;
    int64_t last_opt_step = -1;
    int best_epoch = 0;
    if (resuming) {
      load_training_state(resume_ck, *model, ema, *opt, params);
      start_epoch = resume_ck.meta["epoch"].get<int>() + 1;
      best_fitness = resume_ck.meta.value("best_fitness", 0.0);
      best_epoch = resume_ck.meta.value("best_epoch", 0);
      last_opt_step = resume_ck.meta.value("last_opt_step", int64_t(-1));
      optim::set_epoch_lr(opt->groups(), lf, start_epoch);
      log(str("Resuming training from ", opt_.resume, " at epoch ", start_epoch, " of ",
              opt_.epochs, "\n"));
      YOLITE_CHECK(start_epoch < opt_.epochs, opt_.resume, ": training to ", opt_.epochs,
                   " epochs is finished; nothing to resume");
    }

    // ---- run folder (after everything that can reject the options: a failed start leaves no folder)
    std::filesystem::path save_dir =
        resuming ? std::filesystem::path(opt_.resume).parent_path().parent_path()
                 : make_run_dir(opt_.project, opt_.name, opt_.exist_ok);
    std::filesystem::path wdir = save_dir / "weights";
    std::filesystem::create_directories(wdir);
    TrainResult res;
    res.save_dir = save_dir;
    res.last = wdir / "last.pt";
    res.best = wdir / "best.pt";
    if (!resuming) {
      data::write_file_atomic(save_dir / "hyp.yaml", hyp_to_yaml(hyp));
      data::write_file_atomic(save_dir / "opt.yaml", data::to_yaml(data::yaml_from_json(to_json(opt_))));
    }

    // ---- loaders
    data::LoaderOptions lo;
    lo.imgsz = imgsz;
    lo.batch = opt_.batch;
    lo.augment = true;
    lo.hyp = augment_hyp(hyp);
    lo.workers = std::min(opt_.workers, std::max(1, int(std::thread::hardware_concurrency())));
    lo.shuffle = !opt_.rect;
    lo.rect = opt_.rect;
    lo.rect_pad = 0.f;
    lo.seed = opt_.seed;
    lo.cache_ram = opt_.cache == "ram" || opt_.cache == "disk";
    lo.stride = gs;
    data::Loader loader(train_set, lo);
    for (auto& f : loader.failures()) log("WARNING: skipping " + f + "\n");
    const int64_t nb = loader.num_batches();
    YOLITE_CHECK(nb > 0, opt_.data, ": no usable training images");
    const int64_t nw = optim::warmup_iterations(nb, hyp.warmup_epochs);
    optim::WarmupHyp wh;
    wh.warmup_bias_lr = hyp.warmup_bias_lr, wh.warmup_momentum = hyp.warmup_momentum;
    wh.momentum = hyp.momentum, wh.nbs = nbs;

    ValOptions vo;
    vo.imgsz = imgsz;
    vo.batch = std::max(1, opt_.batch * 2);
    vo.workers = lo.workers;
    vo.single_cls = opt_.single_cls;
    vo.loss = lc;

    if (opt_.plots && !resuming) plot_labels(train_set, names, save_dir / "labels.jpg");
    log(str("Image sizes ", imgsz, " train, ", imgsz, " val\nUsing ", lo.workers,
            " dataloader workers, ", max_threads(), " compute threads\nLogging results to ",
            save_dir.string(), "\nStarting training for ", opt_.epochs, " epochs...\n"));

    std::vector<int> label_counts(size_t(nc), 0);
    for (auto& smp : train_set.samples)
      for (auto& bx : smp.boxes) ++label_counts[size_t(bx.cls)];
    RunLog run_log(save_dir, opt_.tensorboard, names, label_counts, opt_.epochs,
                   {{"model", str(spec.name, ", ", nc, " classes")},
                    {"weights", opt_.weights.empty() ? std::string("(from scratch)") : opt_.weights},
                    {"data", opt_.data},
                    {"images", str(train_set.samples.size(), " train, ", val_set.samples.size(), " val, ", imgsz, " px, batch ", opt_.batch)}});
    if (run_log.tensorboard())
      log(str("TensorBoard: start with 'tensorboard --logdir ", save_dir.parent_path().string(),
              "', view at http://localhost:6006/\nReport: ", run_log.report_path().string(), "\n"));

    std::vector<EpochRow> history = resuming ? read_results_csv(save_dir / "results.csv") : std::vector<EpochRow>{};
    // keep only rows of completed epochs before the resume point
    while (!history.empty() && history.back().epoch >= start_epoch) history.pop_back();
    if (resuming) {
      // ... in the file too: a run killed after appending an epoch's row but before its
      // last.pt would otherwise leave that row twice (rewritten beside it, then renamed over)
      std::filesystem::path csv = save_dir / "results.csv", tmp = save_dir / ".results.csv.resume";
      std::filesystem::remove(tmp);
      for (auto& r : history) append_results_csv(tmp, r);
      if (history.empty()) std::filesystem::remove(csv);
      else std::filesystem::rename(tmp, csv);
    }
    int epoch = start_epoch;
    for (; epoch < opt_.epochs; ++epoch) {
      model->train();
      loader.start_epoch(epoch);
      std::array<double, 3> mloss{};
      data::Batch b;
      int64_t i = 0;
      auto t_epoch = clock::now();
      if (opt_.verbose)
        std::printf("\n%11s%11s%11s%11s%11s%11s%11s\n", "Epoch", "GPU_mem", "box_loss",
                    "obj_loss", "cls_loss", "Instances", "Size");
      while (loader.next(b)) {
        const int64_t ni = i + nb * epoch;
        int64_t accumulate = accumulate_nominal;
        if (ni <= nw) {
          auto w = optim::warmup(ni, nw, epoch, lf, opt->groups(), wh, opt_.batch);
          optim::apply_warmup(w, opt->groups());
          accumulate = w.accumulate;
        }
        Tensor<float> images = b.images;
        if (opt_.multi_scale) images = random_rescale(images, imgsz, gs, opt_.seed, ni);
        auto raw = model->forward_raw(Var<float>(images));
        auto out = loss::yolo_loss<float>(raw, b.targets, anchors, model->stride(), lc);
        out.total.backward();
        if (ni - last_opt_step >= accumulate) {
          optim::clip_grad_norm(params, 10.0);
          opt->step();
          opt->zero_grad();
          ema.update(model->state_dict());
          last_opt_step = ni;
        }
        for (int k = 0; k < 3; ++k) mloss[size_t(k)] = (mloss[size_t(k)] * double(i) + out.items[size_t(k)]) / double(i + 1);
        for (int k = 0; k < 3; ++k)
          YOLITE_CHECK(std::isfinite(out.items[size_t(k)]), "training diverged at epoch ", epoch,
                       " batch ", i, ": loss is ", out.items[size_t(k)],
                       " (try a lower --hyp lr0 or check the labels)");
        ++i;
        BatchInfo bi;
        bi.epoch = epoch, bi.epochs = opt_.epochs, bi.batch = i, bi.batches = nb;
        bi.mean_loss = mloss, bi.instances = int(b.targets.size(0)), bi.imgsz = int(images.size(3));
        double secs = std::chrono::duration<double>(clock::now() - t_epoch).count();
        bi.it_per_s = secs > 0 ? double(i) / secs : 0;
        if (opt_.verbose) print_progress(bi, secs);
        if (callbacks.on_batch_end) callbacks.on_batch_end(bi);
        if (opt_.plots && epoch == start_epoch && i <= 3 && !resuming) {
          plot_batch(b.images, b.targets, names, save_dir / str("train_batch", i - 1, ".jpg"));
          run_log.picture(save_dir / str("train_batch", i - 1, ".jpg"), 0);
        }
        if (cancel_.load()) break;
      }
      if (opt_.verbose) std::printf("\n");
      const bool cancelled = cancel_.load();
      if (cancelled && i < nb) {
        // an incomplete epoch: keep the last complete state on disk (last.pt of the previous
        // epoch) -- resuming repeats this epoch from its start, exactly.
        res.cancelled = true;
        log("\nTraining cancelled: last.pt holds the last complete epoch\n");
        break;
      }
      EpochRow row;
      row.epoch = epoch;
      row.train_loss = mloss;
      for (int k = 0; k < 3; ++k) row.lr[size_t(k)] = opt->groups()[size_t(k)].lr;
      optim::set_epoch_lr(opt->groups(), lf, epoch + 1);
      const bool final_epoch = epoch + 1 == opt_.epochs;
      ema.copy_to(ema_model->state_dict());
      if ((!opt_.noval || final_epoch) && !val_set.samples.empty()) {
        ValResult vr = validate(*ema_model, val_set, vo);
        if (opt_.verbose) std::printf("%s", format_val_table_short(vr).c_str());
        row.precision = vr.metrics.mp, row.recall = vr.metrics.mr;
        row.map50 = vr.metrics.map50, row.map = vr.metrics.map;
        row.val_loss = vr.loss;
      }
      double fi = 0.1 * row.map50 + 0.9 * row.map;
      bool is_best = fi > best_fitness || epoch == 0;
      if (is_best) best_fitness = std::max(best_fitness, fi), best_epoch = epoch;
      append_results_csv(save_dir / "results.csv", row);
      history.push_back(row);
      run_log.epoch_end(history);
      if (callbacks.on_epoch_end) callbacks.on_epoch_end(row);
      if (!opt_.nosave || final_epoch) {
        io::Checkpoint ck = training_checkpoint(*model, ema, *opt, params, spec, names, hyp,
                                                epoch, best_fitness, best_epoch, last_opt_step);
        // last.pt goes last: a kill between these writes leaves last.pt at the previous epoch,
        // and the resumed run redoes this epoch and rewrites best.pt identically (written after
        // last.pt, a kill here would leave best.pt missing or stale for good).
        if (is_best) io::save_checkpoint(res.best.string(), ck);
        if (opt_.save_period > 0 && (epoch + 1) % opt_.save_period == 0)
          io::save_checkpoint((wdir / str("epoch", epoch, ".pt")).string(), ck);
        io::save_checkpoint(res.last.string(), ck);
      }
      res.epochs_done = epoch + 1;
      if (opt_.patience > 0 && epoch - best_epoch >= opt_.patience) {
        log(str("Stopping training early as no improvement observed in last ", opt_.patience,
                " epochs. Best results observed at epoch ", best_epoch, "\n"));
        break;
      }
      if (cancelled) {
        res.cancelled = true;
        log("\nTraining cancelled after a complete epoch: last.pt saved\n");
        break;
      }
    }
    res.best_fitness = best_fitness;
    if (opt_.plots && !history.empty()) plot_results(history, save_dir / "results.png");
    if (!res.cancelled && std::filesystem::exists(res.best)) {
      // YOLOv5's final step: validate best.pt with plots, then strip both checkpoints down to
      // the EMA weights (no optimizer state, not resumable).
      strip_checkpoint(res.last.string(), res.last.string());
      strip_checkpoint(res.best.string(), res.best.string());
      if (!val_set.samples.empty()) {
        model::Weights w = model::read_weights(res.best.string());
        auto best_model = model::build_model(w);
        ValOptions fo = vo;
        fo.keep_detections = opt_.plots;
        fo.loss.reset();
        log(str("\nValidating ", res.best.string(), "...\n"));
        res.final_val = validate(*best_model, val_set, fo);
        if (opt_.verbose) std::printf("%s", format_val_table(res.final_val, names).c_str());
        if (opt_.plots) plot_validation(res.final_val, names, save_dir);
      }
      log(str(res.epochs_done - start_epoch, " epochs completed. Results saved to ",
              save_dir.string(), "\n"));
    }
    run_log.finish(history, res.final_val.images > 0 ? &res.final_val : nullptr);
    return res;
  }

 private:
  void log(const std::string& s) const {
    if (opt_.verbose) {
      std::fputs(s.c_str(), stdout);
      std::fflush(stdout);
    }
  }

  // --multi-scale: a random size in [0.5, 1.5] x imgsz (a stride multiple) per batch, drawn
  // from (seed, iteration) so resume and thread count do not change it; bilinear resize.
  static Tensor<float> random_rescale(const Tensor<float>& x, int imgsz, int gs, uint64_t seed, int64_t ni) {
    Rng rng = Rng(seed ^ 0x6d756c7469ull).split(uint64_t(ni));
    int sz = int(rng.uniform(imgsz * 0.5, imgsz * 1.5 + gs)) / gs * gs;
    sz = std::max(sz, gs);
    const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    if (sz == H && sz == W) return x;
    const double sf = double(sz) / double(std::max(H, W));
    const int64_t nh = std::max<int64_t>(gs, int64_t(std::ceil(H * sf / gs)) * gs);
    const int64_t nwid = std::max<int64_t>(gs, int64_t(std::ceil(W * sf / gs)) * gs);
    Tensor<float> y({B, C, nh, nwid});
    parallel_for(0, B * C, [&](int64_t bc) {
      const float* src = x.data() + bc * H * W;
      float* dst = y.data() + bc * nh * nwid;
      for (int64_t r = 0; r < nh; ++r) {
        double fy = std::clamp((r + 0.5) * double(H) / double(nh) - 0.5, 0.0, double(H - 1));
        int64_t y0 = int64_t(fy), y1 = std::min(y0 + 1, H - 1);
        float wy = float(fy - double(y0));
        for (int64_t c = 0; c < nwid; ++c) {
          double fx = std::clamp((c + 0.5) * double(W) / double(nwid) - 0.5, 0.0, double(W - 1));
          int64_t x0 = int64_t(fx), x1 = std::min(x0 + 1, W - 1);
          float wx = float(fx - double(x0));
          float top = src[y0 * W + x0] * (1 - wx) + src[y0 * W + x1] * wx;
          float bot = src[y1 * W + x0] * (1 - wx) + src[y1 * W + x1] * wx;
          dst[r * nwid + c] = top * (1 - wy) + bot * wy;
        }
      }
    });
    return y;
  }

  void print_progress(const BatchInfo& b, double secs) const {
    const bool tty = isatty(fileno(stdout));
    if (!tty && b.batch != b.batches) return;  // logs: one line per epoch
    const int width = 10;
    int filled = int(double(width) * double(b.batch) / double(std::max<int64_t>(b.batches, 1)));
    std::string bar;
    for (int k = 0; k < width; ++k) bar += k < filled ? "#" : " ";
    char line[256];
    std::snprintf(line, sizeof line, "%11s%11s%11.4g%11.4g%11.4g%11d%11d: %3d%% |%s| %lld/%lld [%.0fs, %.2fit/s]",
                  str(b.epoch, "/", b.epochs - 1).c_str(), "0G", b.mean_loss[0], b.mean_loss[1],
                  b.mean_loss[2], b.instances, b.imgsz, int(100 * b.batch / std::max<int64_t>(b.batches, 1)),
                  bar.c_str(), (long long)b.batch, (long long)b.batches, secs, b.it_per_s);
    std::printf("%s%s", tty ? "\r" : "", line);
    std::fflush(stdout);
  }

  static std::string format_val_table_short(const ValResult& r) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "%22s%11s%11s%11s%11s%11s%11s\n%22s%11d%11d%11.3g%11.3g%11.3g%11.3g\n",
                  "Class", "Images", "Instances", "P", "R", "mAP50", "mAP50-95", "all", r.images,
                  r.instances, r.metrics.mp, r.metrics.mr, r.metrics.map50, r.metrics.map);
    return buf;
  }

  // Everything needed to continue: model, EMA, optimizer state, pending gradients, options.
  io::Checkpoint training_checkpoint(const model::YoloModel& m, const optim::ModelEMA<float>& ema,
                                     const optim::Optimizer<float>& opt,
                                     const optim::NamedParams<float>& params,
                                     const model::ModelSpec& spec,
                                     const std::vector<std::string>& names, const Hyp& hyp,
                                     int epoch, double best_fitness, int best_epoch,
                                     int64_t last_opt_step) const {
    io::Checkpoint ck;
    for (auto& [n, t] : m.state_dict()) ck.add(n, t.clone());
    for (auto& [n, p] : m.int_buffers()) ck.add_int(n, *p);
    for (auto& [n, t] : ema.state()) ck.add("ema." + n, t);
    for (auto& [n, t] : opt.state_dict()) ck.add("optim." + n, t);
    for (auto& [n, v] : params)
      if (v.grad().defined()) ck.add("grad." + n, v.grad().clone());
    nlohmann::json meta;
    meta["epoch"] = epoch;
    meta["best_fitness"] = best_fitness;
    meta["best_epoch"] = best_epoch;
    meta["last_opt_step"] = last_opt_step;
    meta["ema_updates"] = ema.updates();
    meta["nc"] = int(names.size());
    meta["names"] = names;
    meta["spec"] = model::spec_to_meta(spec);
    meta["hyp"] = hyp_to_yaml(hyp);
    meta["opt"] = to_json(opt_);
    meta["resumable"] = true;
    std::time_t now = std::time(nullptr);
    char date[64];
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", std::gmtime(&now));
    meta["date"] = date;
    meta["producer"] = "yolite";
    ck.meta = meta;
    return ck;
  }

  static void load_training_state(const io::Checkpoint& ck, model::YoloModel& m,
                                  optim::ModelEMA<float>& ema, optim::Optimizer<float>& opt,
                                  const optim::NamedParams<float>& params) {
    std::vector<std::pair<std::string, Tensor<float>>> model_sd, ema_sd, opt_sd;
    std::vector<std::pair<std::string, int64_t>> ints;
    for (auto& [n, t] : ck.tensors) {
      if (n.rfind("ema.", 0) == 0) ema_sd.emplace_back(n.substr(4), t);
      else if (n.rfind("optim.", 0) == 0) opt_sd.emplace_back(n.substr(6), t);
      else if (n.rfind("grad.", 0) == 0) continue;
      else model_sd.emplace_back(n, t);
    }
    for (auto& [n, t] : ck.int_tensors) ints.emplace_back(n, t[0]);
    auto rep = m.load_state_dict(model_sd, nn::LoadMode::strict, ints);
    (void)rep;
    ema.load(ema_sd, ck.meta.value("ema_updates", int64_t(0)));
    opt.load_state_dict(opt_sd);
    for (auto& [n, v] : params)
      if (auto* g = ck.find("grad." + n)) {
        Var<float> var = v;
        var.node()->grad_buf().copy_from(*g);
      }
  }



  TrainOptions opt_;
  std::atomic<bool> cancel_{false};
};

}  // namespace yolite::train
