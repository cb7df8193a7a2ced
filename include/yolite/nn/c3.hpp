// nn/c3.hpp -- YOLOv5's C3 block: CSP bottleneck with 3 convolutions.
//
//   nn::C3<float> c3(128, 128, /*n=*/3, /*shortcut=*/true);
//
//        x --cv1(1x1)--> m: n Bottlenecks(c_, c_, e=1) --+
//        |                                                concat --cv3(1x1)--> y
//        +--cv2(1x1)-------------------------------------+
//
// C3(c1, c2, n, shortcut, e=0.5): c_ = int(c2 * e); cv1, cv2 = Conv(c1, c_, 1);
// cv3 = Conv(2c_, c2, 1). Names (PyTorch registration order): "cv1.*", "cv2.*", "cv3.*",
// "m.0.cv1.*", "m.0.cv2.*", ...
#pragma once
#include <memory>
#include <vector>

#include "../autograd/ops/concat.hpp"
#include "bottleneck.hpp"

namespace yolite::nn {

template <class T>
class C3 : public Module<T> {
 public:
  C3(int c1, int c2, int n = 1, bool shortcut = true, double e = 0.5)
      : n(n), shortcut(shortcut) {
    YOLITE_CHECK(n >= 1, "C3: number of bottlenecks must be >= 1, got ", n);
    const int c_ = int(c2 * e);
    cv1 = this->register_module("cv1", std::make_shared<Conv<T>>(c1, c_, 1, 1));
    cv2 = this->register_module("cv2", std::make_shared<Conv<T>>(c1, c_, 1, 1));
    cv3 = this->register_module("cv3", std::make_shared<Conv<T>>(2 * c_, c2, 1, 1));
    m = this->register_module("m", std::make_shared<ModuleList<T>>("Sequential"));
    for (int i = 0; i < n; ++i) m->push_back(std::make_shared<Bottleneck<T>>(c_, c_, shortcut, 1.0));
  }
  std::string type_name() const override { return "C3"; }
  Var<T> forward(const Var<T>& x) override {
    return cv3->forward(ag::concat(std::vector<Var<T>>{m->forward(cv1->forward(x)), cv2->forward(x)}));
  }

  std::shared_ptr<Conv<T>> cv1, cv2, cv3;
  std::shared_ptr<ModuleList<T>> m;
  const int n;
  const bool shortcut;
};

}  // namespace yolite::nn
