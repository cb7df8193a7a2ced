// nn/bottleneck.hpp -- YOLOv5's Bottleneck: a 1x1 Conv then a 3x3 Conv, plus a residual add.
//
//   nn::Bottleneck<float> b(64, 64, /*shortcut=*/true);   // y = x + cv2(cv1(x))
//
// Bottleneck(c1, c2, shortcut, e): c_ = int(c2 * e); cv1 = Conv(c1, c_, 1), cv2 = Conv(c_, c2, 3).
// The residual is used only when shortcut is set AND c1 == c2 (the backbone C3 blocks);
// the head C3 blocks are built with shortcut = false. Names: "cv1.*", "cv2.*".
#pragma once
#include <memory>
#include <vector>

#include "../autograd/ops/elementwise.hpp"
#include "conv.hpp"

namespace yolite::nn {

template <class T>
class Bottleneck : public Module<T> {
 public:
  Bottleneck(int c1, int c2, bool shortcut = true, double e = 0.5)
      : cv1(std::make_shared<Conv<T>>(c1, int(c2 * e), 1, 1)),
        cv2(std::make_shared<Conv<T>>(int(c2 * e), c2, 3, 1)),
        add(shortcut && c1 == c2) {
    this->register_module("cv1", cv1);
    this->register_module("cv2", cv2);
  }
  std::string type_name() const override { return "Bottleneck"; }
  Var<T> forward(const Var<T>& x) override {
    Var<T> y = cv2->forward(cv1->forward(x));
    return add ? ag::add(x, y) : y;
  }

  std::shared_ptr<Conv<T>> cv1, cv2;
  const bool add;
};

}  // namespace yolite::nn
