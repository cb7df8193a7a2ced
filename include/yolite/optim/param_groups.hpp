// optim/param_groups.hpp -- named parameters, YOLOv5's three parameter groups, the Optimizer
// interface (step, zero_grad, state export/import by name) and gradient-norm clipping.
//
//   auto groups = optim::yolo_param_groups(model.named_parameters(), /*lr0=*/0.01,
//                                          /*momentum=*/0.937, /*weight_decay=*/5e-4);
//   optim::SGD<float> opt(groups, /*nesterov=*/true);
//   double norm = optim::clip_grad_norm(params, 10.0);   // before opt.step()
//
// YOLOv5's smart_optimizer splits the parameters by their state-dict name:
//   group 0: every `*.bias`                       -- no weight decay
//   group 1: everything else (conv weights)       -- weight decay
//   group 2: BatchNorm weights (`*.bn.weight`)    -- no weight decay
// Each group has its own lr, momentum and weight decay (the warm-up changes lr and momentum
// per group every iteration; see optim/schedule.hpp) and keeps `initial_lr`, the lr that a
// LambdaLR schedule multiplies.
//
// Optimizer state for resume: opt.state_dict() gives (name, tensor) pairs such as
// "model.0.conv.weight.momentum_buffer"; opt.load_state_dict(pairs) restores them.
#pragma once
#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../autograd/variable.hpp"
#include "../core/error.hpp"
#include "../core/parallel.hpp"
#include "../ops/cpu/elementwise.hpp"

namespace yolite::optim {

template <class T>
using NamedParams = std::vector<std::pair<std::string, Var<T>>>;

template <class T>
struct ParamGroup {
  NamedParams<T> params;
  double lr = 0.01;
  double momentum = 0.0;      // SGD momentum (Adam/AdamW take their betas from the optimizer)
  double weight_decay = 0.0;
  double initial_lr = 0.01;   // the base lr of LambdaLR: lr = initial_lr * lambda(epoch)
};

// YOLOv5's group of a parameter by its state-dict name: 0 bias, 1 decayed weight, 2 BN weight.
inline int yolo_group_of(std::string_view name) {
  auto ends_with = [&](std::string_view suf) {
    return name.size() >= suf.size() && name.substr(name.size() - suf.size()) == suf;
  };
  if (ends_with(".bias") || name == "bias") return 0;
  if (ends_with(".bn.weight")) return 2;
  return 1;
}

// The three groups (in that order) with lr = initial_lr = lr0, the given momentum, and weight
// decay on group 1 only. Parameter order inside a group follows `params`.
template <class T>
std::vector<ParamGroup<T>> yolo_param_groups(const NamedParams<T>& params, double lr0,
                                             double momentum, double weight_decay) {
  std::vector<ParamGroup<T>> g(3);
  for (int i = 0; i < 3; ++i) {
    g[size_t(i)].lr = g[size_t(i)].initial_lr = lr0;
    g[size_t(i)].momentum = momentum;
  }
  g[1].weight_decay = weight_decay;
  for (const auto& [name, v] : params) {
    YOLITE_CHECK(v.defined(), "yolo_param_groups: parameter '", name, "' is an empty Var");
    g[size_t(yolo_group_of(name))].params.emplace_back(name, v);
  }
  return g;
}

// Named optimizer state (momentum buffers, moments, step counts) for checkpoints: entries
// "<param name>.<slot>", e.g. "model.0.conv.weight.momentum_buffer".
template <class T>
using NamedState = std::vector<std::pair<std::string, Tensor<T>>>;

// What every optimizer offers: its groups (lr, momentum, weight decay settable between steps),
// step(), zero_grad() and state export/import by name for resume.
template <class T>
class Optimizer {
 public:
  explicit Optimizer(std::vector<ParamGroup<T>> groups) : groups_(std::move(groups)) {
    for (const auto& g : groups_)
      for (const auto& [name, v] : g.params)
        YOLITE_CHECK(v.defined(), "optimizer: parameter '", name, "' is an empty Var");
  }
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient (others are skipped, as torch does).
  virtual void step() = 0;
  // Per-parameter state as named tensors (copies), in group/parameter order.
  virtual NamedState<T> state_dict() const = 0;
  // Restores state written by state_dict(). Slots absent from `state` start fresh; an entry
  // that names no parameter/slot of this optimizer, or has the wrong shape, throws.
  virtual void load_state_dict(const NamedState<T>& state) = 0;

  std::vector<ParamGroup<T>>& groups() { return groups_; }
  const std::vector<ParamGroup<T>>& groups() const { return groups_; }
  // Drops every parameter's gradient (the next backward starts from zero).
  void zero_grad() {
    for (auto& g : groups_)
      for (auto& [name, v] : g.params) v.zero_grad();
  }

 protected:
  std::vector<ParamGroup<T>> groups_;
};

namespace detail {
// Looks up "<param>.<slot>" entries of a state dict for the given slots; throws on entries that
// match no parameter/slot. Calls set(group, index, slot, key, tensor) for each match.
template <class T, class F>
void load_named_state(const std::vector<ParamGroup<T>>& groups, const NamedState<T>& state,
                      const std::vector<std::string>& slots, F&& set) {
  struct Where {
    size_t g, p, s;
  };
  std::unordered_map<std::string, Where> where;
  for (size_t gi = 0; gi < groups.size(); ++gi)
    for (size_t pi = 0; pi < groups[gi].params.size(); ++pi)
      for (size_t si = 0; si < slots.size(); ++si)
        where[groups[gi].params[pi].first + "." + slots[si]] = {gi, pi, si};
  for (const auto& [key, t] : state) {
    auto it = where.find(key);
    YOLITE_CHECK(it != where.end(), "optimizer state: entry '", key,
                 "' names no parameter/slot of this optimizer");
    set(it->second.g, it->second.p, it->second.s, key, t);
  }
}
}  // namespace detail

// Total 2-norm of all gradients (parameters without a gradient are skipped), as torch's
// clip_grad_norm_: norm of the per-tensor norms. When it exceeds max_norm every gradient is
// scaled by max_norm / (norm + 1e-6). Returns the norm before clipping. Sums run in double:
// each tensor in fixed blocks of ops::kBlock elements (in parallel, each block's lanes fixed at
// compile time), the block sums in block order, the tensors in parameter order -- the same
// result for any thread count.
template <class T>
double clip_grad_norm(const NamedParams<T>& params, double max_norm) {
  double sq = 0;
  std::vector<double> part;
  for (const auto& [name, v] : params) {
    const Tensor<T>& g = v.grad();
    if (!g.defined()) continue;
    const T* d = g.data();
    const int64_t n = g.numel(), nb = (n + ops::kBlock - 1) / ops::kBlock;
    part.assign(size_t(nb), 0.0);
    parallel_for(0, nb, [&](int64_t b) {
      const int64_t e = std::min(n, (b + 1) * ops::kBlock);
      double s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t i = b * ops::kBlock; i < e; ++i) s += double(d[i]) * double(d[i]);
      part[size_t(b)] = s;
    });
    double s = 0;
    for (double p : part) s += p;
    sq += s;
  }
  double norm = std::sqrt(sq);
  double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0) {
    const T c = T(coef);
    for (const auto& [name, v] : params) {
      Tensor<T> g = v.grad();
      if (!g.defined()) continue;
      ops::scale(g.data(), c, g.data(), g.numel());
    }
  }
  return norm;
}

// Same, over the parameters of optimizer groups.
template <class T>
double clip_grad_norm(const std::vector<ParamGroup<T>>& groups, double max_norm) {
  NamedParams<T> all;
  for (const auto& g : groups) all.insert(all.end(), g.params.begin(), g.params.end());
  return clip_grad_norm(all, max_norm);
}

}  // namespace yolite::optim
