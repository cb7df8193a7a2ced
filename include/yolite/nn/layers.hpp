// nn/layers.hpp -- the two tensor-free layers of YOLOv5's neck: Upsample and Concat.
//
//   nn::Upsample<float> up;   up.forward(x)              // nearest neighbour, x2: [B,C,2H,2W]
//   nn::Concat<float> cat;    cat.forward_multi({a, b})  // along channels: [B,Ca+Cb,H,W]
//
// YOLOv5 writes them as nn.Upsample(None, 2, 'nearest') and Concat(1); neither has tensors in
// the state dict.
#pragma once
#include <vector>

#include "../autograd/ops/concat.hpp"
#include "../autograd/ops/upsample.hpp"
#include "module.hpp"

namespace yolite::nn {

template <class T>
class Upsample : public Module<T> {
 public:
  explicit Upsample(int scale = 2) {
    YOLITE_CHECK(scale == 2, "Upsample: only nearest x2 is implemented, got scale ", scale);
  }
  std::string type_name() const override { return "Upsample"; }
  Var<T> forward(const Var<T>& x) override { return ag::upsample_nearest2x(x); }
};

template <class T>
class Concat : public Module<T> {
 public:
  explicit Concat(int dim = 1) {
    YOLITE_CHECK(dim == 1, "Concat: only the channel dimension (1) is supported, got ", dim);
  }
  std::string type_name() const override { return "Concat"; }
  Var<T> forward(const Var<T>& x) override { return x; }
  Var<T> forward_multi(const std::vector<Var<T>>& xs) override {
    YOLITE_CHECK(!xs.empty(), "Concat: no inputs");
    return xs.size() == 1 ? xs[0] : ag::concat(xs);
  }
};

}  // namespace yolite::nn
