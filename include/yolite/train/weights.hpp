// train/weights.hpp -- what training does with weights files: transfer learning, stripping and
// averaging (model soups).
//
//   auto w = model::read_weights("yolov5s.pt");   // model/weights.hpp
//   train::transfer(*my_model, w);                // copy every tensor whose name and shape match
//   train::strip_checkpoint("last.pt", "best_stripped.pt");
//   train::average_checkpoints({"a/last.pt", "b/last.pt"}, "soup.pt");  // a model soup
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/error.hpp"
#include "../io/checkpoint.hpp"
#include "../model/weights.hpp"
#include "../model/yolo.hpp"

namespace yolite::train {

namespace detail {
// The inference weights of a yolite checkpoint: the EMA (renamed "model.*") when it has one, else
// the model's tensors; the model's integer tensors (BatchNorm's num_batches_tracked) ride along.
inline io::Checkpoint inference_weights(const std::string& in, const char* what) {
  YOLITE_CHECK(std::filesystem::exists(in), in, ": no such checkpoint");
  YOLITE_CHECK(!model::is_zip_file(in), in, ": a YOLOv5 .pt, not a yolite checkpoint (nothing to ", what, ")");
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
  return res;
}
}  // namespace detail

// YOLOv5's strip_optimizer: keep only the inference weights of a training checkpoint (the EMA,
// renamed "model.*", or the model when there is no EMA), drop optimizer state and pending
// gradients; the result is not resumable. `out` may equal `in` (written to a temporary name, then
// renamed). Returns the number of tensors kept.
inline size_t strip_checkpoint(const std::string& in, const std::string& out) {
  io::Checkpoint res = detail::inference_weights(in, "strip");
  io::save_checkpoint(out, res);
  return res.tensors.size();
}

// A model soup (Wortsman et al. 2022, "Model soups: averaging weights of multiple fine-tuned
// models improves accuracy without increasing inference time"): the element-wise mean of the
// inference weights of several checkpoints fine-tuned from one model, written as one stripped
// checkpoint. Averaging models that start from the same weights keeps them in one basin of the
// loss; the mean is often better than any of them on data unlike their training data, at the cost
// of one model at inference. Every input must hold the same tensors (names and shapes) and the
// same classes; sums run in double, in the order given (same inputs -> same bits). Integer tensors
// and the metadata come from the first input; the result is not resumable and may overwrite an
// input. Returns the number of tensors averaged.
inline size_t average_checkpoints(const std::vector<std::string>& in, const std::string& out) {
  YOLITE_CHECK(in.size() >= 2, "two or more checkpoints are needed to average, got ", in.size());
  std::vector<io::Checkpoint> cks;
  for (auto& f : in) cks.push_back(detail::inference_weights(f, "average"));
  const io::Checkpoint& first = cks[0];
  // same_tensor[k][j]: input k's tensor of the first input's j-th name (found once, used twice)
  std::vector<std::vector<const Tensor<float>*>> same_tensor(cks.size());
  for (auto& [n, t] : first.tensors) same_tensor[0].push_back(&t);
  for (size_t k = 1; k < cks.size(); ++k) {
    const io::Checkpoint& c = cks[k];
    YOLITE_CHECK(c.tensors.size() == first.tensors.size(), in[k], ": ", c.tensors.size(), " weight tensors, ", in[0],
                 " has ", first.tensors.size(), " (not the same model)");
    for (auto& [n, t] : first.tensors) {
      const Tensor<float>* o = c.find(n);
      YOLITE_CHECK(o != nullptr, in[k], ": no tensor '", n, "' (", in[0], " has it; not the same model)");
      YOLITE_CHECK(o->shape() == t.shape(), in[k], ": tensor '", n, "' has shape ", o->shape().str(), ", ", in[0],
                   " has ", t.shape().str(), " (not the same model)");
      same_tensor[k].push_back(o);
    }
    for (const char* key : {"nc", "names"})
      YOLITE_CHECK(c.meta.value(key, nlohmann::json()) == first.meta.value(key, nlohmann::json()), in[k], ": its '", key,
                   "' differs from ", in[0], "'s (models of other classes cannot be averaged)");
  }
  io::Checkpoint res;
  std::vector<double> acc;
  for (size_t j = 0; j < first.tensors.size(); ++j) {
    const auto& [n, t] = first.tensors[j];
    acc.assign(size_t(t.numel()), 0.0);
    for (auto& tensors : same_tensor) {
      const Tensor<float>& x = *tensors[j];
      for (int64_t i = 0; i < x.numel(); ++i) acc[size_t(i)] += double(x[i]);
    }
    Tensor<float> mean = t.clone();
    for (int64_t i = 0; i < mean.numel(); ++i) mean[i] = float(acc[size_t(i)] / double(cks.size()));
    res.add(n, mean);
  }
  for (auto& [n, t] : first.int_tensors) res.add_int(n, t);
  res.meta = first.meta;
  nlohmann::json from = nlohmann::json::array();
  for (auto& f : in) from.push_back(f);  // as given
  res.meta["averaged_from"] = from;
  io::save_checkpoint(out, res);
  return res.tensors.size();
}

// YOLOv5's transfer learning: copy every tensor whose name and shape match into `m`.
inline nn::LoadReport transfer(model::YoloModel& m, const model::Weights& w) {
  return m.load_state_dict(w.state, nn::LoadMode::transfer, w.ints);
}

}  // namespace yolite::train
