// train/weights.hpp -- what training does with weights files: transfer learning and stripping.
//
//   auto w = model::read_weights("yolov5s.pt");   // model/weights.hpp
//   train::transfer(*my_model, w);                // copy every tensor whose name and shape match
//   train::strip_checkpoint("last.pt", "best_stripped.pt");
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../io/checkpoint.hpp"
#include "../model/weights.hpp"
#include "../model/yolo.hpp"

namespace yolite::train {

// YOLOv5's strip_optimizer: keep only the inference weights of a training checkpoint (the EMA,
// renamed "model.*", or the model when there is no EMA), drop optimizer state and pending
// gradients; the result is not resumable. `out` may equal `in` (written to a temporary name, then
// renamed). Returns the number of tensors kept.
inline size_t strip_checkpoint(const std::string& in, const std::string& out) {
  YOLITE_CHECK(std::filesystem::exists(in), in, ": no such checkpoint");
  YOLITE_CHECK(!model::is_zip_file(in), in, ": a YOLOv5 .pt, not a yolite checkpoint (nothing to strip)");
  io::Checkpoint ck = io::load_checkpoint(in);
  bool has_ema = false;
  for (auto& [n, t] : ck.tensors) has_ema = has_ema || n.rfind("ema.", 0) == 0;
  io::Checkpoint res;
  for (auto& [n, t] : ck.tensors) {
    if (has_ema && n.rfind("ema.", 0) == 0) res.add(n.substr(4), t);
    if (!has_ema && n.rfind("model.", 0) == 0) res.add(n, t);
  }
  YOLITE_CHECK(!res.tensors.empty(), in, ": no model weights in this checkpoint");
  for (auto& [n, t] : ck.int_tensors)
    if (n.rfind("model.", 0) == 0) res.add_int(n, t);
  res.meta = ck.meta;
  res.meta["resumable"] = false;
  res.meta.erase("last_opt_step");
  io::save_checkpoint(out, res);
  return res.tensors.size();
}

// YOLOv5's transfer learning: copy every tensor whose name and shape match into `m`.
inline nn::LoadReport transfer(model::YoloModel& m, const model::Weights& w) {
  return m.load_state_dict(w.state, nn::LoadMode::transfer, w.ints);
}

}  // namespace yolite::train
