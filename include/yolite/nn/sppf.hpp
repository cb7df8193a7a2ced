// nn/sppf.hpp -- YOLOv5's SPPF: spatial pyramid pooling, fast (three chained 5x5 max pools).
//
//   nn::SPPF<float> sppf(1024, 1024, 5);
//
// SPPF(c1, c2, k=5): c_ = c1 / 2; x = cv1(x) (1x1 Conv to c_); y1 = maxpool(x), y2 =
// maxpool(y1), y3 = maxpool(y2) with MaxPool2d(k, stride 1, pad k/2); output
// cv2(concat(x, y1, y2, y3)) with cv2 = Conv(4c_, c2, 1). Equivalent to SPP(5, 9, 13) and
// cheaper. Names: "cv1.*", "cv2.*" (the pool has no tensors).
#pragma once
#include <memory>
#include <vector>

#include "../autograd/ops/concat.hpp"
#include "../autograd/ops/maxpool.hpp"
#include "conv.hpp"

namespace yolite::nn {

template <class T>
class SPPF : public Module<T> {
 public:
  SPPF(int c1, int c2, int k = 5) : k(k) {
    YOLITE_CHECK(k > 0 && k % 2 == 1, "SPPF: pool size must be odd and positive, got ", k);
    const int c_ = c1 / 2;
    cv1 = this->register_module("cv1", std::make_shared<Conv<T>>(c1, c_, 1, 1));
    cv2 = this->register_module("cv2", std::make_shared<Conv<T>>(4 * c_, c2, 1, 1));
  }
  std::string type_name() const override { return "SPPF"; }
  Var<T> forward(const Var<T>& x) override {
    Var<T> a = cv1->forward(x);
    Var<T> y1 = ag::max_pool2d(a, k, 1, k / 2);
    Var<T> y2 = ag::max_pool2d(y1, k, 1, k / 2);
    Var<T> y3 = ag::max_pool2d(y2, k, 1, k / 2);
    return cv2->forward(ag::concat(std::vector<Var<T>>{a, y1, y2, y3}));
  }

  std::shared_ptr<Conv<T>> cv1, cv2;
  const int k;
};

}  // namespace yolite::nn
