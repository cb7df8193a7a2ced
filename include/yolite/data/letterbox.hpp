// data/letterbox.hpp -- resize an image keeping its aspect ratio and pad it to the network size,
// and map boxes between the original image and the letterboxed one (both ways, exactly).
//
//   auto lb = data::letterbox(img, 320, 320);            // 512x384 -> 320x240 content + grey bars
//   lb.image;                                           // 320x320, padding = 114 grey
//   float x = lb.info.to_letterbox_x(100.f);            // original pixel -> network input pixel
//   Detection d = lb.info.to_original(det);             // network box -> original image, clipped
//
//   data::LetterboxOptions o; o.auto_pad = true;        // rect inference: pad only up to a
//   auto r = data::letterbox(img, 320, 320, o);         //   multiple of o.stride (e.g. 320x256)
//
// This is YOLOv5's utils/augmentations.py letterbox(): gain r = min(new/old) (never above 1
// when scaleup is false), content size round(old * r), padding split in two with the odd pixel
// going right/bottom, pad colour 114. One difference on purpose: YOLOv5 maps boxes with the
// gain r and the half-padding dw/2 (a float), while the pixels are placed at the integer
// offset and scaled by round(old*r)/old; LetterboxInfo keeps the true placement (integer
// offsets, per-axis scale new/old) so that a box drawn on the original lands on the same
// pixels of the letterboxed image and maps back to itself to float precision.
//
// The resize itself is data/image_io.hpp's resize() (bilinear, as YOLOv5's cv2.INTER_LINEAR).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "../core/error.hpp"
#include "../core/image.hpp"
#include "image_io.hpp"

namespace yolite::data {

// ---- letterbox geometry --------------------------------------------------------------------

struct LetterboxOptions {
  bool auto_pad = false;  // true: pad only to a multiple of `stride` (minimum rectangle)
  bool scaleup = true;    // false: only shrink (YOLOv5 val / detect keep small images small)
  int stride = 32;
  uint8_t fill = 114;
  Interp interp = Interp::linear;
};

// Where the original image sits inside the letterboxed one. Pixel x of the original maps to
// x * sx + pad_x; widths scale by sx. to_original() is the exact inverse, clipped to the image.
struct LetterboxInfo {
  int orig_w = 0, orig_h = 0;  // original image
  int new_w = 0, new_h = 0;    // resized content
  int out_w = 0, out_h = 0;    // letterboxed canvas (content + padding)
  int pad_x = 0, pad_y = 0;    // left / top padding in pixels
  float gain = 1.f;            // YOLOv5's ratio r = min(out / orig) (before rounding)
  double sx = 1, sy = 1;       // true per-axis scale: new / orig

  float to_letterbox_x(float x) const { return float(x * sx + pad_x); }
  float to_letterbox_y(float y) const { return float(y * sy + pad_y); }
  float to_original_x(float x) const { return float((x - pad_x) / sx); }
  float to_original_y(float y) const { return float((y - pad_y) / sy); }

  // Any box type with float fields x1, y1, x2, y2 (Detection, PixelBox, ...).
  template <class B>
  B to_letterbox(B b) const {
    b.x1 = to_letterbox_x(b.x1), b.x2 = to_letterbox_x(b.x2);
    b.y1 = to_letterbox_y(b.y1), b.y2 = to_letterbox_y(b.y2);
    return b;
  }
  template <class B>
  B to_original(B b, bool clip = true) const {
    b.x1 = to_original_x(b.x1), b.x2 = to_original_x(b.x2);
    b.y1 = to_original_y(b.y1), b.y2 = to_original_y(b.y2);
    if (clip) {
      b.x1 = std::clamp(b.x1, 0.f, float(orig_w)), b.x2 = std::clamp(b.x2, 0.f, float(orig_w));
      b.y1 = std::clamp(b.y1, 0.f, float(orig_h)), b.y2 = std::clamp(b.y2, 0.f, float(orig_h));
    }
    return b;
  }
};

// The geometry letterbox() would use for a w x h image and a target_w x target_h canvas.
inline LetterboxInfo letterbox_info(int w, int h, int target_w, int target_h,
                                    const LetterboxOptions& o = {}) {
  YOLITE_CHECK(w > 0 && h > 0, "letterbox: bad image size ", w, "x", h);
  YOLITE_CHECK(target_w > 0 && target_h > 0, "letterbox: bad target size ", target_w, "x", target_h);
  YOLITE_CHECK(o.stride > 0, "letterbox: stride must be positive, got ", o.stride);
  LetterboxInfo L;
  L.orig_w = w, L.orig_h = h;
  double r = std::min(double(target_w) / w, double(target_h) / h);
  if (!o.scaleup) r = std::min(r, 1.0);
  L.gain = float(r);
  L.new_w = std::max(1, int(std::lround(w * r)));
  L.new_h = std::max(1, int(std::lround(h * r)));
  int dw = std::max(0, target_w - L.new_w), dh = std::max(0, target_h - L.new_h);
  if (o.auto_pad) dw %= o.stride, dh %= o.stride;
  L.out_w = L.new_w + dw, L.out_h = L.new_h + dh;
  L.pad_x = dw / 2, L.pad_y = dh / 2;  // YOLOv5: round(dw/2 - 0.1) -> odd pixel on the right
  L.sx = double(L.new_w) / w, L.sy = double(L.new_h) / h;
  return L;
}

struct Letterboxed {
  Image image;
  LetterboxInfo info;
};

// Pastes `content` (already resized to info.new_w x info.new_h) onto a fill-coloured canvas.
inline Image pad_to_canvas(const Image& content, const LetterboxInfo& info, uint8_t fill = 114) {
  YOLITE_CHECK(content.w == info.new_w && content.h == info.new_h, "letterbox: content is ",
               content.w, "x", content.h, ", expected ", info.new_w, "x", info.new_h);
  if (info.out_w == content.w && info.out_h == content.h) return content;
  Image out(info.out_w, info.out_h, content.c, fill);
  const size_t rowbytes = size_t(content.w) * content.c;
  for (int y = 0; y < content.h; ++y)
    std::copy_n(content.row(y), rowbytes, out.at(info.pad_x, y + info.pad_y));
  return out;
}

inline Letterboxed letterbox(const Image& img, int target_w, int target_h,
                             const LetterboxOptions& o = {}) {
  YOLITE_CHECK(!img.empty(), "letterbox: empty image");
  Letterboxed r;
  r.info = letterbox_info(img.w, img.h, target_w, target_h, o);
  Image content = (r.info.new_w == img.w && r.info.new_h == img.h)
                      ? img
                      : resize(img, r.info.new_w, r.info.new_h, o.interp);
  r.image = pad_to_canvas(content, r.info, o.fill);
  return r;
}

inline Letterboxed letterbox(const Image& img, int size, const LetterboxOptions& o = {}) {
  return letterbox(img, size, size, o);
}

// YOLOv5's check_img_size: the image size rounded up to a multiple of the stride (300 -> 320).
inline int round_up_to_stride(int size, int stride = 32) {
  YOLITE_CHECK(size > 0 && stride > 0, "image size ", size, " / stride ", stride, " must be positive");
  return (size + stride - 1) / stride * stride;
}

}  // namespace yolite::data
