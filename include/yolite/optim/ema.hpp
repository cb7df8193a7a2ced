// optim/ema.hpp -- exponential moving average of the model's weights (YOLOv5's ModelEMA).
//
//   optim::ModelEMA<float> ema(model.state_tensors());   // copies: the average starts at the model
//   ... after each optimizer step:
//   ema.update(model.state_tensors());
//   ema.copy_to(eval_model.state_tensors());              // validate / save the averaged weights
//   auto ck = ema.state(); size_t n = ema.updates();      // checkpoint; ema.load(ck, n) to resume
//
// The input is the model's floating state dict: (name, tensor) pairs of the parameters and the
// BatchNorm running statistics, tensors sharing the model's storage. The EMA keeps its own
// copies. At update number u (counted from 1):
//   d = decay * (1 - exp(-u / tau))            (decay 0.9999, tau 2000: ramps up from ~0)
//   v = d * v + (1 - d) * model                (every entry, in T: v *= d; v += (1 - d) * m)
// Integer entries (num_batches_tracked) are not in a floating state dict; the caller copies them.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "../core/parallel.hpp"
#include "../core/tensor.hpp"

namespace yolite::optim {

template <class T>
class ModelEMA {
 public:
  using StateDict = std::vector<std::pair<std::string, Tensor<T>>>;

  explicit ModelEMA(const StateDict& model, double decay = 0.9999, double tau = 2000.0,
                    int64_t updates = 0)
      : decay_(decay), tau_(tau), updates_(updates) {
    YOLITE_CHECK(decay >= 0 && decay <= 1 && tau > 0, "ModelEMA: decay ", decay, " and tau ", tau,
                 "; expected decay in [0, 1], tau > 0");
    for (const auto& [name, t] : model) {
      YOLITE_CHECK(index_.emplace(name, ema_.size()).second, "ModelEMA: entry '", name,
                   "' appears twice in the state dict");
      ema_.emplace_back(name, t.clone());
    }
  }

  // The decay used at update number u: decay * (1 - exp(-u / tau)).
  double decay_at(int64_t u) const { return decay_ * (1.0 - std::exp(-double(u) / tau_)); }
  int64_t updates() const { return updates_; }

  // One EMA step towards `model` (same names and shapes as at construction, any order).
  void update(const StateDict& model) {
    YOLITE_CHECK(model.size() == ema_.size(), "ModelEMA::update: model state has ", model.size(),
                 " entries, the EMA has ", ema_.size());
    ++updates_;
    const double d = decay_at(updates_);
    const T df = T(d), omd = T(1.0 - d);
    for (const auto& [name, m] : model) {
      Tensor<T>& v = entry(name, "update");
      v.check_same_shape(m, ("ModelEMA::update '" + name + "'").c_str());
      T* vd = v.data();
      const T* md = m.data();
      parallel_for(0, (v.numel() + kBlock - 1) / kBlock, [&](int64_t blk) {
        const int64_t e = std::min(v.numel(), (blk + 1) * kBlock);
        for (int64_t i = blk * kBlock; i < e; ++i) {
          vd[i] *= df;
          vd[i] += omd * md[i];
        }
      });
    }
  }

  // The averaged tensors (the EMA's own storage).
  const StateDict& state() const { return ema_; }

  // Copies the averaged values into `target` (e.g. an evaluation model's state dict).
  void copy_to(const StateDict& target) const {
    for (const auto& [name, t] : target) {
      auto it = index_.find(name);
      YOLITE_CHECK(it != index_.end(), "ModelEMA::copy_to: the EMA has no entry '", name, "'");
      Tensor<T> dst = t;
      dst.copy_from(ema_[it->second].second);
    }
  }

  // Restores averaged values and the update count (from a checkpoint). Every entry of `state`
  // must name an EMA entry of the same shape; entries not given keep their values.
  void load(const StateDict& state, int64_t updates) {
    YOLITE_CHECK(updates >= 0, "ModelEMA::load: updates ", updates, ", expected >= 0");
    for (const auto& [name, t] : state) {
      Tensor<T>& v = entry(name, "load");
      YOLITE_CHECK(v.shape() == t.shape(), "ModelEMA::load: entry '", name, "' has shape ",
                   t.shape().str(), ", the EMA has ", v.shape().str());
      v.copy_from(t);
    }
    updates_ = updates;
  }

 private:
  Tensor<T>& entry(const std::string& name, const char* what) {
    auto it = index_.find(name);
    YOLITE_CHECK(it != index_.end(), "ModelEMA::", what, ": no entry '", name,
                 "' in the EMA (the model's state dict changed?)");
    return ema_[it->second].second;
  }
  static constexpr int64_t kBlock = 1 << 14;
  double decay_, tau_;
  int64_t updates_;
  StateDict ema_;
  std::unordered_map<std::string, size_t> index_;
};

}  // namespace yolite::optim
