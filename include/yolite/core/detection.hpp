// core/detection.hpp -- Detection: one box found in one image, and the IoU of two boxes.
//
// A leaf: NMS and the detector (infer/) make detections, evaluation (eval/) matches them to
// labels; both include this and nothing of each other.
//
// Corners in pixels of whatever image the numbers refer to (the network input while inside
// NMS, the original image once mapped back by the letterbox), a confidence score
// (objectness x class probability) and a class id from 0.
#pragma once
#include <algorithm>

namespace yolite {

struct Detection {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  float score = 0;
  int cls = 0;

  float width() const { return x2 - x1; }
  float height() const { return y2 - y1; }
  float area() const { return std::max(0.f, x2 - x1) * std::max(0.f, y2 - y1); }
};

// Intersection over union of two corner boxes (no +1: continuous coordinates, as torchvision).
// Works for any two types with x1, y1, x2, y2 members (Detection, eval::GtBox, ...).
template <class A, class B>
inline float box_iou(const A& a, const B& b) {
  float iw = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
  float ih = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
  if (iw <= 0 || ih <= 0) return 0.f;
  float inter = iw * ih;
  float uni = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return uni > 0 ? inter / uni : 0.f;
}

}  // namespace yolite
