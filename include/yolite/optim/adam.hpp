// optim/adam.hpp -- Adam and AdamW, as torch.optim.Adam / torch.optim.AdamW (amsgrad off).
//
//   // YOLOv5 --optimizer Adam: betas (momentum, 0.999), decay on group 1 only
//   optim::Adam<float> opt(optim::yolo_param_groups(params, 0.001, 0.937, 5e-4),
//                          /*beta1=*/0.937, /*beta2=*/0.999, /*eps=*/1e-8, /*decoupled=*/false);
//   optim::Adam<float> optw(groups, 0.937, 0.999, 1e-8, /*decoupled=*/true);   // AdamW
//
// Per parameter p with gradient g, step count t (per parameter, starting at 1), in T arithmetic:
//   Adam:  g = g + weight_decay * p                   (L2 added to the gradient)
//   AdamW: p = p * (1 - lr * weight_decay)            (decoupled decay, before the update)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g^2
//   p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// The betas are optimizer-wide; ParamGroup::momentum is not used (YOLOv5's warm-up only sets
// a group's momentum when the group has one, which Adam's groups do not). state_dict() exports
// "<param>.exp_avg", "<param>.exp_avg_sq" and "<param>.step" (a 1-element tensor).
#pragma once
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "../core/parallel.hpp"
#include "param_groups.hpp"

namespace yolite::optim {

template <class T>
class Adam : public Optimizer<T> {
 public:
  Adam(std::vector<ParamGroup<T>> groups, double beta1 = 0.9, double beta2 = 0.999,
       double eps = 1e-8, bool decoupled_weight_decay = false)
      : Optimizer<T>(std::move(groups)), beta1_(beta1), beta2_(beta2), eps_(eps),
        decoupled_(decoupled_weight_decay) {
    YOLITE_CHECK(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1 && eps >= 0, "Adam: betas (",
                 beta1, ", ", beta2, ") must lie in [0, 1) and eps (", eps, ") be >= 0");
    st_.resize(this->groups_.size());
    for (size_t g = 0; g < this->groups_.size(); ++g) st_[g].resize(this->groups_[g].params.size());
  }

  bool decoupled() const { return decoupled_; }

  void step() override {
    for (size_t gi = 0; gi < this->groups_.size(); ++gi) {
      const ParamGroup<T>& grp = this->groups_[gi];
      YOLITE_CHECK(grp.lr >= 0 && grp.weight_decay >= 0 && std::isfinite(grp.lr + grp.weight_decay),
                   "Adam: group ", gi, " has lr ", grp.lr, ", weight_decay ", grp.weight_decay,
                   "; expected finite values >= 0");
      for (size_t pi = 0; pi < grp.params.size(); ++pi) {
        Var<T> v = grp.params[pi].second;
        if (!v.grad().defined()) continue;
        Tensor<T>& p = v.value();
        const Tensor<T>& g = v.grad();
        p.check_same_shape(g, "Adam: parameter vs gradient");
        Slot& s = st_[gi][pi];
        if (!s.m.defined()) {
          s.m = Tensor<T>(p.shape());
          s.v = Tensor<T>(p.shape());
          s.step = 0;
        }
        s.step += 1;
        // Scalars as torch computes them: in double (Python floats), then used in T.
        const double bc1 = 1.0 - std::pow(beta1_, s.step);
        const double bc2_sqrt = std::sqrt(1.0 - std::pow(beta2_, s.step));
        const T step_size = T(grp.lr / bc1);
        const T b1 = T(beta1_), b2 = T(beta2_), omb1 = T(1.0 - beta1_), omb2 = T(1.0 - beta2_);
        const T wd = T(grp.weight_decay), shrink = T(1.0 - grp.lr * grp.weight_decay);
        const T bc2s = T(bc2_sqrt), eps = T(eps_);
        const bool dec = decoupled_;
        T* pd = p.data();
        const T* gd = g.data();
        T* md = s.m.data();
        T* vd = s.v.data();
        parallel_for(0, (p.numel() + kBlock - 1) / kBlock, [&](int64_t blk) {
          const int64_t e = std::min(p.numel(), (blk + 1) * kBlock);
          for (int64_t i = blk * kBlock; i < e; ++i) {
            T gr = gd[i];
            if (dec) {
              if (wd != T(0)) pd[i] = pd[i] * shrink;
            } else if (wd != T(0)) {
              gr = gr + wd * pd[i];
            }
            md[i] = md[i] * b1 + omb1 * gr;
            vd[i] = vd[i] * b2 + omb2 * (gr * gr);
            T denom = std::sqrt(vd[i]) / bc2s + eps;
            pd[i] = pd[i] + (-step_size) * (md[i] / denom);
          }
        });
      }
    }
  }

  NamedState<T> state_dict() const override {
    NamedState<T> out;
    for (size_t g = 0; g < this->groups_.size(); ++g)
      for (size_t p = 0; p < st_[g].size(); ++p) {
        const Slot& s = st_[g][p];
        if (!s.m.defined()) continue;
        const std::string& name = this->groups_[g].params[p].first;
        out.emplace_back(name + ".exp_avg", s.m.clone());
        out.emplace_back(name + ".exp_avg_sq", s.v.clone());
        out.emplace_back(name + ".step", Tensor<T>({1}, T(s.step)));
      }
    return out;
  }

  void load_state_dict(const NamedState<T>& state) override {
    for (auto& g : st_)
      for (auto& s : g) s = Slot{};
    detail::load_named_state(
        this->groups_, state, {"exp_avg", "exp_avg_sq", "step"},
        [&](size_t g, size_t p, size_t slot, const std::string& key, const Tensor<T>& t) {
          const auto& v = this->groups_[g].params[p].second;
          Slot& s = st_[g][p];
          if (slot == 2) {
            YOLITE_CHECK(t.numel() == 1 && t[0] >= T(0), "Adam state: entry '", key,
                         "' must hold one step count >= 0, has shape ", t.shape().str());
            s.step = int64_t(t[0]);
            return;
          }
          YOLITE_CHECK(t.shape() == v.shape(), "Adam state: entry '", key, "' has shape ",
                       t.shape().str(), ", parameter has ", v.shape().str());
          (slot == 0 ? s.m : s.v) = t.clone();
        });
    for (size_t g = 0; g < st_.size(); ++g)
      for (size_t p = 0; p < st_[g].size(); ++p) {
        const Slot& s = st_[g][p];
        YOLITE_CHECK(s.m.defined() == s.v.defined(), "Adam state: parameter '",
                     this->groups_[g].params[p].first,
                     "' has only one of exp_avg / exp_avg_sq; expected both or neither");
      }
  }

 private:
  struct Slot {
    Tensor<T> m, v;  // first and second moment; undefined until the first step
    int64_t step = 0;
  };
  static constexpr int64_t kBlock = 1 << 14;
  double beta1_, beta2_, eps_;
  bool decoupled_;
  std::vector<std::vector<Slot>> st_;
};

// AdamW: Adam with decoupled weight decay.
template <class T>
class AdamW : public Adam<T> {
 public:
  explicit AdamW(std::vector<ParamGroup<T>> groups, double beta1 = 0.9, double beta2 = 0.999,
                 double eps = 1e-8)
      : Adam<T>(std::move(groups), beta1, beta2, eps, /*decoupled_weight_decay=*/true) {}
};

}  // namespace yolite::optim
