// model/weights.hpp -- a model from a weights file: yolite checkpoints and YOLOv5 .pt.
//
//   auto w = model::read_weights("runs/train/exp/weights/best.pt");   // either format
//   auto net = model::build_model(w);            // the architecture the file describes, loaded
//
// Training, validation and detection all load models through this (train/weights.hpp adds
// transfer learning and checkpoint stripping on top).
//
// A yolite checkpoint (io/checkpoint.hpp, safetensors inside whatever the file is called --
// best.pt keeps the tutorial's paths working) describes its own architecture in its metadata
// ("spec": layer table, multiples, anchors; "nc", "names"). A YOLOv5 .pt (a zip; io/torch_pt.hpp)
// is recognised by its first bytes; its network is rebuilt from the model yaml stored inside it
// (or, without one, from the built-in scale with the same depth and width multiples). For inference the EMA weights are used when the file has them, as YOLOv5's
// attempt_load does.
#pragma once
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/error.hpp"
#include "../io/checkpoint.hpp"
#include "../io/torch_pt.hpp"
#include "../model/cfg_yaml.hpp"
#include "../model/yolo.hpp"

namespace yolite::model {

struct Weights {
  std::string path;
  std::string format;  // "yolite" or "yolov5-pt"
  model::ModelSpec spec;
  int nc = 0;
  std::vector<std::string> names;
  std::vector<std::pair<std::string, Tensor<float>>> state;  // inference weights (EMA if any)
  std::vector<std::pair<std::string, int64_t>> ints;          // num_batches_tracked
  nlohmann::json meta;                                        // yolite: the checkpoint meta
};

// ---- model spec <-> json (what a checkpoint stores to rebuild its network) ------------------
inline nlohmann::json spec_to_meta(const model::ModelSpec& s) {
  nlohmann::json j;
  j["name"] = s.name;
  j["depth_multiple"] = s.depth_multiple;
  j["width_multiple"] = s.width_multiple;
  j["nc"] = s.nc;
  j["anchors"] = s.anchors;
  j["backbone_size"] = s.backbone_size;
  nlohmann::json layers = nlohmann::json::array();
  for (auto& L : s.layers) layers.push_back({{"from", L.from}, {"repeats", L.repeats}, {"block", L.block}, {"args", L.args}});
  j["layers"] = layers;
  return j;
}

inline model::ModelSpec spec_from_meta(const nlohmann::json& j, const std::string& source) {
  try {
    model::ModelSpec s;
    s.name = j.at("name").get<std::string>();
    s.depth_multiple = j.at("depth_multiple").get<double>();
    s.width_multiple = j.at("width_multiple").get<double>();
    s.nc = j.at("nc").get<int>();
    s.anchors = j.at("anchors").get<std::vector<std::vector<double>>>();
    s.backbone_size = j.at("backbone_size").get<size_t>();
    for (auto& L : j.at("layers")) {
      model::LayerSpec ls;
      ls.from = L.at("from").get<std::vector<int>>();
      ls.repeats = L.at("repeats").get<int>();
      ls.block = L.at("block").get<std::string>();
      ls.args = L.at("args").get<std::vector<std::string>>();
      s.layers.push_back(ls);
    }
    return s;
  } catch (const nlohmann::json::exception& e) {
    fail(source, ": the model description in the checkpoint is malformed: ", e.what());
  }
}

// ---- reading -----------------------------------------------------------------------------
inline bool is_zip_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char m[4] = {};
  f.read(m, 4);
  return f.gcount() == 4 && m[0] == 'P' && m[1] == 'K' && m[2] == 3 && m[3] == 4;
}

inline std::string missing_weights_help(const std::string& path) {
  return str("weights file '", path, "' not found. yolite cannot download: YOLOv5's released ",
             "checkpoints (yolov5n.pt ... yolov5x.pt) are published on the ultralytics/yolov5 ",
             "GitHub releases page -- copy one here to use it (yolite imports .pt files). Local ",
             "choices: --weights '' to train from scratch with --cfg yolov5n/s/m/l/x, or a ",
             "runs/train/NAME/weights/best.pt or last.pt of an earlier yolite run.");
}

inline Weights read_weights(const std::string& path) {
  YOLITE_CHECK(std::filesystem::exists(path), missing_weights_help(path));
  Weights w;
  w.path = path;
  if (is_zip_file(path)) {
    io::TorchCheckpoint ck = io::load_yolov5_pt(path);
    w.format = "yolov5-pt";
    if (!ck.yaml_text.empty() && !ck.yaml.is_object()) {  // a state-dict checkpoint with its yaml as text
      ck.yaml = model::parse_model_yaml(ck.yaml_text, path + " (the model yaml inside the checkpoint)");
      if (ck.yaml.contains("depth_multiple") && ck.yaml["depth_multiple"].is_number())
        ck.depth_multiple = ck.yaml["depth_multiple"].get<double>();
      if (ck.yaml.contains("width_multiple") && ck.yaml["width_multiple"].is_number())
        ck.width_multiple = ck.yaml["width_multiple"].get<double>();
    }
    char scale = 0;  // the built-in scale with the same multiples, if any
    for (char c : std::string("nsmlx")) {
      auto [d, wm] = model::yolov5_scale(c);
      if (std::abs(d - ck.depth_multiple) < 1e-6 && std::abs(wm - ck.width_multiple) < 1e-6) scale = c;
    }
    if (ck.yaml.is_object() && ck.yaml.contains("backbone") && ck.yaml.contains("head")) {
      // the model's own yaml dict (every YOLOv5 checkpoint has one): custom layer tables and
      // multiples work as long as every block is one yolite knows (model/cfg_yaml.hpp)
      std::string name = scale ? std::string("yolov5") + scale : std::filesystem::path(path).stem().string();
      w.spec = model::spec_from_json(ck.yaml, name, path + " (the model yaml inside the checkpoint)");
    } else {
      YOLITE_CHECK(scale, path, ": the checkpoint has no model yaml, and its depth_multiple ",
                   ck.depth_multiple, " / width_multiple ", ck.width_multiple,
                   " are not one of the built-in scales n/s/m/l/x");
      w.spec = model::yolov5_spec(std::string(1, scale));
    }
    if (!ck.anchors_px.empty()) {
      w.spec.anchors.clear();
      for (auto& lvl : ck.anchors_px) w.spec.anchors.emplace_back(lvl.begin(), lvl.end());
    }
    w.nc = ck.nc;
    w.spec.nc = ck.nc;
    w.names = ck.names;
    w.state = ck.state;
    for (auto& [n, v] : ck.int_buffers) w.ints.emplace_back(n, v);
    return w;
  }
  io::Checkpoint ck = io::load_checkpoint(path);
  w.format = "yolite";
  w.meta = ck.meta;
  YOLITE_CHECK(ck.meta.contains("spec") && ck.meta.contains("nc"), path,
               ": not a yolite model checkpoint (no model description in its metadata)");
  w.spec = spec_from_meta(ck.meta["spec"], path);
  w.nc = ck.meta["nc"].get<int>();
  if (ck.meta.contains("names")) w.names = ck.meta["names"].get<std::vector<std::string>>();
  bool has_ema = false;
  for (auto& [n, t] : ck.tensors) has_ema = has_ema || n.rfind("ema.", 0) == 0;
  const std::string prefix = has_ema ? "ema." : "";
  for (auto& [n, t] : ck.tensors) {
    if (has_ema && n.rfind(prefix, 0) == 0) w.state.emplace_back(n.substr(prefix.size()), t);
    if (!has_ema && n.rfind("model.", 0) == 0) w.state.emplace_back(n, t);
  }
  for (auto& [n, t] : ck.int_tensors)
    if (n.rfind("model.", 0) == 0 && t.numel() == 1) w.ints.emplace_back(n, t[0]);
  return w;
}

// The network the weights describe, with every tensor loaded (strict) and eval() mode.
inline std::shared_ptr<model::YoloModel> build_model(const Weights& w) {
  auto m = std::make_shared<model::YoloModel>(w.spec, w.nc);
  auto rep = m->load_state_dict(w.state, nn::LoadMode::transfer, w.ints);
  YOLITE_CHECK(rep.mismatched.empty() && rep.missing.empty(), w.path,
               ": weights do not fit the model they describe: ", rep.summary());
  if (!w.names.empty()) {
    YOLITE_CHECK(int(w.names.size()) == w.nc, w.path, ": ", w.names.size(), " class names for ",
                 w.nc, " classes");
    m->names = w.names;
  }
  m->eval();
  return m;
}

}  // namespace yolite::model
