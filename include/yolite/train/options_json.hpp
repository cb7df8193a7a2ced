// train/options_json.hpp -- TrainOptions to and from JSON, as opt.yaml and every training
// checkpoint store them (YOLOv5's key names), so --resume continues with the same options.
#pragma once
#include <nlohmann/json.hpp>

#include "options.hpp"

namespace yolite::train {

inline nlohmann::json to_json(const TrainOptions& o) {
  return {{"weights", o.weights},     {"cfg", o.cfg},
          {"data", o.data},           {"hyp", o.hyp},
          {"epochs", o.epochs},       {"batch_size", o.batch},
          {"imgsz", o.imgsz},         {"device", o.device},
          {"workers", o.workers},     {"project", o.project},
          {"name", o.name},           {"exist_ok", o.exist_ok},
          {"resume", o.resume},       {"freeze", o.freeze},
          {"optimizer", o.optimizer}, {"cos_lr", o.cos_lr},
          {"label_smoothing", o.label_smoothing}, {"patience", o.patience},
          {"save_period", o.save_period}, {"seed", o.seed},
          {"cache", o.cache},         {"noval", o.noval},
          {"nosave", o.nosave},       {"single_cls", o.single_cls},
          {"multi_scale", o.multi_scale}, {"rect", o.rect},
          {"threads", o.threads},     {"plots", o.plots}, {"tensorboard", o.tensorboard},
          {"bf16", o.bf16},           {"sync_bn", o.sync_bn}};
}

inline TrainOptions options_from_json(const nlohmann::json& j) {
  TrainOptions o;
  auto get = [&](const char* k, auto& field) {
    if (j.contains(k)) field = j.at(k).get<std::decay_t<decltype(field)>>();
  };
  get("weights", o.weights), get("cfg", o.cfg), get("data", o.data), get("hyp", o.hyp);
  get("epochs", o.epochs), get("batch_size", o.batch), get("imgsz", o.imgsz);
  get("device", o.device), get("workers", o.workers), get("project", o.project);
  get("name", o.name), get("exist_ok", o.exist_ok), get("freeze", o.freeze);
  get("optimizer", o.optimizer), get("cos_lr", o.cos_lr), get("label_smoothing", o.label_smoothing);
  get("patience", o.patience), get("save_period", o.save_period), get("seed", o.seed);
  get("cache", o.cache), get("noval", o.noval), get("nosave", o.nosave);
  get("single_cls", o.single_cls), get("multi_scale", o.multi_scale), get("rect", o.rect);
  get("threads", o.threads), get("plots", o.plots), get("bf16", o.bf16);
  get("tensorboard", o.tensorboard), get("sync_bn", o.sync_bn);
  return o;
}

}  // namespace yolite::train
