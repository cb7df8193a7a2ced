// model/summary.hpp -- layer count, parameters and GFLOPs of a model, as YOLOv5 prints them.
//
//   auto m = model::make_yolov5("s", 80);
//   auto s = model::summarize(*m);
//   std::puts(s.line().c_str());        // YOLOv5s summary: 214 layers, 7235389 parameters,
//                                       //   7235389 gradients, 16.6 GFLOPs
//   std::puts(s.fused_line().c_str());  // YOLOv5s summary: 157 layers, 7225885 parameters,
//                                       //   0 gradients, 16.5 GFLOPs (README's figure)
//   std::puts(model::layer_table(*m).c_str());   // parse_model's table: from n params module
//
// What is counted (YOLOv5's utils/torch_utils.py model_info, which uses thop):
// - layers: PyTorch's len(list(model.modules())): every module object once. YOLOv5's Conv
//   blocks all share ONE nn.SiLU instance (Conv.default_act), so it counts once; SPPF's
//   MaxPool2d is one module used three times. Fused (Conv+BN folded, as `detect.py`/`val.py`
//   print after model.fuse()): the BatchNorm2d modules are gone.
// - parameters: every element of every parameter. Fused: each BN's weight and bias (2c) become
//   the conv's bias (c), so c fewer per BN. gradients: parameters that require grad (all of
//   them for a training model; YOLOv5 prints 0 for a fused inference model).
// - GFLOPs at img x img, always 2 * (operations) / 1e9 like YOLOv5, where operations are
//   the multiply-accumulates of every convolution (Detect's included: out_elems * c_in * k * k)
//   plus a per-element count for each BatchNorm2d output (every Conv block has one):
//     fused_gflops: 1 per BN output element -- the bias addition that the folded conv+BN
//       performs (Detect's own bias additions are not counted). This is the rule that
//       reproduces all five figures of YOLOv5's README table at nc 80: n 4.5, s 16.5, m 49.0,
//       l 109.1, x 205.7 (conv MACs alone give 4.5, 16.4, 48.9, 109.0, 205.4; adding Detect's
//       bias additions too would give l 109.2).
//     gflops (unfused): 4 per BN output element, thop 0.1.x's count_normalization (2 per
//       element, x2 when affine); e.g. s 16.6, what YOLOv5 v7.0 prints when training starts.
//   Activations, pooling, upsampling and concatenation count 0, as in thop. thop profiles a
//   32x32 input and YOLOv5 scales by (img/32)^2; every layer of these models scales exactly
//   with the area, so counting at img directly gives the same.
#pragma once
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "yolo.hpp"

namespace yolite::model {

struct ModelSummary {
  std::string name;                 // "YOLOv5s"
  int64_t layers = 0, parameters = 0, gradients = 0;
  double gflops = 0;                // unfused (thop with BatchNorm2d counted)
  int64_t fused_layers = 0, fused_parameters = 0;
  double fused_gflops = 0;          // conv MACs + folded BN bias adds (the README FLOPs@640)
  int img = 640;

  std::string line() const {
    return str(name, " summary: ", layers, " layers, ", parameters, " parameters, ", gradients,
               " gradients, ", fmt1(gflops), " GFLOPs");
  }
  std::string fused_line() const {
    return str(name, " summary: ", fused_layers, " layers, ", fused_parameters,
               " parameters, 0 gradients, ", fmt1(fused_gflops), " GFLOPs");
  }
  static std::string fmt1(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f", v);
    return b;
  }
};

namespace detail {
// Walks a module subtree whose convolutions (other than a Conv block's own stride) keep the
// input size h x w: adds conv MACs and BatchNorm output elements, counts modules and BNs.
template <class T>
void count_module(const nn::Module<T>& m, int64_t h, int64_t w, int64_t& macs, int64_t& bn_elems,
                  int64_t& modules, int64_t& bns) {
  ++modules;
  if (dynamic_cast<const nn::SPPF<T>*>(&m)) ++modules;  // its MaxPool2d
  if (auto* c = dynamic_cast<const nn::Conv2d<T>*>(&m)) {
    macs += c->macs(h, w);
    return;
  }
  if (auto* cb = dynamic_cast<const nn::Conv<T>*>(&m)) {
    const auto& cv = *cb->conv;
    count_module<T>(cv, h, w, macs, bn_elems, modules, bns);
    ++modules;  // its BatchNorm2d
    ++bns;
    bn_elems += int64_t(cv.c2) * cv.out_size(h) * cv.out_size(w);
    return;
  }
  for (auto& [name, c] : m.children()) count_module<T>(*c, h, w, macs, bn_elems, modules, bns);
}
inline std::string yolov5_display_name(std::string n) {
  if (n.rfind("yolov5", 0) == 0) n = "YOLOv5" + n.substr(6);
  return n.empty() ? std::string("Model") : n;
}
}  // namespace detail

template <class T>
ModelSummary summarize(const BasicYolo<T>& m, int img = 640) {
  YOLITE_CHECK(img > 0, "summarize: image size must be positive, got ", img);
  ModelSummary s;
  s.name = detail::yolov5_display_name(m.spec().name);
  s.img = img;
  int64_t macs = 0, bn_elems = 0, modules = 2, bns = 0;  // DetectionModel + Sequential
  modules += 1;                                            // the shared SiLU
  for (auto& L : m.layers()) {
    if (auto* d = dynamic_cast<const Detect<T>*>(L.module.get())) {
      modules += 2;  // Detect + its ModuleList
      for (size_t l = 0; l < d->convs.size(); ++l) {
        const double st = d->stride[l];
        int64_t hh = int64_t(img / st), ww = int64_t(img / st);
        detail::count_module<T>(*d->convs[l], hh, ww, macs, bn_elems, modules, bns);
      }
      continue;
    }
    const int r = L.inputs[0];
    const double in_stride = r < 0 ? 1.0 : m.layers()[size_t(r)].stride;
    int64_t hh = int64_t(img / in_stride), ww = int64_t(img / in_stride);
    detail::count_module<T>(*L.module, hh, ww, macs, bn_elems, modules, bns);
  }
  s.layers = modules;
  s.fused_layers = modules - bns;
  s.parameters = 0;
  s.gradients = 0;
  int64_t bn_channels = 0;
  for (auto& [name, p] : m.named_parameters()) {
    s.parameters += p.value().numel();
    if (p.requires_grad()) s.gradients += p.value().numel();
    if (name.size() > 8 && name.compare(name.size() - 8, 8, ".bn.bias") == 0)
      bn_channels += p.value().numel();
  }
  s.fused_parameters = s.parameters - bn_channels;
  s.fused_gflops = 2.0 * (double(macs) + double(bn_elems)) / 1e9;
  s.gflops = 2.0 * (double(macs) + 4.0 * double(bn_elems)) / 1e9;
  return s;
}

// YOLOv5's parse_model table: index, from, n, params, module, arguments.
template <class T>
std::string layer_table(const BasicYolo<T>& m) {
  std::string out;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%3s %18s %3s %10s  %-40s %-30s\n", "", "from", "n", "params",
                "module", "arguments");
  out += buf;
  for (auto& L : m.layers()) {
    std::string from;
    if (L.from.size() == 1) {
      from = std::to_string(L.from[0]);
    } else {
      from = "[";
      for (size_t j = 0; j < L.from.size(); ++j)
        from += (j ? ", " : "") + std::to_string(L.from[j]);
      from += "]";
    }
    const std::string mod = (L.block == "Upsample" ? "torch.nn.modules.upsampling."
                                                    : "models.common.") + L.block;
    const std::string mod2 = L.block == "Detect" ? "models.yolo.Detect" : mod;
    std::snprintf(buf, sizeof buf, "%3d %18s %3d %10lld  %-40s %-30s\n", L.index, from.c_str(),
                  L.repeats, (long long)L.module->num_parameters(), mod2.c_str(), L.args.c_str());
    out += buf;
  }
  return out;
}

}  // namespace yolite::model
