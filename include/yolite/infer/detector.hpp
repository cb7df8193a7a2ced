// infer/detector.hpp -- Detector: weights in, boxes out. The API for embedding yolite.
//
//   yolite::Detector det("runs/train/exp/weights/best.pt");      // or a YOLOv5 .pt
//   for (const auto& d : det.detect("photo.jpg"))                 // or det.detect(image)
//     std::printf("%s %.2f at %.0f,%.0f-%.0f,%.0f\n", det.name(d.cls).c_str(), d.score,
//                 d.x1, d.y1, d.x2, d.y2);
//
// What detect() does (YOLOv5's detect.py): letterbox the image to the input size keeping its
// aspect (padding to a stride multiple only, grey 114), RGB 0..1 NCHW, an eval-mode forward
// without a graph, NMS (conf 0.25, IoU 0.45, max 1000 by default), and the boxes mapped back
// to the original image's pixels. detect() is const and keeps no per-call state in the object,
// so one Detector can serve several threads at once. At load, every Conv block's BatchNorm is
// folded into its convolution (YOLOv5's fuse(); DetectorOptions::fuse = false keeps them apart),
// and each detect() runs with denormals flushed to zero (core/parallel.hpp).
//
// The class is declared first (all a program that embeds it needs, see core/api.hpp); the
// bodies follow.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "../core/api.hpp"
#include "../core/detection.hpp"
#include "../core/image.hpp"

namespace yolite {

namespace model {
template <class T>
class BasicYolo;
using YoloModel = BasicYolo<float>;
}  // namespace model

struct DetectorOptions {
  int imgsz = 640;          // rounded up to a multiple of the model's largest stride
  float conf_thres = 0.25f;
  float iou_thres = 0.45f;
  int max_det = 1000;
  std::vector<int> classes;  // keep only these class ids (empty = all)
  bool agnostic_nms = false;
  bool fuse = true;          // fold each Conv's BatchNorm into its weights once, at load
  bool bf16 = false;         // convolutions in bf16 (needs AVX512_BF16; checked at construction)
  bool augment = false;      // test-time augmentation: 3 passes, 2-3x the time (infer/augment.hpp)
};

// Time spent per stage of one detect() call, in milliseconds.
struct DetectTiming {
  double pre = 0, inference = 0, nms = 0;
};

class Detector {
 public:
  // Loads a yolite or YOLOv5 checkpoint (errors name the file and what is wrong with it).
  explicit Detector(const std::string& weights, DetectorOptions opt = {});

  // The boxes NMS keeps, in the image's own pixels (a path is loaded with data::load_image).
  std::vector<Detection> detect(const Image& img, DetectTiming* timing = nullptr) const;
  std::vector<Detection> detect(const std::string& path, DetectTiming* timing = nullptr) const;

  const std::string& name(int cls) const;   // class name of a detection's cls
  const std::vector<std::string>& names() const;
  const DetectorOptions& options() const { return opt_; }
  int input_size() const { return opt_.imgsz; }
  const model::YoloModel& model() const { return *model_; }

 private:
  std::shared_ptr<model::YoloModel> model_;  // eval mode, never switched: safe to share
  DetectorOptions opt_;
  int stride_ = 32;
};

}  // namespace yolite

#if YOLITE_API_BODIES
#include <chrono>

#include "../core/parallel.hpp"
#include "../data/image_io.hpp"
#include "../data/letterbox.hpp"
#include "../model/weights.hpp"
#include "../nn/conv.hpp"
#include "../ops/conv2d.hpp"
#include "augment.hpp"
#include "nms.hpp"

namespace yolite {

// An image as the network's input: [1, 3, H, W] floats in 0..1 (RGB).
inline Tensor<float> image_to_tensor(const Image& img) {
  YOLITE_CHECK(img.c == 3, "image_to_tensor: expected an RGB image, got ", img.c, " channels");
  Tensor<float> t({1, 3, img.h, img.w});
  const int64_t plane = int64_t(img.w) * img.h;
  for (int y = 0; y < img.h; ++y) {
    const uint8_t* row = img.row(y);
    for (int x = 0; x < img.w; ++x)
      for (int c = 0; c < 3; ++c) t[c * plane + int64_t(y) * img.w + x] = row[x * 3 + c] * (1.f / 255.f);
  }
  return t;
}

YOLITE_API Detector::Detector(const std::string& weights, DetectorOptions opt)
    : model_(model::build_model(model::read_weights(weights))), opt_(std::move(opt)) {
  if (opt_.bf16) ops::bf16::require_cpu("DetectorOptions::bf16 (--bf16)");
  if (opt_.fuse) nn::fuse_conv_bn<float>(*model_);
  stride_ = std::max(32, int(model_->max_stride()));
  opt_.imgsz = data::round_up_to_stride(opt_.imgsz, stride_);
  if (model_->names.size() != size_t(model_->nc())) {
    model_->names.clear();
    for (int i = 0; i < model_->nc(); ++i) model_->names.push_back(std::to_string(i));
  }
}

YOLITE_API std::vector<Detection> Detector::detect(const Image& img, DetectTiming* timing) const {
  using clock = std::chrono::steady_clock;
  YOLITE_CHECK(!img.empty(), "Detector::detect: empty image");
  auto t0 = clock::now();
  Image rgb = to_rgb(img);
  data::LetterboxOptions lo;
  lo.auto_pad = true;
  lo.stride = stride_;
  data::Letterboxed lb = data::letterbox(rgb, opt_.imgsz, lo);
  Tensor<float> x = image_to_tensor(lb.image);
  auto t1 = clock::now();
  Tensor<float> pred;
  {
    NoGradGuard ng;
    FlushDenormalsGuard ftz;
    ops::PrecisionGuard prec(opt_.bf16 ? ops::Precision::bf16 : ops::Precision::fp32);
    // only the rows NMS can keep (objectness above conf_thres) are decoded
    if (opt_.augment) {
      Tensor<float> all = forward_augment(*model_, x);  // [1, N, no]: every row of the three passes
      pred = all.reshape({all.size(1), all.size(2)});
    } else {
      pred = model_->detect().decode_above(model_->forward_raw(Var<float>(x)), 0,
                                           opt_.conf_thres);
    }
  }
  auto t2 = clock::now();
  NmsOptions n;
  n.conf_thres = opt_.conf_thres, n.iou_thres = opt_.iou_thres, n.max_det = opt_.max_det;
  n.classes = opt_.classes, n.agnostic = opt_.agnostic_nms;
  auto dets = non_max_suppression(pred.data(), pred.size(0), int(pred.size(1)), n);
  for (auto& d : dets) d = lb.info.to_original(d);
  auto t3 = clock::now();
  if (timing) {
    timing->pre = std::chrono::duration<double, std::milli>(t1 - t0).count();
    timing->inference = std::chrono::duration<double, std::milli>(t2 - t1).count();
    timing->nms = std::chrono::duration<double, std::milli>(t3 - t2).count();
  }
  return dets;
}

YOLITE_API std::vector<Detection> Detector::detect(const std::string& path, DetectTiming* timing) const {
  return detect(data::load_image(path), timing);
}

YOLITE_API const std::string& Detector::name(int cls) const {
  YOLITE_CHECK(cls >= 0 && cls < int(model_->names.size()), "Detector: class id ", cls,
               " out of range (", model_->names.size(), " classes)");
  return model_->names[size_t(cls)];
}

YOLITE_API const std::vector<std::string>& Detector::names() const { return model_->names; }

}  // namespace yolite
#endif  // YOLITE_API_BODIES
