// optim/sgd.hpp -- stochastic gradient descent with momentum / Nesterov, as torch.optim.SGD.
//
//   optim::SGD<float> opt(optim::yolo_param_groups(params, 0.01, 0.937, 5e-4), /*nesterov=*/true);
//   loss.backward();
//   opt.step();            // uses each group's current lr, momentum, weight_decay
//   opt.zero_grad();
//
// Per parameter p with gradient g, in T arithmetic (torch's order of operations, dampening 0):
//   d = g + weight_decay * p                          (weight decay as L2 on the gradient)
//   buf = d on the first step, else buf = momentum * buf + d
//   d = d + momentum * buf   (nesterov)   or   d = buf   (classic momentum)
//   p = p - lr * d
// With momentum 0 there is no buffer and p = p - lr * d. The momentum buffers are exported by
// state_dict() as "<param>.momentum_buffer" for resume.
#pragma once
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "../core/parallel.hpp"
#include "param_groups.hpp"

namespace yolite::optim {

template <class T>
class SGD : public Optimizer<T> {
 public:
  explicit SGD(std::vector<ParamGroup<T>> groups, bool nesterov = false)
      : Optimizer<T>(std::move(groups)), nesterov_(nesterov) {
    buf_.resize(this->groups_.size());
    for (size_t g = 0; g < this->groups_.size(); ++g) buf_[g].resize(this->groups_[g].params.size());
  }

  bool nesterov() const { return nesterov_; }

  void step() override {
    for (size_t gi = 0; gi < this->groups_.size(); ++gi) {
      const ParamGroup<T>& grp = this->groups_[gi];
      YOLITE_CHECK(grp.lr >= 0 && grp.momentum >= 0 && grp.weight_decay >= 0 &&
                       std::isfinite(grp.lr + grp.momentum + grp.weight_decay),
                   "SGD: group ", gi, " has lr ", grp.lr, ", momentum ", grp.momentum,
                   ", weight_decay ", grp.weight_decay, "; expected finite values >= 0");
      const T lr = T(grp.lr), m = T(grp.momentum), wd = T(grp.weight_decay);
      for (size_t pi = 0; pi < grp.params.size(); ++pi) {
        Var<T> v = grp.params[pi].second;
        if (!v.grad().defined()) continue;
        Tensor<T>& p = v.value();
        const Tensor<T>& g = v.grad();
        p.check_same_shape(g, "SGD: parameter vs gradient");
        const bool use_buf = grp.momentum != 0.0;
        const bool first = use_buf && !buf_[gi][pi].defined();
        if (first) buf_[gi][pi] = Tensor<T>(p.shape());
        T* pd = p.data();
        const T* gd = g.data();
        T* bd = use_buf ? buf_[gi][pi].data() : nullptr;
        const bool nest = nesterov_;
        parallel_for(0, (p.numel() + kBlock - 1) / kBlock, [&](int64_t blk) {
          const int64_t e = std::min(p.numel(), (blk + 1) * kBlock);
          for (int64_t i = blk * kBlock; i < e; ++i) {
            T d = gd[i];
            if (wd != T(0)) d = d + wd * pd[i];
            if (bd) {
              bd[i] = first ? d : bd[i] * m + d;
              d = nest ? d + m * bd[i] : bd[i];
            }
            pd[i] = pd[i] + (-lr) * d;
          }
        });
      }
    }
  }

  NamedState<T> state_dict() const override {
    NamedState<T> s;
    for (size_t g = 0; g < this->groups_.size(); ++g)
      for (size_t p = 0; p < buf_[g].size(); ++p)
        if (buf_[g][p].defined())
          s.emplace_back(this->groups_[g].params[p].first + ".momentum_buffer", buf_[g][p].clone());
    return s;
  }

  void load_state_dict(const NamedState<T>& state) override {
    for (auto& g : buf_)
      for (auto& b : g) b = Tensor<T>();
    detail::load_named_state(this->groups_, state, {"momentum_buffer"},
                             [&](size_t g, size_t p, size_t, const std::string& key,
                                 const Tensor<T>& t) {
                               const auto& v = this->groups_[g].params[p].second;
                               YOLITE_CHECK(t.shape() == v.shape(), "SGD state: entry '", key,
                                            "' has shape ", t.shape().str(), ", parameter has ",
                                            v.shape().str());
                               buf_[g][p] = t.clone();
                             });
  }

 private:
  static constexpr int64_t kBlock = 1 << 14;
  bool nesterov_;
  std::vector<std::vector<Tensor<T>>> buf_;  // [group][param], undefined until the first step
};

}  // namespace yolite::optim
