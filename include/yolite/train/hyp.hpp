// train/hyp.hpp -- training hyperparameters, YOLOv5's hyp.*.yaml files.
//
//   train::Hyp h = train::load_hyp("hyp.scratch-low.yaml");  // built-in name, or a path
//   h.lr0 = 0.02;
//   std::string text = train::hyp_to_yaml(h);                // what runs/train/NAME/hyp.yaml holds
//
// The three built-in files of YOLOv5 v7.0 (data/hyps/) resolve by name without any file on
// disk: hyp.scratch-low.yaml (the default; small models), hyp.scratch-med.yaml and
// hyp.scratch-high.yaml (larger models: stronger scale jitter, mixup, copy-paste). A path to a
// yaml with the same keys works too; a key that yolite does not know is an error naming the
// file and line (so a typo cannot silently fall back to a default).
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "../data/yaml.hpp"

namespace yolite::train {

struct Hyp {
  double lr0 = 0.01;             // initial learning rate (SGD 1e-2, Adam 1e-3)
  double lrf = 0.01;             // final learning rate = lr0 * lrf
  double momentum = 0.937;       // SGD momentum / Adam beta1
  double weight_decay = 0.0005;  // conv weights only (scaled by batch*accumulate/64)
  double warmup_epochs = 3.0;    // fractions allowed
  double warmup_momentum = 0.8;
  double warmup_bias_lr = 0.1;
  double box = 0.05;             // box loss gain
  double cls = 0.5;              // class loss gain
  double cls_pw = 1.0;           // class BCE positive weight
  double obj = 1.0;              // objectness loss gain (scales with pixels)
  double obj_pw = 1.0;           // objectness BCE positive weight
  double iou_t = 0.20;           // IoU training threshold (unused by v5's loss; kept for files)
  double anchor_t = 4.0;         // anchor-multiple threshold of the target assignment
  double fl_gamma = 0.0;         // focal loss gamma (0 = plain BCE)
  double hsv_h = 0.015, hsv_s = 0.7, hsv_v = 0.4;  // HSV augmentation (fractions)
  double degrees = 0.0, translate = 0.1, scale = 0.5, shear = 0.0, perspective = 0.0;
  double flipud = 0.0, fliplr = 0.5;               // flip probabilities
  double mosaic = 1.0, mixup = 0.0, copy_paste = 0.0;  // probabilities
  // The EMA of the weights (optim/ema.hpp): decay at update u is ema_decay * (1 - exp(-u /
  // ema_tau)). Not keys of YOLOv5's files (its values are fixed there, and these are them); a
  // short fine-tune wants a shorter ramp and horizon: with tau 2000, after 2,000 updates the
  // average spans only ~3 steps.
  double ema_decay = 0.9999, ema_tau = 2000.0;

  // Every field with its yaml key, in YOLOv5's order (for reading, writing and printing).
  template <class F>
  void for_each(F&& f) {
    f("lr0", lr0), f("lrf", lrf), f("momentum", momentum), f("weight_decay", weight_decay);
    f("warmup_epochs", warmup_epochs), f("warmup_momentum", warmup_momentum);
    f("warmup_bias_lr", warmup_bias_lr), f("box", box), f("cls", cls), f("cls_pw", cls_pw);
    f("obj", obj), f("obj_pw", obj_pw), f("iou_t", iou_t), f("anchor_t", anchor_t);
    f("fl_gamma", fl_gamma), f("hsv_h", hsv_h), f("hsv_s", hsv_s), f("hsv_v", hsv_v);
    f("degrees", degrees), f("translate", translate), f("scale", scale), f("shear", shear);
    f("perspective", perspective), f("flipud", flipud), f("fliplr", fliplr);
    f("mosaic", mosaic), f("mixup", mixup), f("copy_paste", copy_paste);
    f("ema_decay", ema_decay), f("ema_tau", ema_tau);
  }
  template <class F>
  void for_each(F&& f) const {
    const_cast<Hyp*>(this)->for_each([&](const char* k, double& v) { f(k, static_cast<const double&>(v)); });
  }

  static Hyp scratch_low() { return Hyp{}; }
  static Hyp scratch_med() {
    Hyp h;
    h.lrf = 0.1, h.cls = 0.3, h.obj = 0.7, h.scale = 0.9, h.mixup = 0.1;
    return h;
  }
  static Hyp scratch_high() {
    Hyp h = scratch_med();
    h.copy_paste = 0.1;
    return h;
  }
};

// Fills a Hyp from a parsed yaml map; `source` names the file in errors.
inline Hyp hyp_from_yaml(const data::Yaml& y, const std::string& source) {
  YOLITE_CHECK(y.is_map(), source, ": a hyperparameter file must be a map of `key: number`");
  Hyp h;
  for (auto& entry : y.map()) {
    const auto& key = entry.first;  // not a structured binding: lambdas below use it (clang 14)
    const auto& val = entry.second;
    if (key == "anchors") continue;  // anchors per level: YOLOv5 allows it; yolite keeps 3
    bool known = false;
    h.for_each([&](const char* k, double& field) {
      if (key != k) return;
      known = true;
      YOLITE_CHECK(val.is_scalar(), source, ":", val.line(), ": ", key, " must be a number");
      field = val.num();
    });
    YOLITE_CHECK(known, source, ":", val.line(), ": unknown hyperparameter '", key, "'");
  }
  YOLITE_CHECK(h.ema_decay >= 0 && h.ema_decay <= 1, source, ": ema_decay must be in [0, 1], got ", h.ema_decay);
  YOLITE_CHECK(h.ema_tau > 0, source, ": ema_tau must be > 0, got ", h.ema_tau);
  return h;
}

// "hyp.scratch-low.yaml" (or -med, -high; with or without .yaml, with or without a data/hyps/
// prefix) -> the built-in values; anything else is read as a path.
inline Hyp load_hyp(const std::string& name_or_path) {
  std::string base = std::filesystem::path(name_or_path).filename().string();
  if (!std::filesystem::exists(name_or_path)) {
    if (base == "hyp.scratch-low.yaml" || base == "hyp.scratch-low" || base == "scratch-low")
      return Hyp::scratch_low();
    if (base == "hyp.scratch-med.yaml" || base == "hyp.scratch-med" || base == "scratch-med")
      return Hyp::scratch_med();
    if (base == "hyp.scratch-high.yaml" || base == "hyp.scratch-high" || base == "scratch-high")
      return Hyp::scratch_high();
    fail("hyperparameter file '", name_or_path,
         "' not found (built-in: hyp.scratch-low.yaml, hyp.scratch-med.yaml, hyp.scratch-high.yaml)");
  }
  return hyp_from_yaml(data::read_yaml(name_or_path), name_or_path);
}

inline std::string hyp_to_yaml(const Hyp& h) {
  data::Yaml y = data::Yaml::mapping();
  h.for_each([&](const char* k, const double& v) { y.set(k, data::Yaml::number(v)); });
  return data::to_yaml(y);
}

}  // namespace yolite::train
