// benchmarks/train_detect.cpp -- the end-to-end speed benchmark: yolite training,
// eval forward and detect latency for yolov5n/yolov5s at 320, against a libtorch peer in the
// same run, ending with one line per figure ("train yolov5s fp32 b16 320: 14.1 img/s, peer
// 10.2 img/s, ratio 1.38").
//
//   bench_train_detect [--models n,s] [--steps 5] [--warmup 2] [--runs 3] [--threads 2]
//                      [--no-peer] [--bf16] [--profile] [--keep DIR]
//
// What is measured (each figure: the median of --runs runs; load average printed beside it):
//   train   images/s of the REAL training loop: train::Trainer (train/trainer.hpp) on a
//           synthetic data set rendered by synth::write_dataset into a temporary folder (YOLO
//           layout, nc = 80), batch 16, imgsz 320, hyp.scratch-low (mosaic on), 8 loader
//           workers capped at the CPU count, SGD nesterov with nbs = 64 accumulation, gradient
//           clipping, EMA. It is driven for --warmup + --runs * --steps batches through its
//           on_batch_end callback, then cancel()ed mid-epoch (no validation, no checkpoint).
//           A run = --steps consecutive batches; img/s = 16 * steps / (time between the
//           callbacks that bound them): loader waits, forward, loss, backward, optimizer, EMA.
//           The first batches of an epoch are in train.py's warm-up, where the accumulation
//           ramps from 1 to 4 batches per optimizer step; the peer follows the same schedule.
//   eval    ms per image of an eval-mode forward + decode at batch 8, no graph (what
//           validation runs), model not fused.
//   detect  ms of one yolite::Detector::detect() call on a 320x320 image (letterbox,
//           forward, decode, NMS), batch 1, from a checkpoint of the model; whatever fusion
//           the Detector does is included.
//   RSS     peak resident set (getrusage) of the process right after the training runs.
// Each figure is also printed in process CPU time divided by --threads ("cpu-time ..." lines):
// on this shared machine other processes stretch the wall clock of both sides, CPU time much
// less (it still counts OpenMP's spinning waits and the loader threads).
// The peer (benchmarks/torch_yolov5.hpp, compiled in when CMake finds libtorch) is the same
// YOLOv5 v7.0 architecture in libtorch C++ modules with its own YOLOv5 loss, SGD (3 groups,
// nesterov), clip_grad_norm_ and EMA, fed by the SAME yolite loader and options (so data
// loading costs the same on both sides); eval = eval() + NoGradGuard forward + decode at
// batch 8; detect = yolite letterbox + libtorch fused (conv+BN) forward + decode + yolite NMS.
// The peer starts from our initial weights and, for detect, loads our checkpoint, and its
// decoded output is compared with ours (max abs difference printed): the same network.
//
// Every side runs in its own child process (this program re-executed with --worker), so the
// peak RSS figures do not mix and neither side inherits the other's thread pools. Order per
// model: ours, then the peer. --profile adds a per-phase profile of yolite training steps
// (loader wait, forward and backward per operation type, loss, optimizer, EMA), built from
// the same pieces the Trainer uses with timers around each (see docs/perf.md).
// --bf16: also runs yolite with its convolutions in bf16 (ops::PrecisionGuard: AVX512_BF16 dot
// products, fp32 accumulation, fp32 master weights; TrainOptions/DetectorOptions::bf16 where
// the library has them) and prints "train yolov5s bf16 ..." lines against the fp32 peer (the
// the bf16 speed targets are relative to PyTorch fp32). On a CPU without AVX512_BF16 it says so.
#include <fcntl.h>
#include <omp.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <type_traits>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <CLI/CLI.hpp>

#include <yolite/data/convert.hpp>
#include <yolite/data/dataset_yaml.hpp>
#include <yolite/data/loader.hpp>
#include <yolite/infer/detector.hpp>
#include <yolite/io/checkpoint.hpp>
#include <yolite/loss/yolo_loss.hpp>
#include <yolite/model/yolo.hpp>
#include <yolite/ops/conv2d.hpp>
#include <yolite/optim/ema.hpp>
#include <yolite/optim/param_groups.hpp>
#include <yolite/optim/schedule.hpp>
#include <yolite/optim/sgd.hpp>
#include <yolite/synth/dataset_writer.hpp>
#include <yolite/synth/scene.hpp>
#include <yolite/train/hyp.hpp>
#include <yolite/train/trainer.hpp>
#include <yolite/train/validate.hpp>
#include <yolite/model/weights.hpp>

#if defined(YOLITE_HAVE_TORCH)
#include "torch_yolov5.hpp"
#endif

namespace yolite {
class FlushDenormalsGuard;  // see MaybeFtz below
}
namespace fs = std::filesystem;
using namespace yolite;
using Clock = std::chrono::steady_clock;

namespace {

#if defined(YOLITE_HAVE_TORCH)
const char* const kTorchVersion = TORCH_VERSION;
#else
const char* const kTorchVersion = "";
#endif
constexpr int kBatch = 16, kImg = 320, kNc = 80, kEvalBatch = 8;

struct Flags {
  std::vector<std::string> models{"n", "s"};
  int steps = 5, warmup = 2, runs = 3, threads = 2;
  bool peer = true, bf16 = false, profile = false;
  bool worker_bf16 = false;  // worker: run yolite in bf16
  std::string keep;  // keep the data set / checkpoints in this folder
  // worker mode
  std::string worker, model, data, out, ckpt;
};

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}
// CPU seconds of the whole process (all threads: compute, loader workers, spinning waits).
double cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e3 + 1e-6 * double(ts.tv_nsec);
}
double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
std::string loadavg() {
  std::ifstream f("/proc/loadavg");
  double a = 0, b = 0, c = 0;
  f >> a >> b >> c;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f %.2f %.2f", a, b, c);
  return buf;
}
double load1() {
  std::ifstream f("/proc/loadavg");
  double a = 0;
  f >> a;
  return a;
}
double peak_rss_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / 1024.0;  // KiB on Linux
}
std::string join(const std::vector<double>& v, const char* fmt = "%.2f") {
  std::string s;
  char buf[32];
  for (double x : v) {
    std::snprintf(buf, sizeof buf, fmt, x);
    s += (s.empty() ? "" : " ") + std::string(buf);
  }
  return s;
}

// ---- results of a worker: "key value..." lines in a file ---------------------------------------
struct Results {
  std::map<std::string, std::string> kv;
  std::vector<std::string> order;
  void set(const std::string& k, const std::string& v) {
    if (!kv.count(k)) order.push_back(k);
    kv[k] = v;
  }
  void set(const std::string& k, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.10g", v);
    set(k, std::string(buf));
  }
  bool has(const std::string& k) const { return kv.count(k) > 0; }
  double num(const std::string& k) const {
    auto it = kv.find(k);
    return it == kv.end() ? 0.0 : std::atof(it->second.c_str());
  }
  std::string str(const std::string& k) const {
    auto it = kv.find(k);
    return it == kv.end() ? "" : it->second;
  }
  void save(const std::string& path) const {
    std::string tmp = path + ".tmp";
    {
      std::ofstream f(tmp);
      for (auto& k : order) f << k << ' ' << kv.at(k) << '\n';
      YOLITE_CHECK(f.good(), tmp, ": cannot write the worker results");
    }
    fs::rename(tmp, path);
  }
  static Results load(const std::string& path) {
    Results r;
    std::ifstream f(path);
    std::string line;
    while (std::getline(f, line)) {
      auto sp = line.find(' ');
      if (sp == std::string::npos) continue;
      r.set(line.substr(0, sp), line.substr(sp + 1));
    }
    return r;
  }
};

// ---- the synthetic data set ---------------------------------------------------------------------
// Renders `n` images (the tutorial's bottles, 512x512 and 300x300, 1-3 objects each) and lays
// them out as YOLOv5 expects: root/images/train/*.jpg, root/labels/train/*.txt, dataset.yaml
// with 80 class names. Class ids are spread over the 80 classes so every class column of the
// loss sees positives.
fs::path make_dataset(const fs::path& root, int n, int threads) {
  const fs::path raw = root / "raw";
  synth::SynthOptions so;
  so.out = raw;
  so.per_class = (n + 4) / 5;
  so.sizes = {512, 300};
  so.seed = 1;
  so.test_image = false;
  set_threads(threads);
  synth::SynthSummary sum = synth::write_dataset(synth::builtin_classes(), so);
  data::CocoOptions co;
  co.images_dir = raw / "images_raw";
  data::Coco coco = data::read_coco(raw / "coco_instances.json", co);
  data::CocoClasses cls = data::coco_classes(coco);
  auto rows = data::coco_label_rows(coco, cls);
  const fs::path img_dir = root / "ds" / "images" / "train", lab_dir = root / "ds" / "labels" / "train";
  fs::create_directories(img_dir);
  fs::create_directories(lab_dir);
  for (size_t i = 0; i < coco.images.size(); ++i) {
    const fs::path src = co.images_dir / coco.images[i].file_name;
    fs::rename(src, img_dir / src.filename());
    for (auto& r : rows[i]) r.cls = int((r.cls + 5 * int(i)) % kNc);
    data::write_yolo_rows(lab_dir / fs::path(src.filename()).replace_extension(".txt"), rows[i]);
  }
  data::DatasetYaml dy;
  dy.root = fs::absolute(root / "ds");
  dy.train = {"images/train"};
  for (int c = 0; c < kNc; ++c) dy.names.push_back(str("class", c));
  const fs::path yaml = root / "ds" / "dataset.yaml";
  data::write_dataset_yaml(yaml, dy);
  fs::remove_all(raw);
  std::printf("synthetic data set: %d images (%d boxes) rendered in %.1f s -> %s\n", sum.images,
              sum.annotations, sum.seconds, yaml.string().c_str());
  return yaml;
}

// Sets o.bf16 where the options struct has that member (it arrived with the bf16 path).
template <class O>
void set_bf16(O& o, bool v) {
  if constexpr (requires { o.bf16 = v; }) o.bf16 = v;
  else (void)v;
}
ops::Precision precision(bool bf16) { return bf16 ? ops::Precision::bf16 : ops::Precision::fp32; }

// The Trainer flushes denormals to zero on its compute threads when the library has
// FlushDenormalsGuard (core/parallel.hpp); the profile does what the Trainer does. Declared
// here so this file also builds against a library without it (then the guard is a no-op).
template <class G, class = void>
struct IsComplete : std::false_type {};
template <class G>
struct IsComplete<G, std::void_t<decltype(sizeof(G))>> : std::true_type {};
template <class G, bool = IsComplete<G>::value>
struct MaybeFtz {
  G guard;
  static constexpr bool active = true;
};
template <class G>
struct MaybeFtz<G, false> {
  static constexpr bool active = false;
};

// The Trainer's loader options (train/trainer.hpp), for the profile and the peer.
data::LoaderOptions trainer_loader_options(const train::Hyp& h) {
  data::LoaderOptions lo;
  lo.imgsz = kImg;
  lo.batch = kBatch;
  lo.augment = true;
  lo.hyp = train::augment_hyp(h);
  lo.workers = std::min(8, std::max(1, int(std::thread::hardware_concurrency())));
  lo.shuffle = true;
  lo.rect_pad = 0.f;
  lo.seed = 0;
  lo.stride = 32;
  return lo;
}

// A val-style batch of `b` images (letterboxed, no augmentation) for the eval forward.
Tensor<float> eval_batch(const fs::path& yaml, int b) {
  data::Dataset ds = data::load_yolo_split(data::read_dataset_yaml(yaml), "train");
  data::LoaderOptions lo;
  lo.imgsz = kImg, lo.batch = b, lo.workers = 0;
  data::Loader loader(ds, lo);
  loader.start_epoch(0);
  data::Batch batch;
  YOLITE_CHECK(loader.next(batch) && batch.images.size(0) == b, yaml.string(),
               ": could not build an eval batch of ", b, " images");
  return batch.images;
}

// The first square image of the data set (letterboxed to 320x320 by detect()).
Image detect_image(const fs::path& yaml) {
  data::Dataset ds = data::load_yolo_split(data::read_dataset_yaml(yaml), "train");
  for (auto& s : ds.samples) {
    Image im = data::load_image(s.image_path);
    if (im.w == im.h) return im;
  }
  fail(yaml.string(), ": no square image for the detect benchmark");
}

// Train-loop timing windows from the callback timestamps: t[i] = end of batch i+1.
std::vector<double> windows_img_s(const std::vector<double>& t_ms, int warmup, int steps, int runs) {
  std::vector<double> out;
  for (int r = 0; r < runs; ++r) {
    const size_t a = size_t(warmup + r * steps) - 1, b = size_t(warmup + (r + 1) * steps) - 1;
    if (b >= t_ms.size()) break;
    out.push_back(1000.0 * kBatch * steps / (t_ms[b] - t_ms[a]));
  }
  return out;
}

// ---- profile: one training step from the Trainer's pieces, with timers --------------------------
struct Profile {
  std::map<std::string, double> ms;  // accumulated per phase
  std::vector<std::string> order;
  void add(const std::string& k, double v) {
    if (!ms.count(k)) order.push_back(k);
    ms[k] += v;
  }
};

class ProfiledStep {
 public:
  ProfiledStep(model::YoloModel& m, Profile& p) : m_(m), p_(p) {}

  // forward_raw of model/yolo.hpp, layer by layer, timing each operation by type; remembers
  // which graph node each operation made so backward() can charge its gradient to the type.
  std::vector<Var<float>> forward(const Var<float>& x) {
    const auto& layers = m_.layers();
    std::vector<Var<float>> outs(layers.size());
    for (size_t i = 0; i < layers.size(); ++i) {
      const auto& L = layers[i];
      std::vector<Var<float>> in;
      for (int r : L.inputs) in.push_back(r < 0 ? x : outs[size_t(r)]);
      nn::Module<float>* mod = L.module.get();
      if (mod == &m_.detect()) {
        auto t0 = Clock::now();
        auto raw = m_.detect().forward_raw(in);
        p_.add("fwd Detect 1x1 conv", ms_since(t0));
        for (auto& v : raw) tag(v, "Detect 1x1 conv");
        return raw;
      }
      if (auto* c = dynamic_cast<nn::Conv<float>*>(mod)) outs[i] = conv(*c, in[0], i == 0);
      else if (auto* c3 = dynamic_cast<nn::C3<float>*>(mod)) outs[i] = c3_forward(*c3, in[0]);
      else if (auto* sp = dynamic_cast<nn::SPPF<float>*>(mod)) outs[i] = sppf(*sp, in[0]);
      else if (dynamic_cast<nn::Upsample<float>*>(mod)) outs[i] = timed("upsample", [&] { return mod->forward(in[0]); });
      else if (dynamic_cast<nn::Concat<float>*>(mod)) outs[i] = timed("concat", [&] { return mod->forward_multi(in); });
      else outs[i] = timed(L.block, [&] { return mod->forward_multi(in); });
    }
    fail("profile: the model has no Detect layer");
  }

  // Var::backward() of autograd/variable.hpp with each node's backward timed by its type.
  void backward(Var<float>& loss) {
    std::vector<std::shared_ptr<Node<float>>> order;
    std::unordered_set<Node<float>*> seen;
    std::vector<std::pair<std::shared_ptr<Node<float>>, size_t>> stack{{loss.node(), 0}};
    seen.insert(loss.node().get());
    while (!stack.empty()) {
      auto& [n, next] = stack.back();
      if (next < n->parents.size()) {
        auto p = n->parents[next++];
        if (p->requires_grad && seen.insert(p.get()).second) stack.push_back({p, 0});
      } else {
        order.push_back(n);
        stack.pop_back();
      }
    }
    loss.node()->grad_buf()[0] += 1.f;
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      Node<float>& n = **it;
      if (n.is_leaf()) continue;
      if (n.grad.defined()) {
        auto t0 = Clock::now();
        n.backward_fn(n);
        auto f = tags_.find(&n);
        p_.add("bwd " + (f != tags_.end() ? f->second : std::string(n.op)), ms_since(t0));
      }
      n.grad = Tensor<float>();
      n.backward_fn = nullptr;
      n.parents.clear();
    }
    tags_.clear();
  }

 private:
  void tag(const Var<float>& v, const std::string& what) {
    if (v.defined() && v.requires_grad()) tags_[v.node().get()] = what;
  }
  template <class F>
  Var<float> timed(const std::string& what, F&& f) {
    auto t0 = Clock::now();
    Var<float> y = f();
    p_.add("fwd " + what, ms_since(t0));
    tag(y, what);
    return y;
  }
  Var<float> conv(nn::Conv<float>& c, const Var<float>& x, bool stem = false) {
    Var<float> y = timed(stem ? "conv (stem 6x6)" : c.conv->k == 3 ? "conv 3x3" : "conv 1x1",
                         [&] { return c.conv->forward(x); });
    return timed("BN + SiLU (fused)", [&] { return c.bn_silu(y); });
  }
  Var<float> c3_forward(nn::C3<float>& c3, const Var<float>& x) {
    Var<float> y = conv(*c3.cv1, x);
    for (size_t j = 0; j < c3.m->size(); ++j) {
      auto* b = dynamic_cast<nn::Bottleneck<float>*>(c3.m->ptr(j).get());
      YOLITE_CHECK(b, "profile: C3 holds something other than Bottlenecks");
      Var<float> z = conv(*b->cv2, conv(*b->cv1, y));
      y = b->add ? timed("residual add", [&] { return ag::add(y, z); }) : z;
    }
    Var<float> y2 = conv(*c3.cv2, x);
    Var<float> cat = timed("concat", [&] { return ag::concat(std::vector<Var<float>>{y, y2}); });
    return conv(*c3.cv3, cat);
  }
  Var<float> sppf(nn::SPPF<float>& s, const Var<float>& x) {
    Var<float> a = conv(*s.cv1, x);
    const int k = s.k;
    Var<float> y1 = timed("max pool", [&] { return ag::max_pool2d(a, k, 1, k / 2); });
    Var<float> y2 = timed("max pool", [&] { return ag::max_pool2d(y1, k, 1, k / 2); });
    Var<float> y3 = timed("max pool", [&] { return ag::max_pool2d(y2, k, 1, k / 2); });
    Var<float> cat = timed("concat", [&] { return ag::concat(std::vector<Var<float>>{a, y1, y2, y3}); });
    return conv(*s.cv2, cat);
  }

  model::YoloModel& m_;
  Profile& p_;
  std::unordered_map<Node<float>*, std::string> tags_;
};

// The Trainer's step (train/trainer.hpp), piece by piece, for `steps` batches after one warm-up
// batch. Returns the per-step mean of every phase in ms; also checks that the profiled forward
// gives the same loss as the library's own forward on the first batch.
Profile profile_training(const std::string& scale, const fs::path& yaml, int steps, Results& res) {
  train::Hyp hyp = train::load_hyp("hyp.scratch-low.yaml");
  data::Dataset ds = data::load_yolo_split(data::read_dataset_yaml(yaml), "train");
  auto model = std::make_shared<model::YoloModel>(model::yolov5_spec("yolov5" + scale), kNc, 0);
  model->train();
  optim::NamedParams<float> params;
  for (auto& [n, v] : model->named_parameters()) {
    v.set_requires_grad(true);
    params.emplace_back(n, v);
  }
  const int nbs = 64;
  const int64_t accumulate_nominal = optim::accumulate_steps(kBatch, nbs);
  hyp.weight_decay *= double(kBatch) * double(accumulate_nominal) / nbs;
  auto groups = optim::yolo_param_groups(params, hyp.lr0, hyp.momentum, hyp.weight_decay);
  optim::SGD<float> opt(groups, /*nesterov=*/true);
  optim::LrLambda lf = optim::linear_lr(100, hyp.lrf);
  optim::set_epoch_lr(opt.groups(), lf, 0);
  optim::ModelEMA<float> ema(model->state_dict());
  loss::LossConfig lc;
  lc.box = hyp.box, lc.obj = hyp.obj, lc.cls = hyp.cls, lc.cls_pw = hyp.cls_pw,
  lc.obj_pw = hyp.obj_pw, lc.anchor_t = hyp.anchor_t, lc.fl_gamma = hyp.fl_gamma;
  lc = loss::scale_loss_gains(lc, kNc, int(model->stride().size()), kImg);
  const loss::AnchorSet anchors = train::anchor_set(*model);
  data::Loader loader(ds, trainer_loader_options(hyp));
  const int64_t nb = loader.num_batches();
  const int64_t nw = optim::warmup_iterations(nb, hyp.warmup_epochs);
  optim::WarmupHyp wh;
  wh.warmup_bias_lr = hyp.warmup_bias_lr, wh.warmup_momentum = hyp.warmup_momentum;
  wh.momentum = hyp.momentum, wh.nbs = nbs;
  loader.start_epoch(0);
  MaybeFtz<FlushDenormalsGuard> ftz;
  res.set("profile_ftz", ftz.active ? "yes" : "no");

  Profile prof, scratch;
  int64_t last_opt_step = -1, opt_steps = 0;
  double max_loss_diff = 0;
  data::Batch b;
  for (int64_t ni = 0; ni <= steps; ++ni) {
    Profile& p = ni == 0 ? scratch : prof;  // batch 0: warm-up (scratch buffers grow)
    ProfiledStep ps(*model, p);
    auto t0 = Clock::now();
    YOLITE_CHECK(loader.next(b), "profile: the data set ran out of batches (", nb, ")");
    p.add("data loading (wait for the loader)", ms_since(t0));
    auto w = optim::warmup(ni, nw, 0, lf, opt.groups(), wh, kBatch);
    optim::apply_warmup(w, opt.groups());
    if (ni == 0) {  // the profiled forward must compute what the library's forward computes
      NoGradGuard ng;
      auto ref = loss::yolo_loss<float>(model->forward_raw(Var<float>(b.images)), b.targets, anchors,
                                        model->stride(), lc);
      auto mine = loss::yolo_loss<float>(ps.forward(Var<float>(b.images)), b.targets, anchors,
                                         model->stride(), lc);
      max_loss_diff = std::abs(double(ref.total.value()[0]) - double(mine.total.value()[0]));
      res.set("profile_check_loss", double(ref.total.value()[0]));
    }
    auto raw = ps.forward(Var<float>(b.images));
    t0 = Clock::now();
    auto out = loss::yolo_loss<float>(raw, b.targets, anchors, model->stride(), lc);
    p.add("loss forward (build_targets, CIoU, BCE)", ms_since(t0));
    raw.clear();
    ps.backward(out.total);
    if (ni - last_opt_step >= w.accumulate) {
      t0 = Clock::now();
      optim::clip_grad_norm(params, 10.0);
      opt.step();
      opt.zero_grad();
      p.add("optimizer (clip_grad_norm + SGD + zero_grad)", ms_since(t0));
      t0 = Clock::now();
      ema.update(model->state_dict());
      p.add("EMA update", ms_since(t0));
      last_opt_step = ni;
      opt_steps += ni > 0;
    }
  }
  res.set("profile_steps", double(steps));
  res.set("profile_opt_steps", double(opt_steps));
  res.set("profile_loss_diff", max_loss_diff);
  for (auto& k : prof.order) prof.ms[k] /= steps;
  return prof;
}

// ---- workers ------------------------------------------------------------------------------------
void worker_ours(const Flags& f) {
  set_threads(f.threads);
  const std::string name = "yolov5" + f.model;
  Results res;
  res.set("load_before", loadavg());

  // train: the real Trainer, stopped after warmup + runs*steps batches
  {
    train::TrainOptions o;
    o.data = f.data;
    o.cfg = name;
    o.imgsz = kImg;
    o.batch = kBatch;
    o.epochs = 1;
    o.workers = 8;
    o.project = (fs::path(f.out).parent_path() / "runs").string();
    o.name = "ours_" + f.model;
    o.exist_ok = true;
    o.noval = true;
    o.nosave = true;
    o.plots = false;
    o.verbose = false;
    o.threads = f.threads;
    set_bf16(o, f.worker_bf16);
    ops::PrecisionGuard prec(precision(f.worker_bf16), "--bf16");
    res.set("precision", ops::precision_name(precision(f.worker_bf16)));
    train::Trainer t(o);
    std::vector<double> stamps, cpu_stamps;
    const int total = f.warmup + f.runs * f.steps;
    Clock::time_point t0 = Clock::now();
    std::vector<double> loads;
    t.callbacks.on_batch_end = [&](const train::BatchInfo& bi) {
      stamps.push_back(ms_since(t0));
      cpu_stamps.push_back(cpu_ms());
      if (int(bi.batch) % std::max(1, f.steps) == 0) loads.push_back(load1());
      if (int(stamps.size()) >= total) t.cancel();
    };
    train::TrainResult tr = t.run();
    YOLITE_CHECK(int(stamps.size()) >= total, f.data, ": the epoch had only ", stamps.size(),
                 " batches, need ", total, " (render more images)");
    (void)tr;
    auto ips = windows_img_s(stamps, f.warmup, f.steps, f.runs);
    res.set("train_img_s_runs", join(ips));
    res.set("train_img_s", median(ips));
    // the same windows in process CPU time / threads: what the step costs, whatever the load
    auto cps = windows_img_s(cpu_stamps, f.warmup, f.steps, f.runs);
    for (auto& v : cps) v *= f.threads;
    res.set("train_cpu_img_s", median(cps));
    res.set("train_load", median(loads));
    res.set("train_rss_mib", peak_rss_mib());
  }

  auto m = model::make_yolov5(f.model, kNc, 0);
  int64_t nparams = 0;
  for (auto& [n, v] : m->named_parameters()) nparams += v.value().numel();
  res.set("params", double(nparams));

  // eval forward, batch 8
  {
    Tensor<float> x = eval_batch(f.data, kEvalBatch);
    ops::PrecisionGuard prec(precision(f.worker_bf16), "--bf16");
    m->eval();
    std::vector<double> t, tc;
    for (int r = 0; r < f.runs + 1; ++r) {
      auto t0 = Clock::now();
      const double c0 = cpu_ms();
      Tensor<float> y = m->predict(x);
      if (r > 0) t.push_back(ms_since(t0) / kEvalBatch), tc.push_back((cpu_ms() - c0) / f.threads / kEvalBatch);
      YOLITE_CHECK(y.size(0) == kEvalBatch, "eval forward: unexpected output shape");
    }
    res.set("eval_ms_img_runs", join(t));
    res.set("eval_ms_img", median(t));
    res.set("eval_cpu_ms_img_runs", join(tc));
    res.set("eval_load", load1());
  }

  // detect latency, batch 1, through a checkpoint and the Detector
  {
    io::Checkpoint ck;
    for (auto& [n, t] : m->state_dict()) ck.add(n, t.clone());
    for (auto& [n, p] : m->int_buffers()) ck.add_int(n, *p);
    ck.meta["spec"] = model::spec_to_meta(m->spec());
    ck.meta["nc"] = kNc;
    ck.meta["names"] = m->names;
    ck.meta["producer"] = "bench_train_detect";
    io::save_checkpoint(f.ckpt, ck);
    DetectorOptions dopt;
    dopt.imgsz = kImg;
    set_bf16(dopt, f.worker_bf16);
    ops::PrecisionGuard prec(precision(f.worker_bf16), "--bf16");
    Detector det(f.ckpt, dopt);
    Image img = detect_image(f.data);
    std::vector<double> total, inf, tcpu;
    size_t ndet = 0;
    for (int r = 0; r < 2 * f.runs + 2; ++r) {
      DetectTiming dt;
      auto t0 = Clock::now();
      const double c0 = cpu_ms();
      auto d = det.detect(img, &dt);
      if (r >= 2) total.push_back(ms_since(t0)), inf.push_back(dt.inference), tcpu.push_back((cpu_ms() - c0) / f.threads);
      ndet = d.size();
    }
    res.set("detect_ms_runs", join(total));
    res.set("detect_ms", median(total));
    res.set("detect_cpu_ms_runs", join(tcpu));
    res.set("detect_inf_ms", median(inf));
    res.set("detect_boxes", double(ndet));
    res.set("detect_load", load1());
  }

  if (f.profile && !f.worker_bf16) {
    Profile p = profile_training(f.model, f.data, f.steps, res);
    std::string keys;
    for (auto& k : p.order) {
      std::string key = k;
      std::replace(key.begin(), key.end(), ' ', '_');
      res.set("prof:" + key, p.ms[k]);
    }
    res.set("profile_load", load1());
  }
  res.set("load_after", loadavg());
  res.save(f.out);
}

#if defined(YOLITE_HAVE_TORCH)
void worker_peer(const Flags& f) {
  set_threads(f.threads);  // the yolite loader and NMS
  torch::set_num_threads(f.threads);
  torch::manual_seed(0);
  Results res;
  res.set("load_before", loadavg());
  const char scale = f.model[0];
  torchyolo::YoloV5 net(scale, kNc);
  res.set("params", double(net->num_params()));

  // our initial weights (seed 0), so both sides start from the same network
  auto load_from = [&](const std::vector<std::pair<std::string, Tensor<float>>>& sd) {
    std::unordered_map<std::string, const Tensor<float>*> by;
    for (auto& [n, t] : sd) by[n] = &t;
    return net->load_state([&](const std::string& name, torch::Tensor& dst) {
      auto it = by.find(name);
      if (it == by.end()) return false;
      const Tensor<float>& src = *it->second;
      YOLITE_CHECK(src.numel() == dst.numel(), "peer: tensor ", name, " has ", src.numel(),
                   " values in yolite, ", dst.numel(), " in the libtorch model");
      dst.copy_(torch::from_blob(const_cast<float*>(src.data()), dst.sizes(), torch::kFloat));
      return true;
    });
  };
  {
    auto ours = model::make_yolov5(f.model, kNc, 0);
    const int n = load_from(ours->state_dict());
    res.set("init_tensors_loaded", double(n));
  }

  // train: the same loader and schedule as the Trainer
  {
    train::Hyp hyp = train::load_hyp("hyp.scratch-low.yaml");
    data::Dataset ds = data::load_yolo_split(data::read_dataset_yaml(f.data), "train");
    data::Loader loader(ds, trainer_loader_options(hyp));
    const int64_t nw = optim::warmup_iterations(loader.num_batches(), hyp.warmup_epochs);
    const int64_t acc_nominal = optim::accumulate_steps(kBatch, 64);
    auto opt = torchyolo::make_sgd(net, hyp.lr0, hyp.momentum,
                                   hyp.weight_decay * double(kBatch) * double(acc_nominal) / 64.0);
    torchyolo::ModelEMA ema(net);
    torchyolo::YoloLoss lossf(kNc, kImg, net->detect->anchors.clone());
    net->train();
    loader.start_epoch(0);
    const int total = f.warmup + f.runs * f.steps;
    std::vector<double> stamps, cpu_stamps, loads;
    int64_t last_opt_step = -1;
    auto t0 = Clock::now();
    data::Batch b;
    for (int64_t ni = 0; ni < total; ++ni) {
      YOLITE_CHECK(loader.next(b), f.data, ": the epoch ran out of batches for the peer");
      const int64_t accumulate =
          ni <= nw ? std::max<int64_t>(1, optim::py_round(optim::np_interp(double(ni), 0, double(nw), 1, 64.0 / kBatch)))
                   : acc_nominal;
      auto x = torch::from_blob(b.images.data(), {b.images.size(0), 3, kImg, kImg}, torch::kFloat);
      auto tg = torch::from_blob(b.targets.data(), {b.targets.size(0), 6}, torch::kFloat);
      auto out = lossf(net->forward(x), tg);
      out.total.backward();
      if (ni - last_opt_step >= accumulate) {
        torch::nn::utils::clip_grad_norm_(net->parameters(), 10.0);
        opt->step();
        opt->zero_grad();
        ema.update(net);
        last_opt_step = ni;
      }
      YOLITE_CHECK(std::isfinite(out.items[1]), "peer: loss is not finite at batch ", ni);
      stamps.push_back(ms_since(t0));
      cpu_stamps.push_back(cpu_ms());
      if ((ni + 1) % std::max(1, f.steps) == 0) loads.push_back(load1());
    }
    auto ips = windows_img_s(stamps, f.warmup, f.steps, f.runs);
    res.set("train_img_s_runs", join(ips));
    res.set("train_img_s", median(ips));
    // the same windows in process CPU time / threads: what the step costs, whatever the load
    auto cps = windows_img_s(cpu_stamps, f.warmup, f.steps, f.runs);
    for (auto& v : cps) v *= f.threads;
    res.set("train_cpu_img_s", median(cps));
    res.set("train_load", median(loads));
    res.set("train_rss_mib", peak_rss_mib());
  }

  // eval forward, batch 8 (eval mode, no grad, not fused)
  {
    torch::NoGradGuard ng;
    net->eval();
    Tensor<float> xb = eval_batch(f.data, kEvalBatch);
    auto x = torch::from_blob(xb.data(), {kEvalBatch, 3, kImg, kImg}, torch::kFloat);
    std::vector<double> t, tc;
    for (int r = 0; r < f.runs + 1; ++r) {
      auto t0 = Clock::now();
      const double c0 = cpu_ms();
      auto y = net->decode(net->forward(x));
      if (r > 0) t.push_back(ms_since(t0) / kEvalBatch), tc.push_back((cpu_ms() - c0) / f.threads / kEvalBatch);
    }
    res.set("eval_ms_img_runs", join(t));
    res.set("eval_ms_img", median(t));
    res.set("eval_cpu_ms_img_runs", join(tc));
    res.set("eval_load", load1());
  }

  // detect, batch 1: our checkpoint's weights, conv+BN fused; pre/post are yolite's code
  {
    torch::NoGradGuard ng;
    model::Weights w = model::read_weights(f.ckpt);
    const int n = load_from(w.state);
    res.set("detect_tensors_loaded", double(n));
    net->eval();
    Image img = detect_image(f.data);
    data::LetterboxOptions lo;
    lo.auto_pad = true;
    lo.stride = 32;
    // same network? compare with yolite's unfused eval output on this image
    {
      data::Letterboxed lb = data::letterbox(img, kImg, lo);
      Tensor<float> x = image_to_tensor(lb.image);
      auto ym = model::build_model(w)->predict(x);
      auto tx = torch::from_blob(x.data(), {1, 3, x.size(2), x.size(3)}, torch::kFloat);
      net->fuse();
      auto yt = net->decode(net->forward(tx)).contiguous();
      YOLITE_CHECK(yt.numel() == ym.numel(), "peer: decoded output has ", yt.numel(), " values, yolite ", ym.numel());
      double maxd = 0, maxv = 0;
      const float* p = yt.data_ptr<float>();
      for (int64_t i = 0; i < ym.numel(); ++i) {
        maxd = std::max(maxd, double(std::abs(p[i] - ym[i])));
        maxv = std::max(maxv, double(std::abs(ym[i])));
      }
      res.set("detect_max_abs_diff", maxd);
      res.set("detect_max_abs_value", maxv);
    }
    NmsOptions nopt;
    nopt.conf_thres = 0.25f, nopt.iou_thres = 0.45f, nopt.max_det = 1000;
    std::vector<double> total, inf, tcpu;
    size_t ndet = 0;
    for (int r = 0; r < 2 * f.runs + 2; ++r) {
      auto t0 = Clock::now();
      const double c0 = cpu_ms();
      data::Letterboxed lb = data::letterbox(img, kImg, lo);
      Tensor<float> x = image_to_tensor(lb.image);
      auto tx = torch::from_blob(x.data(), {1, 3, x.size(2), x.size(3)}, torch::kFloat);
      auto t1 = Clock::now();
      auto pred = net->decode(net->forward(tx)).contiguous();
      const double ti = ms_since(t1);
      auto dets = non_max_suppression(pred.data_ptr<float>(), pred.size(1), int(pred.size(2)), nopt);
      for (auto& d : dets) d = lb.info.to_original(d);
      if (r >= 2) total.push_back(ms_since(t0)), inf.push_back(ti), tcpu.push_back((cpu_ms() - c0) / f.threads);
      ndet = dets.size();
    }
    res.set("detect_ms_runs", join(total));
    res.set("detect_ms", median(total));
    res.set("detect_cpu_ms_runs", join(tcpu));
    res.set("detect_inf_ms", median(inf));
    res.set("detect_boxes", double(ndet));
    res.set("detect_load", load1());
  }
  res.set("load_after", loadavg());
  res.save(f.out);
}
#endif

// ---- orchestration ------------------------------------------------------------------------------
// Runs this program again as a worker; returns its results (throws naming the worker on failure).
Results run_worker(const Flags& f, const std::string& kind, const std::string& model,
                   const fs::path& yaml, const fs::path& dir, int round, bool profile, bool bf16 = false) {
  const std::string tag = kind + (bf16 ? "_bf16" : "");
  const std::string out = (dir / str(tag, "_", model, "_", round, ".txt")).string();
  const std::string ckpt = (dir / (tag == "ours_bf16" ? "ours_bf16_" + model + ".pt" : "ours_" + model + ".pt")).string();
  std::vector<std::string> args = {"/proc/self/exe", "--worker", kind, "--model", model, "--data",
                                   yaml.string(), "--out", out, "--ckpt", ckpt,
                                   "--steps", std::to_string(f.steps), "--warmup", std::to_string(f.warmup),
                                   "--runs", "1", "--threads", std::to_string(f.threads)};
  if (profile) args.push_back("--profile");
  if (bf16) args.push_back("--worker-bf16");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  const pid_t pid = fork();
  YOLITE_CHECK(pid >= 0, "fork failed: ", std::strerror(errno));
  if (pid == 0) {
    execv("/proc/self/exe", argv.data());
    std::fprintf(stderr, "execv /proc/self/exe failed: %s\n", std::strerror(errno));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  YOLITE_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "worker '", kind, " yolov5", model,
               "' failed (status ", status, "); its error is printed above");
  return Results::load(out);
}

// Flags through CLI11, as the yolite program reads its own. Throws CLI::ParseError (main turns it
// into CLI11's message and exit status) or yolite::Error (a bad --models list).
Flags parse(int argc, char** argv) {
  Flags f;
  CLI::App app{"training and detection throughput of yolite against libtorch, same machine, same run", "bench_train_detect"};
  std::string models = "n,s";
  app.add_option("--models", models, "comma list of n,s,m,l,x (default n,s)");
  app.add_option("--steps", f.steps, "timed steps per run (default 5)")->check(CLI::Range(1, 999999));
  app.add_option("--warmup", f.warmup, "untimed steps first (default 2)")->check(CLI::Range(1, 999999));
  app.add_option("--runs", f.runs, "runs; medians are printed (default 3)")->check(CLI::Range(1, 999999));
  app.add_option("--threads", f.threads, "compute threads (default 2)")->check(CLI::Range(1, 999999));
  bool no_peer = false;
  app.add_flag("--no-peer", no_peer, "skip libtorch");
  app.add_flag("--bf16", f.bf16, "also measure yolite in bf16");
  app.add_flag("--profile", f.profile, "print a per-stage profile of the training step");
  app.add_option("--keep", f.keep, "keep the data set and checkpoints in this folder");
  // worker mode: the benchmark re-runs itself once per measurement (fresh process, fresh RSS)
  app.add_option("--worker", f.worker, "(internal) ours or peer")->group("");
  app.add_flag("--worker-bf16", f.worker_bf16, "(internal) run yolite in bf16")->group("");
  app.add_option("--model", f.model, "(internal)")->group("");
  app.add_option("--data", f.data, "(internal)")->group("");
  app.add_option("--out", f.out, "(internal)")->group("");
  app.add_option("--ckpt", f.ckpt, "(internal)")->group("");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e));  // --help, or CLI11's message for a bad flag
  }
  f.peer = !no_peer;
  f.models.clear();
  std::stringstream ss(models);
  std::string m;
  while (std::getline(ss, m, ',')) {
    if (m.rfind("yolov5", 0) == 0) m = m.substr(6);
    YOLITE_CHECK(m == "n" || m == "s" || m == "m" || m == "l" || m == "x", "--models: expected a list of n,s,m,l,x, got '",
                 m, "'");
    f.models.push_back(m);
  }
  YOLITE_CHECK(!f.models.empty(), "--models: empty list");
  return f;
}

void print_profile(const Results& r, const std::string& model, double step_ms) {
  std::vector<std::pair<std::string, double>> rows;
  double sum = 0;
  for (auto& k : r.order)
    if (k.rfind("prof:", 0) == 0) {
      std::string name = k.substr(5);
      std::replace(name.begin(), name.end(), '_', ' ');
      rows.emplace_back(name, r.num(k));
      sum += r.num(k);
    }
  if (rows.empty()) return;
  std::printf("\nprofile yolov5%s fp32 b16 320: mean of %g steps (%g optimizer steps), load %.2f; "
              "profiled forward loss = library forward loss (|diff| %.3g)\n",
              model.c_str(), r.num("profile_steps"), r.num("profile_opt_steps"), r.num("profile_load"),
              r.num("profile_loss_diff"));
  // group: data, forward, loss, backward, optimizer+EMA
  std::map<std::string, double> group;
  for (auto& [k, v] : rows) {
    std::string g = k.rfind("fwd ", 0) == 0 ? "forward" : k.rfind("bwd ", 0) == 0 ? "backward"
                    : k.rfind("data", 0) == 0 ? "data loading" : k.rfind("loss", 0) == 0 ? "loss"
                                                                                         : "optimizer + EMA";
    group[g] += v;
  }
  std::printf("  %-48s %9s %6s\n", "phase", "ms/step", "share");
  for (const char* g : {"data loading", "forward", "loss", "backward", "optimizer + EMA"})
    std::printf("  %-48s %9.1f %5.1f%%\n", g, group[g], 100 * group[g] / sum);
  std::printf("  %-48s %9.1f        (Trainer step, same child: %.1f ms)\n", "sum", sum, step_ms);
  std::sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.second > b.second; });
  std::printf("  by operation:\n");
  for (auto& [k, v] : rows) std::printf("    %-46s %9.1f %5.1f%%\n", k.c_str(), v, 100 * v / sum);
}

int orchestrate(const Flags& f) {
#if defined(YOLITE_HAVE_TORCH)
  const bool have_torch = true;
#else
  const bool have_torch = false;
#endif
  const bool peer = f.peer && have_torch;
  std::printf("bench_train_detect: yolite training / eval / detect at %d px vs %s\n", kImg,
              peer ? "a libtorch C++ YOLOv5 (benchmarks/torch_yolov5.hpp)" : "no peer");
#if defined(YOLITE_HAVE_TORCH)
  std::printf("libtorch %s (%s)\n", kTorchVersion, peer ? "peer" : "not used: --no-peer");
#else
  std::printf("built without libtorch: no peer\n");
#endif
  std::printf("threads %d, batch %d, steps %d per run, %d runs, %d warm-up batches; nproc %u; load %s\n",
              f.threads, kBatch, f.steps, f.runs, f.warmup, std::thread::hardware_concurrency(),
              loadavg().c_str());
  const fs::path dir = f.keep.empty() ? fs::temp_directory_path() / str("yolite_bench_td_", ::getpid())
                                      : fs::path(f.keep);
  fs::create_directories(dir);
  struct Cleanup {
    fs::path d;
    bool keep;
    ~Cleanup() {
      std::error_code ec;
      if (!keep) fs::remove_all(d, ec);
    }
  } cleanup{dir, !f.keep.empty()};
  const int nimg = kBatch * (f.warmup + std::max(f.steps, f.profile ? f.steps + 1 : 0)) + kBatch;
  const fs::path yaml = make_dataset(dir, nimg, f.threads);

  // Rounds: every round runs each side once per model in its own process (warm-up batches, then
  // one run of --steps batches, one eval and two detect timings); the side that goes first
  // alternates from round to round, so a change of load hits both alike. Figures are medians
  // over the rounds.
  struct Side {
    std::map<std::string, std::vector<double>> v;  // per key, one value per round (lists: all)
    Results last, profile;
    double rss = 0;
    void add(const Results& r) {
      for (const char* k : {"train_img_s", "train_cpu_img_s", "train_load", "eval_load", "detect_load", "detect_inf_ms"})
        if (r.has(k)) v[k].push_back(r.num(k));
      for (const char* k : {"eval_ms_img_runs", "detect_ms_runs", "eval_cpu_ms_img_runs", "detect_cpu_ms_runs"}) {
        std::stringstream ss(r.str(k));
        double x;
        while (ss >> x) v[k].push_back(x);
      }
      rss = std::max(rss, r.num("train_rss_mib"));
      last = r;
      if (r.has("profile_steps")) profile = r;
    }
    double med(const std::string& k) const {
      auto it = v.find(k);
      return it == v.end() ? 0.0 : median(it->second);
    }
    std::string list(const std::string& k) const {
      auto it = v.find(k);
      return it == v.end() ? "" : join(it->second);
    }
  };
  struct Row {
    std::string model;
    Side ours, peer, bf16;
  };
  std::vector<Row> rows;
  for (auto& m : f.models) rows.push_back(Row{m, {}, {}, {}});
  bool bf16_ok = f.bf16 && ops::bf16::cpu_supported();
  auto report = [&](const char* who, const std::string& m, int round, const Results& r) {
    std::printf("[yolov5%s round %d] %-6s train %6.2f img/s, eval %7.2f ms/img, detect %7.2f ms (inference %.2f), "
                "peak RSS %5.0f MiB; load %s -> %s\n",
                m.c_str(), round + 1, who, r.num("train_img_s"), r.num("eval_ms_img"), r.num("detect_ms"),
                r.num("detect_inf_ms"), r.num("train_rss_mib"), r.str("load_before").c_str(),
                r.str("load_after").c_str());
    std::fflush(stdout);
  };
  for (int round = 0; round < f.runs; ++round)
    for (auto& row : rows) {
      const std::string& m = row.model;
      const bool ours_first = round % 2 == 0 || !peer;  // round 0: ours first (writes the checkpoint)
      for (int side = 0; side < (peer ? 2 : 1); ++side) {
        const bool is_ours = (side == 0) == ours_first;
        Results r = run_worker(f, is_ours ? "ours" : "peer", m, yaml, dir, round, is_ours && f.profile && round == 0);
        report(is_ours ? "yolite" : "peer", m, round, r);
        (is_ours ? row.ours : row.peer).add(r);
      }
      if (bf16_ok) {
        Results r = run_worker(f, "ours", m, yaml, dir, round, false, true);
        report("bf16", m, round, r);
        row.bf16.add(r);
      }
    }
  for (auto& r : rows) {
    const std::string& m = r.model;
    std::printf("\n[yolov5%s] yolite: train img/s per round %s; eval ms/img %s; detect ms %s\n", m.c_str(),
                r.ours.list("train_img_s").c_str(), r.ours.list("eval_ms_img_runs").c_str(),
                r.ours.list("detect_ms_runs").c_str());
    if (peer) {
      std::printf("[yolov5%s] peer:   train img/s per round %s; eval ms/img %s; detect ms %s\n", m.c_str(),
                  r.peer.list("train_img_s").c_str(), r.peer.list("eval_ms_img_runs").c_str(),
                  r.peer.list("detect_ms_runs").c_str());
      std::printf("[yolov5%s] parameters: yolite %.0f, peer %.0f (%s); peer output vs yolite on the detect image: "
                  "max |diff| %.3g (values up to %.3g; %g tensors loaded); boxes after NMS: yolite %g, peer %g\n",
                  m.c_str(), r.ours.last.num("params"), r.peer.last.num("params"),
                  r.ours.last.num("params") == r.peer.last.num("params") ? "equal" : "DIFFERENT",
                  r.peer.last.num("detect_max_abs_diff"), r.peer.last.num("detect_max_abs_value"),
                  r.peer.last.num("detect_tensors_loaded"), r.ours.last.num("detect_boxes"),
                  r.peer.last.num("detect_boxes"));
    } else {
      std::printf("[yolov5%s] parameters: yolite %.0f\n", m.c_str(), r.ours.last.num("params"));
    }
    if (f.profile) print_profile(r.ours.profile, m, 1000.0 * kBatch / std::max(1e-9, r.ours.med("train_img_s")));
  }

  std::printf("\npeer: %s%s\n", peer ? "libtorch " : "none (--no-peer, or built without libtorch)",
              peer ? kTorchVersion : "");
  if (peer)
    std::printf("  %s\n", "C++ model of YOLOv5 v7.0 n/s (same architecture and parameter count), "
                     "YOLOv5 ComputeLoss in libtorch ops, SGD nesterov 3 groups + clip_grad_norm_(10) + EMA, same "
                     "yolite loader; detect fused conv+BN");
  if (f.bf16 && !bf16_ok) std::printf("bf16: not available on this CPU (no AVX512_BF16): no bf16 figures\n");
  if (bf16_ok) std::printf("bf16 lines: yolite with bf16 convolutions (fp32 accumulation, fp32 master weights) vs the fp32 peer\n");
  std::printf("load average at the end: %s\n\n", loadavg().c_str());
  auto line = [&](const char* what, const std::string& m, const char* cond, double ours, double peer_v,
                  const char* unit, const char* prec = "fp32") {
    if (peer && peer_v > 0)
      std::printf("%s yolov5%s %s %s: %.1f %s, peer %.1f %s, ratio %.2f\n", what, m.c_str(), prec, cond, ours, unit,
                  peer_v, unit, ours / peer_v);
    else
      std::printf("%s yolov5%s %s %s: %.1f %s, peer n/a, ratio n/a\n", what, m.c_str(), prec, cond, ours, unit);
  };
  std::string loads;
  auto f1 = [](double x) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f", x);
    return std::string(b);
  };
  for (auto& r : rows) {
    loads += " train yolov5" + r.model + " " + f1(r.ours.med("train_load")) + "/" + f1(r.peer.med("train_load")) + ",";
    loads += " eval " + f1(r.ours.med("eval_load")) + "/" + f1(r.peer.med("eval_load")) + ",";
    loads += " detect " + f1(r.ours.med("detect_load")) + "/" + f1(r.peer.med("detect_load")) + ";";
  }
  std::printf("1-min load average during each figure (yolite/peer, median of rounds):%s\n"
              "medians of %d rounds; ratio = yolite / peer (train: higher is better; eval, detect, RSS: lower is better)\n",
              loads.c_str(), f.runs);
  for (auto& r : rows) {
    line("train", r.model, "b16 320", r.ours.med("train_img_s"), r.peer.med("train_img_s"), "img/s");
    line("eval", r.model, "b8 320", r.ours.med("eval_ms_img_runs"), r.peer.med("eval_ms_img_runs"), "ms/img");
    line("detect", r.model, "b1 320", r.ours.med("detect_ms_runs"), r.peer.med("detect_ms_runs"), "ms");
  }
  if (bf16_ok)
    for (auto& r : rows) {
      line("train", r.model, "b16 320", r.bf16.med("train_img_s"), r.peer.med("train_img_s"), "img/s", "bf16");
      line("eval", r.model, "b8 320", r.bf16.med("eval_ms_img_runs"), r.peer.med("eval_ms_img_runs"), "ms/img", "bf16");
      line("detect", r.model, "b1 320", r.bf16.med("detect_ms_runs"), r.peer.med("detect_ms_runs"), "ms", "bf16");
    }
  for (auto& r : rows)
    if (r.model == "s") {
      if (peer)
        std::printf("peak RSS train yolov5s b16 320: %.0f MiB, peer %.0f MiB, ratio %.2f\n", r.ours.rss, r.peer.rss,
                    r.ours.rss / r.peer.rss);
      else
        std::printf("peak RSS train yolov5s b16 320: %.0f MiB, peer n/a\n", r.ours.rss);
      if (bf16_ok) std::printf("peak RSS train yolov5s bf16 b16 320: %.0f MiB\n", r.bf16.rss);
    }
  std::printf("\nthe same figures in process CPU time / threads (all threads of the process, loader and "
              "spinning waits included; less sensitive to other processes' load than the wall clock):\n");
  for (auto& r : rows) {
    line("cpu-time train", r.model, "b16 320", r.ours.med("train_cpu_img_s"), r.peer.med("train_cpu_img_s"), "img/s");
    line("cpu-time eval", r.model, "b8 320", r.ours.med("eval_cpu_ms_img_runs"), r.peer.med("eval_cpu_ms_img_runs"), "ms/img");
    line("cpu-time detect", r.model, "b1 320", r.ours.med("detect_cpu_ms_runs"), r.peer.med("detect_cpu_ms_runs"), "ms");
    if (bf16_ok) {
      line("cpu-time train", r.model, "b16 320", r.bf16.med("train_cpu_img_s"), r.peer.med("train_cpu_img_s"), "img/s", "bf16");
      line("cpu-time eval", r.model, "b8 320", r.bf16.med("eval_cpu_ms_img_runs"), r.peer.med("eval_cpu_ms_img_runs"), "ms/img", "bf16");
      line("cpu-time detect", r.model, "b1 320", r.bf16.med("detect_cpu_ms_runs"), r.peer.med("detect_cpu_ms_runs"), "ms", "bf16");
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Flags f = parse(argc, argv);
    if (f.worker.empty()) return orchestrate(f);
    YOLITE_CHECK(!f.model.empty() && !f.data.empty() && !f.out.empty() && !f.ckpt.empty(),
                 "--worker needs --model, --data, --out and --ckpt");
    if (f.worker == "ours") {
      worker_ours(f);
      return 0;
    }
#if defined(YOLITE_HAVE_TORCH)
    if (f.worker == "peer") {
      worker_peer(f);
      return 0;
    }
#endif
    fail("--worker: unknown kind '", f.worker, "'");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_train_detect: %s\n", e.what());
    return 1;
  }
}
