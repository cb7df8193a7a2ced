// loss/iou.hpp -- IoU, GIoU, DIoU and CIoU of two boxes, and their gradient w.r.t. the first.
//
//   using B = std::array<double, 4>;
//   double iou  = loss::box_iou(B{cx, cy, w, h}, B{...});                        // xywh boxes
//   double ciou = loss::box_iou(B{x1, y1, x2, y2}, B{...}, loss::IoUKind::CIoU,
//                               loss::BoxFormat::xyxy);
//   B d;                                                 // d ciou / d (x, y, w, h) of box 1
//   double c = loss::box_iou_grad(pred_xywh, target_xywh, loss::IoUKind::CIoU, d);
//
// These follow YOLOv5's utils/metrics.py bbox_iou (v7.0) operation by operation, eps = 1e-7:
//   corners:  x1 = cx - w/2, x2 = cx + w/2 (same for y)
//   inter  = clamp(min(x2, x2') - max(x1, x1'), 0) * clamp(min(y2, y2') - max(y1, y1'), 0)
//   union  = w*h + w'*h' - inter + eps,            iou = inter / union
//   GIoU   = iou - (C - union) / C                 C = cw*ch + eps, the enclosing box's area
//   DIoU   = iou - rho2 / c2                       c2 = cw^2 + ch^2 + eps (enclosing diagonal^2),
//                                                  rho2 = squared distance of the two centres
//   CIoU   = iou - (rho2 / c2 + alpha * v)         v = 4/pi^2 (atan(w'/h') - atan(w/h))^2,
//                                                  alpha = v / (v - iou + 1 + eps)
// In CIoU, alpha is computed under torch.no_grad() in YOLOv5, so box_iou_grad treats it as a
// constant: d CIoU = d iou - d(rho2/c2) - alpha * dv. For xyxy boxes YOLOv5 clamps the heights
// (not the widths) at eps; box_iou does the same.
//
// The gradient (box_iou_grad, xywh only -- the form the YOLO loss uses) is worked out by hand:
// first w.r.t. the 4 corners of box 1 and its w, h (which enter the union and v directly), then
// chained to (cx, cy, w, h) by x1 = cx - w/2, x2 = cx + w/2. min/max pass their gradient to the
// chosen side and split it in half on exact ties; clamp(., 0) passes it when its input is >= 0
// (both as torch does).
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <optional>

namespace yolite::loss {

enum class IoUKind { IoU, GIoU, DIoU, CIoU };
enum class BoxFormat { xywh, xyxy };

namespace detail {
// Corners and the (w, h) that YOLOv5 uses for a box in either format.
template <class T>
struct Corners {
  T x1, y1, x2, y2, w, h;
};
template <class T>
Corners<T> corners(const std::array<T, 4>& b, BoxFormat f, T eps) {
  if (f == BoxFormat::xywh) {
    T hw = b[2] / T(2), hh = b[3] / T(2);
    return {b[0] - hw, b[1] - hh, b[0] + hw, b[1] + hh, b[2], b[3]};
  }
  return {b[0], b[1], b[2], b[3], b[2] - b[0], std::max(b[3] - b[1], eps)};
}
// d min(a, b) / d a and d max(a, b) / d a, torch style (half on ties).
template <class T>
T dmin_da(T a, T b) {
  return a < b ? T(1) : (a == b ? T(0.5) : T(0));
}
template <class T>
T dmax_da(T a, T b) {
  return a > b ? T(1) : (a == b ? T(0.5) : T(0));
}
}  // namespace detail

// The chosen overlap measure of box1 and box2 (both in format `fmt`).
template <class T>
T box_iou(const std::array<T, 4>& box1, const std::array<T, 4>& box2,
          IoUKind kind = IoUKind::IoU, BoxFormat fmt = BoxFormat::xywh, T eps = T(1e-7)) {
  const auto a = detail::corners(box1, fmt, eps);
  const auto b = detail::corners(box2, fmt, eps);
  T iw = std::max(std::min(a.x2, b.x2) - std::max(a.x1, b.x1), T(0));
  T ih = std::max(std::min(a.y2, b.y2) - std::max(a.y1, b.y1), T(0));
  T inter = iw * ih;
  T uni = a.w * a.h + b.w * b.h - inter + eps;
  T iou = inter / uni;
  if (kind == IoUKind::IoU) return iou;
  T cw = std::max(a.x2, b.x2) - std::min(a.x1, b.x1);
  T ch = std::max(a.y2, b.y2) - std::min(a.y1, b.y1);
  if (kind == IoUKind::GIoU) {
    T c_area = cw * ch + eps;
    return iou - (c_area - uni) / c_area;
  }
  T c2 = cw * cw + ch * ch + eps;
  T sx = b.x1 + b.x2 - a.x1 - a.x2, sy = b.y1 + b.y2 - a.y1 - a.y2;
  T rho2 = (sx * sx + sy * sy) / T(4);
  if (kind == IoUKind::DIoU) return iou - rho2 / c2;
  T k = T(4) / (T(std::numbers::pi) * T(std::numbers::pi));
  T dat = std::atan(b.w / b.h) - std::atan(a.w / a.h);
  T v = k * dat * dat;
  T alpha = v / (v - iou + (T(1) + eps));
  return iou - (rho2 / c2 + v * alpha);
}

// CIoU's pieces: CIoU = iou - (rho2_c2 + v * alpha). A caller that must hold alpha at a
// given value (a detached constant) recombines them itself.
template <class T>
struct CiouTerms {
  T iou, rho2_c2, v, alpha;
  T ciou() const { return iou - (rho2_c2 + v * alpha); }
  T ciou_with_alpha(T a) const { return iou - (rho2_c2 + v * a); }
};
template <class T>
CiouTerms<T> ciou_terms(const std::array<T, 4>& box1, const std::array<T, 4>& box2,
                        BoxFormat fmt = BoxFormat::xywh, T eps = T(1e-7)) {
  const auto a = detail::corners(box1, fmt, eps);
  const auto b = detail::corners(box2, fmt, eps);
  T iw = std::max(std::min(a.x2, b.x2) - std::max(a.x1, b.x1), T(0));
  T ih = std::max(std::min(a.y2, b.y2) - std::max(a.y1, b.y1), T(0));
  T inter = iw * ih;
  T iou = inter / (a.w * a.h + b.w * b.h - inter + eps);
  T cw = std::max(a.x2, b.x2) - std::min(a.x1, b.x1);
  T ch = std::max(a.y2, b.y2) - std::min(a.y1, b.y1);
  T c2 = cw * cw + ch * ch + eps;
  T sx = b.x1 + b.x2 - a.x1 - a.x2, sy = b.y1 + b.y2 - a.y1 - a.y2;
  T rho2 = (sx * sx + sy * sy) / T(4);
  T k = T(4) / (T(std::numbers::pi) * T(std::numbers::pi));
  T dat = std::atan(b.w / b.h) - std::atan(a.w / a.h);
  T v = k * dat * dat;
  T alpha = v / (v - iou + (T(1) + eps));
  return {iou, rho2 / c2, v, alpha};
}

// Returns box_iou(pred, target, kind) for xywh boxes and writes d(result)/d(pred cx, cy, w, h)
// into dpred. For CIoU, alpha is held constant (YOLOv5 computes it under no_grad); pass
// `alpha` to use a given constant instead of the one computed here.
template <class T>
T box_iou_grad(const std::array<T, 4>& pred, const std::array<T, 4>& target, IoUKind kind,
               std::array<T, 4>& dpred, T eps = T(1e-7), std::optional<T> alpha_fixed = {}) {
  using detail::dmax_da;
  using detail::dmin_da;
  const auto a = detail::corners(pred, BoxFormat::xywh, eps);
  const auto b = detail::corners(target, BoxFormat::xywh, eps);
  // Gradient accumulators w.r.t. box 1's corners and its own w, h.
  T gx1 = 0, gx2 = 0, gy1 = 0, gy2 = 0, gw = 0, gh = 0;

  // ---- forward
  T iw_raw = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
  T ih_raw = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
  T iw = std::max(iw_raw, T(0)), ih = std::max(ih_raw, T(0));
  T inter = iw * ih;
  T uni = a.w * a.h + b.w * b.h - inter + eps;
  T iou = inter / uni;

  // ---- d iou: iou = inter / union, union = w*h + w'*h' - inter + eps
  //   d iou = d inter * (1 + iou) / union - iou / union * d(w*h)
  // d iou / d inter and d iou / d (w*h); added to the corner gradients through helpers below.
  T diou_dinter = (T(1) + iou) / uni;
  T diou_darea = -iou / uni;
  // Adds c * d inter / d corners.
  auto add_inter = [&](T c) {
    T mw = iw_raw >= T(0) ? T(1) : T(0), mh = ih_raw >= T(0) ? T(1) : T(0);
    // inter = iw * ih; iw = min(x2, x2') - max(x1, x1')
    gx2 += c * ih * mw * dmin_da(a.x2, b.x2);
    gx1 -= c * ih * mw * dmax_da(a.x1, b.x1);
    gy2 += c * iw * mh * dmin_da(a.y2, b.y2);
    gy1 -= c * iw * mh * dmax_da(a.y1, b.y1);
  };
  add_inter(diou_dinter);
  gw += diou_darea * a.h;
  gh += diou_darea * a.w;

  T result = iou;
  if (kind != IoUKind::IoU) {
    T cw = std::max(a.x2, b.x2) - std::min(a.x1, b.x1);
    T ch = std::max(a.y2, b.y2) - std::min(a.y1, b.y1);
    // d cw / d corners: x2 -> dmax, x1 -> -dmin.
    T dcw_dx2 = dmax_da(a.x2, b.x2), dcw_dx1 = -dmin_da(a.x1, b.x1);
    T dch_dy2 = dmax_da(a.y2, b.y2), dch_dy1 = -dmin_da(a.y1, b.y1);
    if (kind == IoUKind::GIoU) {
      // GIoU = iou - 1 + union / C, C = cw*ch + eps.
      // d(union / C) = d union / C - union / C^2 * dC; d union = d(w*h) - d inter.
      T c_area = cw * ch + eps;
      result = iou - (c_area - uni) / c_area;
      T du = T(1) / c_area;
      add_inter(-du);
      gw += du * a.h;
      gh += du * a.w;
      T dc = -uni / (c_area * c_area);  // times dC = ch*dcw + cw*dch
      gx2 += dc * ch * dcw_dx2;
      gx1 += dc * ch * dcw_dx1;
      gy2 += dc * cw * dch_dy2;
      gy1 += dc * cw * dch_dy1;
    } else {
      // rho2 / c2 with c2 = cw^2 + ch^2 + eps, rho2 = (sx^2 + sy^2) / 4,
      // sx = x1' + x2' - x1 - x2 (so d rho2 / d x1 = d rho2 / d x2 = -sx / 2).
      T c2 = cw * cw + ch * ch + eps;
      T sx = b.x1 + b.x2 - a.x1 - a.x2, sy = b.y1 + b.y2 - a.y1 - a.y2;
      T rho2 = (sx * sx + sy * sy) / T(4);
      T q = rho2 / c2;
      // d(-q) = -(d rho2) / c2 + rho2 / c2^2 * d c2, d c2 = 2 cw dcw + 2 ch dch
      T drho = -T(1) / c2;
      gx1 += drho * (-sx / T(2));
      gx2 += drho * (-sx / T(2));
      gy1 += drho * (-sy / T(2));
      gy2 += drho * (-sy / T(2));
      T dc2 = rho2 / (c2 * c2);
      gx2 += dc2 * T(2) * cw * dcw_dx2;
      gx1 += dc2 * T(2) * cw * dcw_dx1;
      gy2 += dc2 * T(2) * ch * dch_dy2;
      gy1 += dc2 * T(2) * ch * dch_dy1;
      result = iou - q;
      if (kind == IoUKind::CIoU) {
        // v = k * D^2, D = atan(w'/h') - atan(w/h); alpha constant.
        T k = T(4) / (T(std::numbers::pi) * T(std::numbers::pi));
        T D = std::atan(b.w / b.h) - std::atan(a.w / a.h);
        T v = k * D * D;
        T alpha = alpha_fixed ? *alpha_fixed : v / (v - iou + (T(1) + eps));
        result = iou - (q + v * alpha);
        // d(-alpha v) = -alpha * 2kD * (-d atan(w/h)); d atan(w/h) = (h dw - w dh) / (w^2 + h^2)
        T s = alpha * T(2) * k * D / (a.w * a.w + a.h * a.h);
        gw += s * a.h;
        gh -= s * a.w;
      }
    }
  }
  // ---- chain to (cx, cy, w, h): x1 = cx - w/2, x2 = cx + w/2
  dpred[0] = gx1 + gx2;
  dpred[1] = gy1 + gy2;
  dpred[2] = gw + (gx2 - gx1) / T(2);
  dpred[3] = gh + (gy2 - gy1) / T(2);
  return result;
}

}  // namespace yolite::loss
