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
//
// Data-parallel (options.comm: several ranks, e.g. `mpirun -np N yolite train`): every rank
// holds the same model and takes its slice of each batch (data/loader.hpp, `batch` is the whole
// batch). The loss is normalised by the whole batch's images and positives (the ranks' image
// and positive counts are summed first; loss/yolo_loss.hpp), so the ranks' gradients add up to
// the whole batch's; they are summed in rank order (dist/comm.hpp) before each optimizer step,
// and clipping, the optimizer and the EMA then run identically on every rank. BatchNorm uses
// each rank's slice, with rank 0's running statistics given to all before each forward (as
// PyTorch's DDP does), or with sync_bn the whole batch's statistics (ops/cpu/batchnorm.hpp).
// Validation is shared by the ranks (train/validate.hpp); rank 0 alone prints, plots, logs and
// writes checkpoints, with the pending gradients summed, so a run resumes on any rank count.
// A batch that leaves some rank without images (a last batch smaller than the rank count) is
// skipped by all.
//
// The class comes first: its run() and the list of its steps, all a program that embeds
// training needs (core/api.hpp); the steps' bodies follow, in the order run() calls them.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "../core/api.hpp"
#include "options.hpp"
#include "results_csv.hpp"
#include "val_result.hpp"

namespace yolite::train {

struct BatchInfo {
  int epoch = 0, epochs = 0;
  int64_t batch = 0, batches = 0;
  std::array<double, 3> mean_loss{};  // running means of (box, obj, cls) this epoch
  int instances = 0, imgsz = 0;
  double it_per_s = 0;
};

// Called on rank 0 only in a data-parallel run (with the whole batch's losses and labels).
struct Callbacks {
  std::function<void(const BatchInfo&)> on_batch_end;
  std::function<void(const EpochRow&)> on_epoch_end;
};

struct TrainResult {
  std::filesystem::path save_dir, best, last;
  int epochs_done = 0;
  double best_fitness = 0;
  bool cancelled = false;
  ValResult final_val;  // the best weights on the validation split (unless --noval skipped it)
  // data-parallel: this rank's seconds in the training loop; of those, in collectives (the
  // gradient sums, batch counts, sync-BN, rank 0's BN statistics: moving data and waiting for
  // slower ranks), and of those, moving gradients (each sum timed after all ranks arrived);
  // the bytes of one gradient sum
  double train_seconds = 0, comm_seconds = 0, gradient_seconds = 0;
  int64_t gradient_bytes = 0, gradient_sums = 0;
};

class Trainer {
 public:
  explicit Trainer(TrainOptions o) : opt_(std::move(o)) {}
  Callbacks callbacks;
  // Ask the running loop to stop after the current batch; last.pt is saved. Thread-safe.
  void cancel() { cancel_.store(true); }
  const TrainOptions& options() const { return opt_; }

  // Trains as the options say. Throws yolite::Error naming the problem: bad options, a
  // missing or malformed data set or checkpoint, a diverged loss.
  TrainResult run();

 private:
  // run() is these steps, in this order. Everything a step sets up for the later ones lives in
  // a Run, the state of one run, filled in step by step.
  struct Run;
  void read_resume_checkpoint(Run& r);  // --resume: the options and hyperparameters it continues
  void load_hyperparameters(Run& r);    // --hyp file (or the checkpoint's)
  void load_data(Run& r);               // train/val splits, class names, every label's class checked
  void build_model(Run& r);             // model and its EMA copy, --weights transferred, image size
  void freeze_layers(Run& r);           // --freeze: which parameters train
  void build_optimizer(Run& r);         // optimizer, lr schedule, EMA, loss gains
  void restore_training_state(Run& r);  // --resume: weights, EMA, optimizer, epoch counters
  void make_run_folder(Run& r);         // only now: a failed start leaves no folder behind
  void make_loader(Run& r);             // the augmenting training loader, validation options
  void start_logging(Run& r);           // labels plot, TensorBoard, report page, results.csv so far
  void start_run_log(Run& r);           // (rank 0's part of it)
  bool train_one_epoch(Run& r, int epoch);  // false: cancelled inside the epoch
  bool end_epoch(Run& r, int epoch);        // false: early stop, or cancelled at its end
  void finish(Run& r);                  // results.png, checkpoints stripped, best.pt validated
  void log(const std::string& s) const;
  // data-parallel
  void sum_gradients(Run& r);           // every rank's gradients, summed in rank order
  void share_bn_statistics(Run& r);     // rank 0's BatchNorm running statistics to every rank
  bool agree_cancel(Run& r);            // true when any rank was asked to stop

  TrainOptions opt_;
  std::atomic<bool> cancel_{false};
  bool root_ = true;  // this process prints (rank 0 of a data-parallel job, or alone)
};

}  // namespace yolite::train

#if YOLITE_API_BODIES
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <unistd.h>
#include <vector>

#include "../core/parallel.hpp"
#include "../data/dataset_yaml.hpp"
#include "../dist/comm.hpp"
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
#include "../ops/cpu/resize.hpp"
#include "hyp.hpp"
#include "options_json.hpp"
#include "plots.hpp"
#include "run_log.hpp"
#include "run_dir.hpp"
#include "validate.hpp"
#include "weights.hpp"

namespace yolite::train {

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

namespace detail {

// --multi-scale: a random size in [0.5, 1.5] x imgsz (a stride multiple) per batch, drawn
// from (seed, iteration) so resume and thread count do not change it; the batch is resized
// (bilinear, as YOLOv5's F.interpolate) so its longer side is that size.
inline Tensor<float> random_rescale(const Tensor<float>& x, int imgsz, int gs, uint64_t seed, int64_t ni) {
  Rng rng = Rng(seed ^ 0x6d756c7469ull).split(uint64_t(ni));
  int sz = int(rng.uniform(imgsz * 0.5, imgsz * 1.5 + gs)) / gs * gs;
  sz = std::max(sz, gs);
  const int64_t H = x.size(2), W = x.size(3);
  if (sz == H && sz == W) return x;
  const double sf = double(sz) / double(std::max(H, W));
  const int64_t nh = std::max<int64_t>(gs, int64_t(std::ceil(double(H) * sf / gs)) * gs);
  const int64_t nw = std::max<int64_t>(gs, int64_t(std::ceil(double(W) * sf / gs)) * gs);
  return ops::resize_bilinear(x, nh, nw);
}

inline void print_progress(const BatchInfo& b, double secs) {
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

inline std::string fixed(double v, int digits = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

inline std::string format_val_table_short(const ValResult& r) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%22s%11s%11s%11s%11s%11s%11s\n%22s%11d%11d%11.3g%11.3g%11.3g%11.3g\n",
                "Class", "Images", "Instances", "P", "R", "mAP50", "mAP50-95", "all", r.images,
                r.instances, r.metrics.mp, r.metrics.mr, r.metrics.map50, r.metrics.map);
  return buf;
}

// with_grads: the checkpoint's pending gradients too (a data-parallel run: rank 0 only, as
// they are the sum over the ranks that wrote them).
inline void load_training_state(const io::Checkpoint& ck, model::YoloModel& m,
                                optim::ModelEMA<float>& ema, optim::Optimizer<float>& opt,
                                const optim::NamedParams<float>& params, bool with_grads = true) {
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
    if (auto* g = with_grads ? ck.find("grad." + n) : nullptr) {
      Var<float> var = v;
      var.node()->grad_buf().copy_from(*g);
    }
}

// The gradients of the trainable parameters that have one, end to end in parameter order
// (into `flat`, reused), and back.
inline void flatten_gradients(const optim::NamedParams<float>& params, std::vector<float>& flat) {
  flat.clear();
  for (auto& [n, v] : params)
    if (v.requires_grad() && v.grad().defined())
      flat.insert(flat.end(), v.grad().data(), v.grad().data() + v.grad().numel());
}
template <class F>  // f(name, grad, values): values points at that gradient's numel() floats of flat
void for_flat_gradients(optim::NamedParams<float>& params, const std::vector<float>& flat, F&& f) {
  size_t at = 0;
  for (auto& [n, v] : params)
    if (v.requires_grad() && v.grad().defined()) {
      f(n, v.grad(), flat.data() + at);
      at += size_t(v.grad().numel());
    }
}

// Runs f on rank 0 only; an error there stops every rank with its message (alone: as it is).
template <class F>
void on_root(dist::Comm& comm, F&& f) {
  if (comm.size() == 1) return f();
  std::string err;
  if (comm.is_root()) try {
      f();
    } catch (const std::exception& e) {
      err = e.what();
    }
  comm.check_all(err);
}

}  // namespace detail

// The state of one run, filled in step by step.
struct Trainer::Run {
  dist::SelfComm alone;
  dist::Comm* comm = &alone;           // the ranks training together
  bool data_parallel() const { return comm->size() > 1; }
  bool talk = true;                    // verbose, and rank 0
  std::unique_ptr<ops::BnSync> bn_sync;  // --sync-bn over the ranks
  double comm_seconds = 0;
  std::vector<float> flat_grads;       // the gradients, flattened for summing
  bool resuming = false;
  io::Checkpoint resume_ck;
  Hyp hyp;
  data::Dataset train_set, val_set;
  std::vector<std::string> names;
  int nc = 0;
  std::optional<model::Weights> init;  // --weights
  model::ModelSpec spec;
  std::shared_ptr<model::YoloModel> model, ema_model;
  int gs = 32, imgsz = 0;              // largest stride, image size (a multiple of it)
  optim::NamedParams<float> params;
  static constexpr int nbs = 64;       // nominal batch size
  int64_t accumulate_nominal = 1;
  std::unique_ptr<optim::Optimizer<float>> opt;
  optim::LrLambda lf;
  std::unique_ptr<optim::ModelEMA<float>> ema;
  loss::LossConfig lc;
  loss::AnchorSet anchors;
  int start_epoch = 0, best_epoch = 0;
  double best_fitness = 0;
  int64_t last_opt_step = -1;
  std::filesystem::path save_dir, wdir;
  TrainResult res;
  data::LoaderOptions lo;
  std::unique_ptr<data::Loader> loader;
  int64_t nb = 0, nw = 0;              // batches per epoch, warm-up iterations
  optim::WarmupHyp wh;
  ValOptions vo;
  std::unique_ptr<RunLog> run_log;
  std::vector<EpochRow> history;
  std::array<double, 3> mloss{};       // this epoch's running mean losses

  // Everything needed to continue: model, EMA, optimizer state, pending gradients (`grads`:
  // given instead of this rank's own, the sum over the ranks), options.
  io::Checkpoint checkpoint(const TrainOptions& o, int epoch,
                            const std::vector<std::pair<std::string, Tensor<float>>>* grads = nullptr) const {
    io::Checkpoint ck;
    for (auto& [n, t] : model->state_dict()) ck.add(n, t.clone());
    for (auto& [n, p] : model->int_buffers()) ck.add_int(n, *p);
    for (auto& [n, t] : ema->state()) ck.add("ema." + n, t);
    for (auto& [n, t] : opt->state_dict()) ck.add("optim." + n, t);
    if (grads)
      for (auto& [n, g] : *grads) ck.add("grad." + n, g);
    else
      for (auto& [n, v] : params)
        if (v.grad().defined()) ck.add("grad." + n, v.grad().clone());
    nlohmann::json meta;
    meta["epoch"] = epoch;
    meta["best_fitness"] = best_fitness;
    meta["best_epoch"] = best_epoch;
    meta["last_opt_step"] = last_opt_step;
    meta["ema_updates"] = ema->updates();
    meta["nc"] = nc;
    meta["names"] = names;
    meta["spec"] = model::spec_to_meta(spec);
    meta["hyp"] = hyp_to_yaml(hyp);
    meta["opt"] = to_json(o);
    meta["resumable"] = true;
    std::time_t now = std::time(nullptr);
    char date[64];
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", std::gmtime(&now));
    meta["date"] = date;
    meta["producer"] = "yolite";
    ck.meta = meta;
    return ck;
  }
};

// The steps are declared, with what each does, in the class above.
YOLITE_API TrainResult Trainer::run() {
  Run r;
  if (opt_.comm) r.comm = opt_.comm;
  root_ = r.comm->is_root();
  read_resume_checkpoint(r);
  r.talk = opt_.verbose && root_;
  opt_.validate();
  set_threads(opt_.threads);
  FlushDenormalsGuard ftz;  // denormals -> 0 on the compute threads for the whole run
  ops::PrecisionGuard prec(opt_.bf16 ? ops::Precision::bf16 : ops::Precision::fp32, "--bf16");
  load_hyperparameters(r);
  load_data(r);
  build_model(r);
  freeze_layers(r);
  build_optimizer(r);
  restore_training_state(r);
  make_run_folder(r);
  make_loader(r);
  start_logging(r);
  for (int epoch = r.start_epoch; epoch < opt_.epochs; ++epoch) {
    if (!train_one_epoch(r, epoch)) break;
    if (!end_epoch(r, epoch)) break;
  }
  finish(r);
  return r.res;
}

YOLITE_API void Trainer::read_resume_checkpoint(Run& r) {
  r.resuming = !opt_.resume.empty();
  if (!r.resuming) return;
  YOLITE_CHECK(std::filesystem::exists(opt_.resume), "--resume: checkpoint '", opt_.resume,
               "' not found");
  r.resume_ck = io::load_checkpoint(opt_.resume);
  YOLITE_CHECK(r.resume_ck.meta.contains("opt") && r.resume_ck.meta.contains("epoch"), opt_.resume,
               ": not a resumable yolite training checkpoint (no options or epoch inside)");
  YOLITE_CHECK(r.resume_ck.meta.value("resumable", false), opt_.resume,
               ": this checkpoint was stripped at the end of training; nothing to resume");
  const TrainOptions given = opt_;
  opt_ = options_from_json(r.resume_ck.meta["opt"]);
  opt_.resume = given.resume;
  opt_.exist_ok = true;
  opt_.comm = given.comm;  // the ranks of this run, however many wrote the checkpoint
  opt_.verbose = given.verbose;
}

YOLITE_API void Trainer::load_hyperparameters(Run& r) {
  r.hyp = r.resuming ? hyp_from_yaml(data::parse_yaml(r.resume_ck.meta["hyp"].get<std::string>(),
                                                      opt_.resume), opt_.resume)
                     : load_hyp(opt_.hyp);
}

YOLITE_API void Trainer::load_data(Run& r) {
  YOLITE_CHECK(!opt_.data.empty(), "--data: a dataset yaml is required");
  data::DatasetYaml dy = data::read_dataset_yaml(opt_.data);
  r.train_set = data::load_yolo_split(dy, "train");
  YOLITE_CHECK(!r.train_set.samples.empty(), opt_.data, ": the train split has no images");
  if (!dy.val.empty()) r.val_set = data::load_yolo_split(dy, "val");
  r.names = dy.names;
  if (opt_.single_cls) {
    r.names = {"item"};
    for (auto* ds : {&r.train_set, &r.val_set})
      for (auto& s : ds->samples)
        for (auto& b : s.boxes) b.cls = 0;
  }
  r.nc = int(r.names.size());
  YOLITE_CHECK(r.nc >= 1, opt_.data, ": no class names");
  for (auto* ds : {&r.train_set, &r.val_set})
    for (auto& s : ds->samples)
      for (auto& b : s.boxes)
        YOLITE_CHECK(b.cls >= 0 && b.cls < r.nc, s.label_path, ": class ", b.cls, " but ",
                     opt_.data, " names only ", r.nc, " classes");
}

YOLITE_API void Trainer::build_model(Run& r) {
  if (!opt_.weights.empty() && !r.resuming) r.init = model::read_weights(opt_.weights);
  if (r.resuming)
    r.spec = model::spec_from_meta(r.resume_ck.meta["spec"], opt_.resume);
  else if (!opt_.cfg.empty())
    r.spec = model::yolov5_spec(opt_.cfg);
  else if (r.init)
    r.spec = r.init->spec;
  else
    fail("--cfg or --weights is needed to know which model to train");
  r.spec.nc = r.nc;
  r.model = std::make_shared<model::YoloModel>(r.spec, r.nc, opt_.seed);
  r.model->names = r.names;
  r.ema_model = std::make_shared<model::YoloModel>(r.spec, r.nc, opt_.seed);
  r.ema_model->names = r.names;
  r.ema_model->eval();
  if (r.init) {
    auto rep = transfer(*r.model, *r.init);
    log(str("Transferred ", rep.loaded.size(), "/", rep.total, " items from ", opt_.weights,
            rep.mismatched.empty() ? "" : str(" (", rep.mismatched.size(), " with another shape, e.g. the Detect head for ", r.nc, " classes)"), "\n"));
  }
  if (opt_.sync_bn && r.data_parallel()) {
    r.bn_sync = std::make_unique<ops::BnSync>();
    r.bn_sync->gather = [&r](const std::vector<double>& v) {
      const auto t0 = std::chrono::steady_clock::now();
      std::vector<double> all = r.comm->allgather_values(v);
      YOLITE_CHECK(all.size() == v.size() * size_t(r.comm->size()), "sync-BN: the ranks' batch norms differ in size");
      r.comm_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      return all;
    };
    nn::set_sync_bn(*r.model, r.bn_sync.get());
  }
  r.gs = std::max(int(r.model->max_stride()), 32);
  r.imgsz = data::round_up_to_stride(opt_.imgsz, r.gs);
  if (r.imgsz != opt_.imgsz)
    log(str("WARNING: --img-size ", opt_.imgsz, " must be a multiple of max stride ", r.gs,
            ", updating to ", r.imgsz, "\n"));
}

// YOLOv5's `model.{i}.` prefixes for i in range(freeze[0]) (or the listed ones).
YOLITE_API void Trainer::freeze_layers(Run& r) {
  std::vector<std::string> frozen;
  if (opt_.freeze.size() > 1)
    for (int f : opt_.freeze) frozen.push_back(str("model.", f, "."));
  else
    for (int f = 0; f < opt_.freeze[0]; ++f) frozen.push_back(str("model.", f, "."));
  for (auto& [n, v] : r.model->named_parameters()) {
    bool freeze = false;
    for (auto& p : frozen) freeze = freeze || n.rfind(p, 0) == 0;
    v.set_requires_grad(!freeze);
    r.params.emplace_back(n, v);
  }
}

YOLITE_API void Trainer::build_optimizer(Run& r) {
  Hyp& hyp = r.hyp;
  r.accumulate_nominal = optim::accumulate_steps(opt_.batch, Run::nbs);
  hyp.weight_decay *= double(opt_.batch) * double(r.accumulate_nominal) / Run::nbs;
  auto groups = optim::yolo_param_groups(r.params, hyp.lr0, hyp.momentum, hyp.weight_decay);
  if (opt_.optimizer == "SGD")
    r.opt = std::make_unique<optim::SGD<float>>(groups, /*nesterov=*/true);
  else
    r.opt = std::make_unique<optim::Adam<float>>(groups, hyp.momentum, 0.999, 1e-8, opt_.optimizer == "AdamW");
  r.lf = opt_.cos_lr ? optim::one_cycle_lr(opt_.epochs, hyp.lrf) : optim::linear_lr(opt_.epochs, hyp.lrf);
  optim::set_epoch_lr(r.opt->groups(), r.lf, 0);
  r.ema = std::make_unique<optim::ModelEMA<float>>(r.model->state_dict(), hyp.ema_decay, hyp.ema_tau);
  loss::LossConfig& lc = r.lc;
  lc.box = hyp.box, lc.obj = hyp.obj, lc.cls = hyp.cls, lc.cls_pw = hyp.cls_pw,
  lc.obj_pw = hyp.obj_pw, lc.anchor_t = hyp.anchor_t, lc.fl_gamma = hyp.fl_gamma;
  lc.label_smoothing = opt_.label_smoothing;
  lc = loss::scale_loss_gains(lc, r.nc, int(r.model->stride().size()), r.imgsz);
  r.anchors = anchor_set(*r.model);
}

YOLITE_API void Trainer::restore_training_state(Run& r) {
  if (!r.resuming) return;
  detail::load_training_state(r.resume_ck, *r.model, *r.ema, *r.opt, r.params, root_);
  r.start_epoch = r.resume_ck.meta["epoch"].get<int>() + 1;
  r.best_fitness = r.resume_ck.meta.value("best_fitness", 0.0);
  r.best_epoch = r.resume_ck.meta.value("best_epoch", 0);
  r.last_opt_step = r.resume_ck.meta.value("last_opt_step", int64_t(-1));
  optim::set_epoch_lr(r.opt->groups(), r.lf, r.start_epoch);
  log(str("Resuming training from ", opt_.resume, " at epoch ", r.start_epoch, " of ",
          opt_.epochs, "\n"));
  YOLITE_CHECK(r.start_epoch < opt_.epochs, opt_.resume, ": training to ", opt_.epochs,
               " epochs is finished; nothing to resume");
}

YOLITE_API void Trainer::make_run_folder(Run& r) {
  detail::on_root(*r.comm, [&] {  // rank 0 writes; the others learn where
    r.save_dir = r.resuming ? std::filesystem::path(opt_.resume).parent_path().parent_path()
                            : make_run_dir(opt_.project, opt_.name, opt_.exist_ok);
    std::filesystem::create_directories(r.save_dir / "weights");
    if (!r.resuming) {
      data::write_file_atomic(r.save_dir / "hyp.yaml", hyp_to_yaml(r.hyp));
      data::write_file_atomic(r.save_dir / "opt.yaml", data::to_yaml(data::yaml_from_json(to_json(opt_))));
    }
  });
  std::string dir = r.save_dir.string();
  r.comm->broadcast(dir);
  r.save_dir = dir;
  r.wdir = r.save_dir / "weights";
  r.res.save_dir = r.save_dir;
  r.res.last = r.wdir / "last.pt";
  r.res.best = r.wdir / "best.pt";
}

YOLITE_API void Trainer::make_loader(Run& r) {
  data::LoaderOptions& lo = r.lo;
  lo.imgsz = r.imgsz;
  lo.batch = opt_.batch;
  lo.augment = true;
  lo.hyp = augment_hyp(r.hyp);
  lo.workers = std::min(opt_.workers, std::max(1, int(std::thread::hardware_concurrency())));
  lo.shuffle = !opt_.rect;
  lo.rect = opt_.rect;
  lo.rect_pad = 0.f;
  lo.seed = opt_.seed;
  lo.cache_ram = opt_.cache == "ram" || opt_.cache == "disk";
  lo.stride = r.gs;
  lo.slice = r.comm->rank(), lo.slices = r.comm->size();  // data-parallel: this rank's part of each batch
  r.loader = std::make_unique<data::Loader>(r.train_set, lo);
  for (auto& f : r.loader->failures()) log("WARNING: skipping " + f + "\n");
  r.nb = r.loader->num_batches();
  YOLITE_CHECK(r.nb > 0, opt_.data, ": no usable training images");
  r.nw = optim::warmup_iterations(r.nb, r.hyp.warmup_epochs);
  r.wh.warmup_bias_lr = r.hyp.warmup_bias_lr, r.wh.warmup_momentum = r.hyp.warmup_momentum;
  r.wh.momentum = r.hyp.momentum, r.wh.nbs = Run::nbs;

  r.vo.imgsz = r.imgsz;
  r.vo.batch = std::max(1, opt_.batch * 2);
  r.vo.workers = lo.workers;
  r.vo.single_cls = opt_.single_cls;
  r.vo.loss = r.lc;
  r.vo.comm = r.comm;  // every rank validates a share of the batches
}

YOLITE_API void Trainer::start_logging(Run& r) {
  if (r.data_parallel())
    log(str("Data-parallel: ", r.comm->size(), " ranks, each ", opt_.batch / r.comm->size(), "-",
            (opt_.batch + r.comm->size() - 1) / r.comm->size(), " images of every batch of ", opt_.batch,
            ", BatchNorm statistics ", opt_.sync_bn ? "over all ranks (--sync-bn)" : "per rank (rank 0's running statistics)",
            "\n"));
  detail::on_root(*r.comm, [&] { start_run_log(r); });
}

// Rank 0's part of start_logging: the labels plot, TensorBoard, report page, results.csv.
YOLITE_API void Trainer::start_run_log(Run& r) {
  if (opt_.plots && !r.resuming) plot_labels(r.train_set, r.names, r.save_dir / "labels.jpg");
  log(str("Image sizes ", r.imgsz, " train, ", r.imgsz, " val\nUsing ", r.lo.workers,
          " dataloader workers, ", max_threads(), " compute threads\nLogging results to ",
          r.save_dir.string(), "\nStarting training for ", opt_.epochs, " epochs...\n"));

  std::vector<int> label_counts(size_t(r.nc), 0);
  for (auto& smp : r.train_set.samples)
    for (auto& bx : smp.boxes) ++label_counts[size_t(bx.cls)];
  r.run_log = std::make_unique<RunLog>(
      r.save_dir, opt_.tensorboard, r.names, label_counts, opt_.epochs,
      std::vector<std::pair<std::string, std::string>>{
          {"model", str(r.spec.name, ", ", r.nc, " classes")},
          {"weights", opt_.weights.empty() ? std::string("(from scratch)") : opt_.weights},
          {"data", opt_.data},
          {"images", str(r.train_set.samples.size(), " train, ", r.val_set.samples.size(), " val, ",
                         r.imgsz, " px, batch ", opt_.batch)}});
  if (r.run_log->tensorboard())
    log(str("TensorBoard: start with 'tensorboard --logdir ", r.save_dir.parent_path().string(),
            "', view at http://localhost:6006/\nReport: ", r.run_log->report_path().string(), "\n"));

  if (!r.resuming) return;
  // keep only rows of completed epochs before the resume point, in the file too: a run
  // killed after appending an epoch's row but before its last.pt would otherwise leave that
  // row twice (rewritten beside it, then renamed over)
  r.history = read_results_csv(r.save_dir / "results.csv");
  while (!r.history.empty() && r.history.back().epoch >= r.start_epoch) r.history.pop_back();
  std::filesystem::path csv = r.save_dir / "results.csv", tmp = r.save_dir / ".results.csv.resume";
  std::filesystem::remove(tmp);
  for (auto& row : r.history) append_results_csv(tmp, row);
  if (r.history.empty()) std::filesystem::remove(csv);
  else std::filesystem::rename(tmp, csv);
}

// One pass over the training batches: warm-up, forward, loss, backward, and an optimizer
// step with an EMA update every 64 images. False when cancelled before the epoch's end.
YOLITE_API bool Trainer::train_one_epoch(Run& r, int epoch) {
  using clock = std::chrono::steady_clock;
  auto timed = [&r](auto&& f) {  // a collective, counted as communication
    const auto t0 = clock::now();
    f();
    r.comm_seconds += std::chrono::duration<double>(clock::now() - t0).count();
  };
  const bool dp = r.data_parallel();
  r.model->train();
  r.loader->start_epoch(epoch);
  r.mloss = {};
  data::Batch b;
  int64_t i = 0, trained = 0;
  bool stop = false;
  auto t_epoch = clock::now();
  if (r.talk)
    std::printf("\n%11s%11s%11s%11s%11s%11s%11s\n", "Epoch", "GPU_mem", "box_loss",
                "obj_loss", "cls_loss", "Instances", "Size");
  while (r.loader->next(b)) {
    const int64_t ni = i + r.nb * epoch;  // batches seen since the start of training
    int64_t accumulate = r.accumulate_nominal;
    if (ni <= r.nw) {
      auto w = optim::warmup(ni, r.nw, epoch, r.lf, r.opt->groups(), r.wh, opt_.batch);
      optim::apply_warmup(w, r.opt->groups());
      accumulate = w.accumulate;
    }
    Tensor<float> images = b.images;
    // the whole batch: its images, and whether some rank has none of them (all skip it then)
    std::array<double, 2> whole{double(images.size(0)), images.size(0) == 0 ? 1.0 : 0.0};
    if (dp) timed([&] { r.comm->allreduce_sum(whole.data(), whole.size()); });
    std::array<double, 3> items{};
    double instances = double(b.targets.size(0));
    if (whole[1] > 0) {
      log(str(r.talk ? "\n" : "", "WARNING: epoch ", epoch, " batch ", i, ": ",
              dp ? str(whole[0], " images for ", r.comm->size(), " ranks leave a rank without any")
                 : std::string("no readable images"),
              "; skipped\n"));
    } else {
      if (opt_.multi_scale) images = detail::random_rescale(images, r.imgsz, r.gs, opt_.seed, ni);
      if (dp && !opt_.sync_bn) share_bn_statistics(r);
      auto raw = r.model->forward_raw(Var<float>(images));
      auto as = loss::assign_targets<float>(raw, b.targets, r.anchors, r.model->stride(), r.lc);
      loss::BatchTotals totals;
      if (dp) {  // normalise by the whole batch: the ranks' losses add up to its loss
        totals.images = int64_t(whole[0]);
        totals.positives = as.counts();
        timed([&] { r.comm->allreduce_sum(totals.positives.data(), totals.positives.size()); });
      }
      auto out = loss::yolo_loss_assigned<float>(raw, std::move(as.levels), as.na, r.lc, nullptr,
                                                 dp ? &totals : nullptr);
      out.total.backward();
      if (ni - r.last_opt_step >= accumulate) {
        if (dp) sum_gradients(r);
        optim::clip_grad_norm(r.params, 10.0);
        r.opt->step();
        r.opt->zero_grad();
        r.ema->update(r.model->state_dict());
        r.last_opt_step = ni;
      }
      items = out.items;
    }
    // the whole batch's losses and labels; stop when any rank was asked to
    std::array<double, 5> tally{items[0], items[1], items[2], instances, cancel_.load() ? 1.0 : 0.0};
    if (dp) timed([&] { r.comm->allreduce_sum(tally.data(), tally.size()); });
    stop = tally[4] > 0;
    if (whole[1] == 0) {  // the running means count trained batches only
      for (int k = 0; k < 3; ++k)
        r.mloss[size_t(k)] = (r.mloss[size_t(k)] * double(trained) + tally[size_t(k)]) / double(trained + 1);
      ++trained;
    }
    for (int k = 0; k < 3; ++k)
      YOLITE_CHECK(std::isfinite(tally[size_t(k)]), "training diverged at epoch ", epoch,
                   " batch ", i, ": loss is ", tally[size_t(k)],
                   " (try a lower --hyp lr0 or check the labels)");
    ++i;
    BatchInfo bi;
    bi.epoch = epoch, bi.epochs = opt_.epochs, bi.batch = i, bi.batches = r.nb;
    bi.mean_loss = r.mloss, bi.instances = int(tally[3]), bi.imgsz = int(images.size(3));
    double secs = std::chrono::duration<double>(clock::now() - t_epoch).count();
    bi.it_per_s = secs > 0 ? double(i) / secs : 0;
    if (r.talk) detail::print_progress(bi, secs);
    if (root_ && callbacks.on_batch_end) callbacks.on_batch_end(bi);
    if (root_ && opt_.plots && epoch == r.start_epoch && i <= 3 && !r.resuming && images.size(0) > 0) {
      plot_batch(b.images, b.targets, r.names, r.save_dir / str("train_batch", i - 1, ".jpg"));
      r.run_log->picture(r.save_dir / str("train_batch", i - 1, ".jpg"), 0);
    }
    if (stop) break;
  }
  if (r.talk) std::printf("\n");
  r.res.train_seconds += std::chrono::duration<double>(clock::now() - t_epoch).count();
  r.res.comm_seconds = r.comm_seconds;
  if (dp) {
    const double t = std::max(r.res.train_seconds, 1e-9);
    const double per_sum = r.res.gradient_seconds / double(std::max<int64_t>(r.res.gradient_sums, 1));
    log(str("Data-parallel: ", r.comm->size(), " ranks; rank 0 spent ", int(std::lround(100 * r.comm_seconds / t)),
            "% of its training time in communication, ", int(std::lround(100 * r.res.gradient_seconds / t)),
            "% summing gradients (", r.res.gradient_bytes, " bytes per optimizer step, ", detail::fixed(1e3 * per_sum),
            " ms each), the rest waiting for the other ranks and in small exchanges (", detail::fixed(r.comm_seconds),
            " and ", detail::fixed(r.res.gradient_seconds), " of ", detail::fixed(t), " s so far)\n"));
  }
  if (stop && i < r.nb) {
    // an incomplete epoch: keep the last complete state on disk (last.pt of the previous
    // epoch) -- resuming repeats this epoch from its start, exactly.
    r.res.cancelled = true;
    log("\nTraining cancelled: last.pt holds the last complete epoch\n");
    return false;
  }
  return true;
}

// Data-parallel: every rank's gradients, flattened in parameter order and summed in rank order
// (the same bits on every rank), written back. Every rank has the same parameters with
// gradients: they all ran the same model on their slices.
YOLITE_API void Trainer::sum_gradients(Run& r) {
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  std::vector<float>& flat = r.flat_grads;  // kept between steps: no fresh pages every step
  detail::flatten_gradients(r.params, flat);
  r.comm->allgather("");  // every rank here: what follows is moving the data, not waiting
  const auto t1 = clock::now();
  r.comm->allreduce_sum(flat.data(), flat.size());
  r.res.gradient_seconds += std::chrono::duration<double>(clock::now() - t1).count();
  ++r.res.gradient_sums;
  detail::for_flat_gradients(r.params, flat, [](const std::string&, Tensor<float>& g, const float* x) {
    std::memcpy(g.data(), x, size_t(g.numel()) * sizeof(float));
  });
  r.res.gradient_bytes = int64_t(flat.size() * sizeof(float));
  r.comm_seconds += std::chrono::duration<double>(clock::now() - t0).count();
}

// Data-parallel without sync-BN: rank 0's BatchNorm running statistics on every rank before
// each forward (what DDP's broadcast_buffers does), so the ranks' models, EMAs and
// checkpoints stay identical while each normalises with its own slice's statistics.
YOLITE_API void Trainer::share_bn_statistics(Run& r) {
  const auto t0 = std::chrono::steady_clock::now();
  auto ends_with = [](const std::string& n, std::string_view e) {
    return n.size() >= e.size() && n.compare(n.size() - e.size(), e.size(), e) == 0;
  };
  std::vector<Tensor<float>> bufs;  // sharing the model's storage
  for (auto& [n, t] : r.model->state_dict())
    if (ends_with(n, ".running_mean") || ends_with(n, ".running_var")) bufs.push_back(t);
  std::string bytes;
  if (root_)
    for (auto& t : bufs) bytes.append(reinterpret_cast<const char*>(t.data()), size_t(t.numel()) * sizeof(float));
  r.comm->broadcast(bytes);
  size_t at = 0;
  for (auto& t : bufs) {
    const size_t k = size_t(t.numel()) * sizeof(float);
    YOLITE_CHECK(at + k <= bytes.size(), "data-parallel: rank 0's BatchNorm statistics do not fit this model");
    std::memcpy(t.data(), bytes.data() + at, k);
    at += k;
  }
  r.comm_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

YOLITE_API bool Trainer::agree_cancel(Run& r) {
  double c = cancel_.load() ? 1.0 : 0.0;
  r.comm->allreduce_sum(&c, 1);
  return c > 0;
}

// After an epoch: lr schedule step, validation of the EMA weights, fitness, results.csv,
// checkpoints. False when training stops here (no improvement for --patience epochs, or
// cancelled during the epoch's last batch).
YOLITE_API bool Trainer::end_epoch(Run& r, int epoch) {
  const bool cancelled = r.data_parallel() ? agree_cancel(r) : cancel_.load();
  EpochRow row;
  row.epoch = epoch;
  row.train_loss = r.mloss;
  for (int k = 0; k < 3; ++k) row.lr[size_t(k)] = r.opt->groups()[size_t(k)].lr;
  optim::set_epoch_lr(r.opt->groups(), r.lf, epoch + 1);
  const bool final_epoch = epoch + 1 == opt_.epochs;
  r.ema->copy_to(r.ema_model->state_dict());
  if ((!opt_.noval || final_epoch) && !r.val_set.samples.empty()) {
    ValResult vr = validate(*r.ema_model, r.val_set, r.vo);  // shared by the ranks, the same on each
    if (r.talk) std::printf("%s", detail::format_val_table_short(vr).c_str());
    row.precision = vr.metrics.mp, row.recall = vr.metrics.mr;
    row.map50 = vr.metrics.map50, row.map = vr.metrics.map;
    row.val_loss = vr.loss;
  }
  double fi = 0.1 * row.map50 + 0.9 * row.map;
  bool is_best = fi > r.best_fitness || epoch == 0;
  if (is_best) r.best_fitness = std::max(r.best_fitness, fi), r.best_epoch = epoch;
  r.history.push_back(row);
  // data-parallel: the checkpoint holds the pending gradients of all ranks, summed
  std::optional<std::vector<std::pair<std::string, Tensor<float>>>> summed;
  if (r.data_parallel() && (!opt_.nosave || final_epoch)) {
    summed.emplace();
    std::vector<float>& flat = r.flat_grads;
    detail::flatten_gradients(r.params, flat);
    r.comm->allreduce_sum(flat.data(), flat.size());
    detail::for_flat_gradients(r.params, flat, [&](const std::string& n, const Tensor<float>& mine, const float* x) {
      Tensor<float> g(mine.shape());
      std::memcpy(g.data(), x, size_t(g.numel()) * sizeof(float));
      summed->emplace_back(n, std::move(g));
    });
  }
  detail::on_root(*r.comm, [&] {
    append_results_csv(r.save_dir / "results.csv", row);
    r.run_log->epoch_end(r.history);
    if (callbacks.on_epoch_end) callbacks.on_epoch_end(row);
    if (!opt_.nosave || final_epoch) {
      io::Checkpoint ck = r.checkpoint(opt_, epoch, summed ? &*summed : nullptr);
      // last.pt goes last: a kill between these writes leaves last.pt at the previous epoch,
      // and the resumed run redoes this epoch and rewrites best.pt identically (written after
      // last.pt, a kill here would leave best.pt missing or stale for good).
      if (is_best) io::save_checkpoint(r.res.best.string(), ck);
      if (opt_.save_period > 0 && (epoch + 1) % opt_.save_period == 0)
        io::save_checkpoint((r.wdir / str("epoch", epoch, ".pt")).string(), ck);
      io::save_checkpoint(r.res.last.string(), ck);
    }
  });
  r.res.epochs_done = epoch + 1;
  if (opt_.patience > 0 && epoch - r.best_epoch >= opt_.patience) {
    log(str("Stopping training early as no improvement observed in last ", opt_.patience,
            " epochs. Best results observed at epoch ", r.best_epoch, "\n"));
    return false;
  }
  if (cancelled) {
    r.res.cancelled = true;
    log("\nTraining cancelled after a complete epoch: last.pt saved\n");
    return false;
  }
  return true;
}

// YOLOv5's final step: validate best.pt with plots, then strip both checkpoints down to the
// EMA weights (no optimizer state, not resumable). Rank 0 alone, in a data-parallel run.
YOLITE_API void Trainer::finish(Run& r) {
  TrainResult& res = r.res;
  res.best_fitness = r.best_fitness;
  if (!root_) return;
  if (opt_.plots && !r.history.empty()) plot_results(r.history, r.save_dir / "results.png");
  if (!res.cancelled && std::filesystem::exists(res.best)) {
    strip_checkpoint(res.last.string(), res.last.string());
    strip_checkpoint(res.best.string(), res.best.string());
    if (!r.val_set.samples.empty()) {
      model::Weights w = model::read_weights(res.best.string());
      auto best_model = model::build_model(w);
      ValOptions fo = r.vo;
      fo.keep_detections = opt_.plots;
      fo.loss.reset();
      fo.comm = nullptr;
      log(str("\nValidating ", res.best.string(), "...\n"));
      res.final_val = validate(*best_model, r.val_set, fo);
      if (r.talk) std::printf("%s", format_val_table(res.final_val, r.names).c_str());
      if (opt_.plots) plot_validation(res.final_val, r.names, r.save_dir);
    }
    log(str(res.epochs_done - r.start_epoch, " epochs completed. Results saved to ",
            r.save_dir.string(), "\n"));
  }
  r.run_log->finish(r.history, res.final_val.images > 0 ? &res.final_val : nullptr);
}

YOLITE_API void Trainer::log(const std::string& s) const {
  if (opt_.verbose && root_) {
    std::fputs(s.c_str(), stdout);
    std::fflush(stdout);
  }
}

}  // namespace yolite::train
#endif  // YOLITE_API_BODIES
