// nn/module.hpp -- Module<T>: the base of every layer, with PyTorch's names for its tensors.
//
// A Module owns parameters (Var<T>, trained), floating buffers (Tensor<T>, e.g. BatchNorm's
// running statistics or Detect's anchors), integer buffers (BatchNorm's num_batches_tracked)
// and named children. Names join with '.', exactly as PyTorch's state_dict() spells them, so
// a YOLOv5 checkpoint loads by name:
//
//   auto m = make_yolov5("n", 5);                        // model/yolo.hpp, a Module<float>
//   for (auto& [name, p] : m->named_parameters()) ...    // "model.0.conv.weight", ...
//   auto sd = m->state_dict();                            // parameters AND floating buffers
//   sd[0].second.fill(0.f);                               // shallow: writes into the model
//   auto rep = m->load_state_dict(other, nn::LoadMode::transfer);   // copy what matches
//   m->eval();                                            // BatchNorm uses running stats
//
// Order is PyTorch's: a module's own parameters, then its own buffers (floating and integer
// interleaved in registration order), then its children depth first.
//
// Modules are created with std::make_shared, never copied or moved: the registry keeps
// pointers to the member tensors, so `state_dict()` always sees the current values.
#pragma once
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../autograd/variable.hpp"
#include "../core/error.hpp"
#include "../core/rng.hpp"
#include "../core/tensor.hpp"

namespace yolite::nn {

// strict: every tensor of the model must be in the source with the same shape and the source
//         must hold nothing else, or load_state_dict throws and changes nothing.
// transfer: copy every tensor whose name and shape match (YOLOv5's intersect_dicts), report
//         the rest; e.g. a Detect head with another class count is left as initialised.
enum class LoadMode { strict, transfer };

struct LoadReport {
  size_t total = 0;                      // entries of the model (parameters + all buffers)
  std::vector<std::string> loaded;       // copied
  std::vector<std::string> missing;      // in the model, not in the source
  std::vector<std::string> mismatched;   // in both, shapes differ: "name: model [..], source [..]"
  std::vector<std::string> unexpected;   // in the source, not in the model
  bool complete() const { return loaded.size() == total && unexpected.empty(); }
  // "Transferred 343/349 items (6 with another shape: model.24.m.0.weight ...)"
  std::string summary() const {
    std::string s = str("Transferred ", loaded.size(), "/", total, " items");
    auto list = [&](const std::vector<std::string>& v, const char* what) {
      if (v.empty()) return;
      s += str("; ", v.size(), " ", what, ":");
      for (size_t i = 0; i < v.size() && i < 8; ++i) s += " " + v[i];
      if (v.size() > 8) s += " ...";
    };
    list(mismatched, "with another shape");
    list(missing, "missing from the source");
    list(unexpected, "not in the model");
    return s;
  }
};

// One entry of the full state (what PyTorch's state_dict() lists, integer buffers included).
struct StateKey {
  std::string name;
  Shape shape;
  bool is_int = false;  // num_batches_tracked: an int64 scalar
};

template <class T>
class Module {
 public:
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  virtual ~Module() = default;

  // PyTorch's class name, e.g. "Conv", "C3", "Detect" (printed by model summaries).
  virtual std::string type_name() const { return "Module"; }

  // Single-input forward (most layers). Multi-input layers (Concat) override forward_multi.
  virtual Var<T> forward(const Var<T>& /*x*/) {
    fail(type_name(), ": this module has no single-input forward");
  }
  virtual Var<T> forward_multi(const std::vector<Var<T>>& xs) {
    YOLITE_CHECK(xs.size() == 1, type_name(), ": expects 1 input, got ", xs.size());
    return forward(xs[0]);
  }

  // Training mode (BatchNorm: batch statistics + running-stat update) or eval mode.
  void train(bool on = true) {
    training_ = on;
    for (auto& c : children_) c.second->train(on);
  }
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Re-initialises every parameter and buffer of this subtree from rng (PyTorch's defaults),
  // visiting modules in state_dict order so a seed always gives the same weights.
  void init_parameters(Rng& rng) {
    reset_parameters(rng);
    for (auto& c : children_) c.second->init_parameters(rng);
    after_init(rng);
  }

  // ---- named tensors ------------------------------------------------------------------------
  std::vector<std::pair<std::string, Var<T>>> named_parameters() const {
    std::vector<std::pair<std::string, Var<T>>> out;
    walk("", [&](const std::string& prefix, const Module& m) {
      for (auto& p : m.params_) out.emplace_back(prefix + p.name, *p.var);
    });
    return out;
  }
  std::vector<Var<T>> parameters() const {
    std::vector<Var<T>> out;
    for (auto& [n, v] : named_parameters()) out.push_back(v);
    return out;
  }
  // Parameters and floating buffers, in PyTorch order; shallow copies sharing the model's
  // storage (write into them to change the model). Integer buffers: int_buffers().
  std::vector<std::pair<std::string, Tensor<T>>> state_dict() const {
    std::vector<std::pair<std::string, Tensor<T>>> out;
    walk("", [&](const std::string& prefix, const Module& m) {
      for (auto& p : m.params_) out.emplace_back(prefix + p.name, p.var->value());
      for (auto& b : m.buffers_)
        if (b.t) out.emplace_back(prefix + b.name, *b.t);
    });
    return out;
  }
  // The int64 buffers (num_batches_tracked) by name; the pointers write into the model.
  std::vector<std::pair<std::string, int64_t*>> int_buffers() const {
    std::vector<std::pair<std::string, int64_t*>> out;
    walk("", [&](const std::string& prefix, const Module& m) {
      for (auto& b : m.buffers_)
        if (b.i) out.emplace_back(prefix + b.name, b.i);
    });
    return out;
  }
  // Every entry PyTorch's state_dict() would list, in its order, with shapes.
  std::vector<StateKey> state_keys() const {
    std::vector<StateKey> out;
    walk("", [&](const std::string& prefix, const Module& m) {
      for (auto& p : m.params_) out.push_back({prefix + p.name, p.var->value().shape(), false});
      for (auto& b : m.buffers_)
        out.push_back(b.t ? StateKey{prefix + b.name, b.t->shape(), false}
                          : StateKey{prefix + b.name, Shape{}, true});
    });
    return out;
  }
  int64_t num_parameters() const {
    int64_t n = 0;
    for (auto& [name, v] : named_parameters()) n += v.value().numel();
    return n;
  }
  void zero_grad() {
    for (auto& [name, v] : named_parameters()) v.zero_grad();
  }

  // Copies tensors from `src` (name -> tensor) into the model; see LoadMode. Integer buffers
  // load from a one-element tensor of `src` (its value rounded) or from `ints`.
  LoadReport load_state_dict(const std::vector<std::pair<std::string, Tensor<T>>>& src,
                             LoadMode mode = LoadMode::strict,
                             const std::vector<std::pair<std::string, int64_t>>& ints = {}) {
    std::unordered_map<std::string, size_t> fidx, iidx;
    for (size_t i = 0; i < src.size(); ++i) fidx[src[i].first] = i;
    for (size_t i = 0; i < ints.size(); ++i) iidx[ints[i].first] = i;
    std::vector<bool> fused(src.size(), false), iused(ints.size(), false);

    LoadReport rep;
    std::vector<std::pair<Tensor<T>, Tensor<T>>> copies;  // destination, source
    std::vector<std::pair<int64_t*, int64_t>> icopies;
    auto take_float = [&](const std::string& name, const Tensor<T>& dst) {
      auto it = fidx.find(name);
      if (it == fidx.end()) return rep.missing.push_back(name);
      fused[it->second] = true;
      const Tensor<T>& s = src[it->second].second;
      if (s.shape() != dst.shape())
        return rep.mismatched.push_back(
            str(name, ": model ", dst.shape().str(), ", source ", s.shape().str()));
      copies.emplace_back(dst, s);
      rep.loaded.push_back(name);
    };
    walk("", [&](const std::string& prefix, const Module& m) {
      for (auto& p : m.params_) take_float(prefix + p.name, p.var->value());
      for (auto& b : m.buffers_) {
        std::string name = prefix + b.name;
        if (b.t) {
          take_float(name, *b.t);
          continue;
        }
        if (auto it = iidx.find(name); it != iidx.end()) {
          iused[it->second] = true;
          icopies.emplace_back(b.i, ints[it->second].second);
          rep.loaded.push_back(name);
        } else if (auto jt = fidx.find(name); jt != fidx.end()) {
          fused[jt->second] = true;
          const Tensor<T>& s = src[jt->second].second;
          if (s.numel() != 1) {
            rep.mismatched.push_back(str(name, ": model [] (int64), source ", s.shape().str()));
            continue;
          }
          icopies.emplace_back(b.i, int64_t(std::llround(double(s[0]))));
          rep.loaded.push_back(name);
        } else {
          rep.missing.push_back(name);
        }
      }
      rep.total += m.params_.size() + m.buffers_.size();
    });
    for (size_t i = 0; i < src.size(); ++i)
      if (!fused[i]) rep.unexpected.push_back(src[i].first);
    for (size_t i = 0; i < ints.size(); ++i)
      if (!iused[i]) rep.unexpected.push_back(ints[i].first);

    if (mode == LoadMode::strict && !rep.complete())
      fail("load_state_dict (strict): the source does not match the model. ", rep.summary());
    for (auto& [dst, s] : copies) dst.copy_from(s);
    for (auto& [dst, v] : icopies) *dst = v;
    return rep;
  }

  // ---- tree ---------------------------------------------------------------------------------
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const {
    return children_;
  }
  // Calls f(prefix, module) for this module and every descendant, parents first; prefix ends
  // with '.' (empty at the root).
  template <class F>
  void walk(const std::string& prefix, F&& f) const {
    f(prefix, *this);
    for (auto& [name, c] : children_) c->walk(prefix + name + ".", f);
  }

 protected:
  // PyTorch's default for this module's own tensors (children are visited by init_parameters).
  virtual void reset_parameters(Rng& /*rng*/) {}
  // Runs after the children were initialised (e.g. Detect's prior-based biases).
  virtual void after_init(Rng& /*rng*/) {}

  // Registration: the member must outlive the module (it is a member of the derived class).
  void register_parameter(std::string name, Var<T>& member, Tensor<T> init) {
    member = Var<T>(std::move(init), /*requires_grad=*/true);
    params_.push_back({std::move(name), &member});
  }
  void register_buffer(std::string name, Tensor<T>& member) {
    buffers_.push_back({std::move(name), &member, nullptr});
  }
  void register_int_buffer(std::string name, int64_t& member) {
    buffers_.push_back({std::move(name), nullptr, &member});
  }
  template <class M>
  std::shared_ptr<M> register_module(std::string name, std::shared_ptr<M> m) {
    YOLITE_CHECK(m != nullptr, type_name(), ": child '", name, "' is null");
    children_.emplace_back(std::move(name), m);
    return m;
  }

 private:
  struct Param {
    std::string name;
    Var<T>* var;
  };
  struct Buffer {
    std::string name;
    Tensor<T>* t;  // floating buffer, or
    int64_t* i;    // integer buffer
  };
  bool training_ = true;
  std::vector<Param> params_;
  std::vector<Buffer> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

// An indexed list of modules: children named "0", "1", ... (PyTorch's ModuleList and, used
// with forward(), Sequential).
template <class T>
class ModuleList : public Module<T> {
 public:
  explicit ModuleList(std::string type = "ModuleList") : type_(std::move(type)) {}
  std::string type_name() const override { return type_; }
  template <class M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> m) {
    items_.push_back(m);
    return this->register_module(std::to_string(items_.size() - 1), std::move(m));
  }
  size_t size() const { return items_.size(); }
  Module<T>& operator[](size_t i) const {
    YOLITE_CHECK(i < items_.size(), type_, ": index ", i, " out of range (size ", items_.size(),
                 ")");
    return *items_[i];
  }
  const std::shared_ptr<Module<T>>& ptr(size_t i) const { return items_.at(i); }
  // Sequential: x through every item in order.
  Var<T> forward(const Var<T>& x) override {
    Var<T> y = x;
    for (auto& m : items_) y = m->forward(y);
    return y;
  }

 private:
  std::string type_;
  std::vector<std::shared_ptr<Module<T>>> items_;
};

}  // namespace yolite::nn
