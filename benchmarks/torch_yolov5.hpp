// benchmarks/torch_yolov5.hpp -- the libtorch peer of bench_train_detect: YOLOv5 v7.0 n/s
// written with libtorch C++ modules, its training loss, SGD and EMA, as train.py does them.
//
//   torchyolo::YoloV5 m('s', /*nc=*/80);            // parameter names = YOLOv5's state_dict
//   auto raw = m->forward(x);                        // 3 maps [B, 3*(5+nc), H/8|16|32, W/..]
//   torchyolo::YoloLoss loss(80, 320);
//   auto [total, items] = loss(raw, targets);        // targets [nt, 6] as YOLOv5's collate_fn
//   m->fuse(); m->eval(); auto y = m->decode(m->forward(x));   // detect: conv+BN fused
//
// What it is (and is not). The network is the yolov5{n,s}.yaml of v7.0: Conv = Conv2d (no
// bias) + BatchNorm2d (eps 1e-3, momentum 0.03) + SiLU; C3 with Bottlenecks; SPPF (three 5x5
// max pools); nearest x2 Upsample; Concat; Detect (three 1x1 convs with bias). Module names
// nest as "model.{i}.cv1.conv.weight", so the tensors of a yolite (or YOLOv5) state dict load
// one to one (load_state) and the parameter count is YOLOv5's (1,872,157 / 7,235,389 at nc 80).
// The loss is utils/loss.py ComputeLoss: build_targets (anchor ratio < anchor_t, the cell and
// its two nearest neighbours, g = 0.5), CIoU box loss with alpha under no_grad, BCE-with-logits
// obj loss against the detached IoU (gr = 1) with balance (4, 1, 0.4), BCE class loss, gains
// box 0.05, obj 1.0 * (imgsz/640)^2, cls 0.5 * nc/80 (3 levels), total = bs * (lbox+lobj+lcls).
// No focal loss, no label smoothing, no autocast (fp32), no sort_obj_iou: the hyp.scratch-low
// defaults. The optimizer is train.py's smart_optimizer: SGD(momentum, nesterov), 3 groups
// (BN weights no decay, other weights decay, biases no decay); clip_grad_norm_(10) before every
// optimizer step; ModelEMA (decay 0.9999, tau 2000) over parameters and float buffers. The
// warm-up lr/momentum ramps are not modelled (they change numbers, not work), but the
// accumulation schedule is (the caller steps when train.py would).
#pragma once
#include <torch/torch.h>

#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace torchyolo {

// ---- blocks -----------------------------------------------------------------------------------
struct ConvImpl : torch::nn::Module {
  ConvImpl(int c1, int c2, int k = 1, int s = 1, int p = -1) : stride(s), pad(p < 0 ? k / 2 : p) {
    conv = register_module(
        "conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(c1, c2, k).stride(s).padding(pad).bias(false)));
    bn = register_module("bn", torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(c2).eps(1e-3).momentum(0.03)));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    if (fused_w.defined()) return torch::silu(torch::conv2d(x, fused_w, fused_b, stride, pad));
    return torch::silu(bn(conv(x)));
  }
  // YOLOv5's fuse_conv_and_bn: w' = w * gamma / sqrt(var + eps), b' = beta - mean * that.
  void fuse() {
    torch::NoGradGuard ng;
    auto scale = bn->weight / torch::sqrt(bn->running_var + bn->options.eps());
    fused_w = (conv->weight * scale.view({-1, 1, 1, 1})).contiguous();
    fused_b = (bn->bias - bn->running_mean * scale).contiguous();
  }
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  torch::Tensor fused_w, fused_b;
  int64_t stride, pad;
};
TORCH_MODULE(Conv);

struct BottleneckImpl : torch::nn::Module {
  BottleneckImpl(int c1, int c2, bool shortcut, double e = 0.5) : add(shortcut && c1 == c2) {
    const int c_ = int(c2 * e);
    cv1 = register_module("cv1", Conv(c1, c_, 1, 1));
    cv2 = register_module("cv2", Conv(c_, c2, 3, 1));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = cv2(cv1(x));
    return add ? x + y : y;
  }
  Conv cv1{nullptr}, cv2{nullptr};
  bool add;
};
TORCH_MODULE(Bottleneck);

struct C3Impl : torch::nn::Module {
  C3Impl(int c1, int c2, int n, bool shortcut) {
    const int c_ = int(c2 * 0.5);
    cv1 = register_module("cv1", Conv(c1, c_, 1, 1));
    cv2 = register_module("cv2", Conv(c1, c_, 1, 1));
    cv3 = register_module("cv3", Conv(2 * c_, c2, 1, 1));
    m = register_module("m", torch::nn::ModuleList());
    for (int i = 0; i < n; ++i) {
      bottlenecks.push_back(Bottleneck(c_, c_, shortcut, 1.0));
      m->push_back(bottlenecks.back());
    }
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = cv1(x);
    for (auto& b : bottlenecks) y = b(y);
    return cv3(torch::cat({y, cv2(x)}, 1));
  }
  Conv cv1{nullptr}, cv2{nullptr}, cv3{nullptr};
  torch::nn::ModuleList m{nullptr};
  std::vector<Bottleneck> bottlenecks;
};
TORCH_MODULE(C3);

struct SPPFImpl : torch::nn::Module {
  SPPFImpl(int c1, int c2, int k = 5) : k(k) {
    const int c_ = c1 / 2;
    cv1 = register_module("cv1", Conv(c1, c_, 1, 1));
    cv2 = register_module("cv2", Conv(c_ * 4, c2, 1, 1));
  }
  torch::Tensor forward(const torch::Tensor& x0) {
    auto x = cv1(x0);
    auto y1 = torch::max_pool2d(x, k, 1, k / 2);
    auto y2 = torch::max_pool2d(y1, k, 1, k / 2);
    return cv2(torch::cat({x, y1, y2, torch::max_pool2d(y2, k, 1, k / 2)}, 1));
  }
  Conv cv1{nullptr}, cv2{nullptr};
  int64_t k;
};
TORCH_MODULE(SPPF);

// A parameter-free layer (Upsample, Concat) so the "model.{i}" indices line up with YOLOv5's.
struct NoParamsImpl : torch::nn::Module {};
TORCH_MODULE(NoParams);

struct DetectImpl : torch::nn::Module {
  DetectImpl(int nc, std::vector<int> ch) : nc(nc), no(nc + 5) {
    // yolov5*.yaml anchors (pixels) and strides 8, 16, 32; the buffer is in grid units
    const float a[3][6] = {{10, 13, 16, 30, 33, 23}, {30, 61, 62, 45, 59, 119}, {116, 90, 156, 198, 373, 326}};
    anchors = torch::empty({3, 3, 2});
    for (int l = 0; l < 3; ++l)
      for (int j = 0; j < 6; ++j) anchors.view(-1)[l * 6 + j] = a[l][j] / float(strides[l]);
    anchors = register_buffer("anchors", anchors);
    m = register_module("m", torch::nn::ModuleList());
    for (int l = 0; l < 3; ++l) {
      convs.push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(ch[size_t(l)], na * no, 1)));
      m->push_back(convs.back());
    }
    // _initialize_biases (priors for 640 px images)
    torch::NoGradGuard ng;
    for (int l = 0; l < 3; ++l) {
      auto b = convs[size_t(l)]->bias.view({na, no});
      b.select(1, 4).add_(std::log(8.0 / std::pow(640.0 / strides[l], 2)));
      b.slice(1, 5).add_(std::log(0.6 / (nc - 0.99)));
    }
  }
  std::vector<torch::Tensor> forward(const std::vector<torch::Tensor>& xs) {
    std::vector<torch::Tensor> out;
    for (int l = 0; l < 3; ++l) out.push_back(convs[size_t(l)](xs[size_t(l)]));
    return out;
  }
  // Eval decoding: [B, N, no], rows ordered level, anchor, gy, gx (as yolite and YOLOv5).
  torch::Tensor decode(const std::vector<torch::Tensor>& raw) const {
    std::vector<torch::Tensor> z;
    for (int l = 0; l < 3; ++l) {
      const auto& x = raw[size_t(l)];
      const int64_t B = x.size(0), ny = x.size(2), nx = x.size(3);
      auto y = x.view({B, na, no, ny, nx}).permute({0, 1, 3, 4, 2}).sigmoid();
      auto gy = torch::arange(ny, x.options()).view({1, 1, ny, 1, 1}).expand({1, na, ny, nx, 1});
      auto gx = torch::arange(nx, x.options()).view({1, 1, 1, nx, 1}).expand({1, na, ny, nx, 1});
      auto grid = torch::cat({gx, gy}, 4) - 0.5;
      auto ag = (anchors[l] * strides[l]).view({1, na, 1, 1, 2});
      auto xy = (y.slice(4, 0, 2) * 2 + grid) * double(strides[l]);
      auto wh = (y.slice(4, 2, 4) * 2).pow(2) * ag;
      z.push_back(torch::cat({xy, wh, y.slice(4, 4)}, 4).reshape({B, -1, no}));
    }
    return torch::cat(z, 1);
  }
  const int na = 3, nc, no;
  const int strides[3] = {8, 16, 32};
  torch::Tensor anchors;
  torch::nn::ModuleList m{nullptr};
  std::vector<torch::nn::Conv2d> convs;
};
TORCH_MODULE(Detect);

// ---- the model --------------------------------------------------------------------------------
struct YoloV5Impl : torch::nn::Module {
  // scale 'n' (depth 0.33, width 0.25) or 's' (0.33, 0.50); others work too (m, l, x).
  YoloV5Impl(char scale, int nc) {
    double gd = 0.33, gw = 0.25;
    if (scale == 's') gw = 0.50;
    else if (scale == 'm') gd = 0.67, gw = 0.75;
    else if (scale == 'l') gd = 1.0, gw = 1.0;
    else if (scale == 'x') gd = 1.33, gw = 1.25;
    auto ch = [&](int c) { return int(std::ceil(c * gw / 8.0)) * 8; };
    auto rep = [&](int n) { return std::max(int(std::lround(n * gd)), 1); };
    model = register_module("model", torch::nn::ModuleList());
    auto add = [&](auto mod) {
      model->push_back(mod);
      return mod;
    };
    const int c64 = ch(64), c128 = ch(128), c256 = ch(256), c512 = ch(512), c1024 = ch(1024);
    l0 = add(Conv(3, c64, 6, 2, 2));
    l1 = add(Conv(c64, c128, 3, 2));
    l2 = add(C3(c128, c128, rep(3), true));
    l3 = add(Conv(c128, c256, 3, 2));
    l4 = add(C3(c256, c256, rep(6), true));
    l5 = add(Conv(c256, c512, 3, 2));
    l6 = add(C3(c512, c512, rep(9), true));
    l7 = add(Conv(c512, c1024, 3, 2));
    l8 = add(C3(c1024, c1024, rep(3), true));
    l9 = add(SPPF(c1024, c1024, 5));
    l10 = add(Conv(c1024, c512, 1, 1));
    add(NoParams());  // 11 Upsample
    add(NoParams());  // 12 Concat
    l13 = add(C3(2 * c512, c512, rep(3), false));
    l14 = add(Conv(c512, c256, 1, 1));
    add(NoParams());  // 15 Upsample
    add(NoParams());  // 16 Concat
    l17 = add(C3(2 * c256, c256, rep(3), false));
    l18 = add(Conv(c256, c256, 3, 2));
    add(NoParams());  // 19 Concat
    l20 = add(C3(2 * c256, c512, rep(3), false));
    l21 = add(Conv(c512, c512, 3, 2));
    add(NoParams());  // 22 Concat
    l23 = add(C3(2 * c512, c1024, rep(3), false));
    detect = add(Detect(nc, std::vector<int>{c256, c512, c1024}));
  }
  std::vector<torch::Tensor> forward(const torch::Tensor& x) {
    auto up = [](const torch::Tensor& t) { return torch::upsample_nearest2d(t, {t.size(2) * 2, t.size(3) * 2}); };
    auto x4 = l4(l3(l2(l1(l0(x)))));
    auto x6 = l6(l5(x4));
    auto x10 = l10(l9(l8(l7(x6))));
    auto x14 = l14(l13(torch::cat({up(x10), x6}, 1)));
    auto x17 = l17(torch::cat({up(x14), x4}, 1));
    auto x20 = l20(torch::cat({l18(x17), x14}, 1));
    auto x23 = l23(torch::cat({l21(x20), x10}, 1));
    return detect->forward({x17, x20, x23});
  }
  torch::Tensor decode(const std::vector<torch::Tensor>& raw) const { return detect->decode(raw); }
  void fuse() {
    for (auto& mod : modules(/*include_self=*/false))
      if (auto* c = mod->as<ConvImpl>()) c->fuse();
  }
  int64_t num_params() {
    int64_t n = 0;
    for (auto& p : parameters()) n += p.numel();
    return n;
  }
  // Copies tensors by YOLOv5 name ("model.0.conv.weight", ...); returns how many were set.
  // `get(name, tensor)` fills the tensor (same shape) and returns false when it has no such name.
  template <class Get>
  int load_state(Get&& get) {
    torch::NoGradGuard ng;
    int n = 0;
    for (auto& p : named_parameters()) n += get(p.key(), p.value());
    for (auto& b : named_buffers())
      if (b.value().is_floating_point()) n += get(b.key(), b.value());
    return n;
  }

  torch::nn::ModuleList model{nullptr};
  Conv l0{nullptr}, l1{nullptr}, l3{nullptr}, l5{nullptr}, l7{nullptr}, l10{nullptr}, l14{nullptr},
      l18{nullptr}, l21{nullptr};
  C3 l2{nullptr}, l4{nullptr}, l6{nullptr}, l8{nullptr}, l13{nullptr}, l17{nullptr}, l20{nullptr},
      l23{nullptr};
  SPPF l9{nullptr};
  Detect detect{nullptr};
};
TORCH_MODULE(YoloV5);

// ---- loss (utils/loss.py ComputeLoss, v7.0) ---------------------------------------------------
// CIoU of xywh boxes [n, 4]; alpha computed without gradient (as bbox_iou does).
inline torch::Tensor ciou(const torch::Tensor& b1, const torch::Tensor& b2, double eps = 1e-7) {
  auto x1 = b1.select(1, 0), y1 = b1.select(1, 1), w1 = b1.select(1, 2), h1 = b1.select(1, 3);
  auto x2 = b2.select(1, 0), y2 = b2.select(1, 1), w2 = b2.select(1, 2), h2 = b2.select(1, 3);
  auto b1x1 = x1 - w1 / 2, b1x2 = x1 + w1 / 2, b1y1 = y1 - h1 / 2, b1y2 = y1 + h1 / 2;
  auto b2x1 = x2 - w2 / 2, b2x2 = x2 + w2 / 2, b2y1 = y2 - h2 / 2, b2y2 = y2 + h2 / 2;
  auto inter = (torch::min(b1x2, b2x2) - torch::max(b1x1, b2x1)).clamp(0) *
               (torch::min(b1y2, b2y2) - torch::max(b1y1, b2y1)).clamp(0);
  auto uni = w1 * h1 + w2 * h2 - inter + eps;
  auto iou = inter / uni;
  auto cw = torch::max(b1x2, b2x2) - torch::min(b1x1, b2x1);
  auto chh = torch::max(b1y2, b2y2) - torch::min(b1y1, b2y1);
  auto c2 = cw.pow(2) + chh.pow(2) + eps;
  auto rho2 = ((b2x1 + b2x2 - b1x1 - b1x2).pow(2) + (b2y1 + b2y2 - b1y1 - b1y2).pow(2)) / 4;
  auto v = (4 / (M_PI * M_PI)) * (torch::atan(w2 / h2) - torch::atan(w1 / h1)).pow(2);
  torch::Tensor alpha;
  {
    torch::NoGradGuard ng;
    alpha = v / (v - iou + (1 + eps));
  }
  return iou - (rho2 / c2 + v * alpha);
}

struct YoloLoss {
  YoloLoss(int nc, int imgsz, torch::Tensor anchors_grid /* [3, 3, 2] grid units */)
      : nc(nc), anchors(std::move(anchors_grid)) {
    box = 0.05;                                   // hyp.scratch-low, times 3 / nl (= 1)
    obj = 1.0 * std::pow(imgsz / 640.0, 2);
    cls = 0.5 * nc / 80.0;
  }
  struct Out {
    torch::Tensor total;
    double items[3];
  };
  Out operator()(const std::vector<torch::Tensor>& raw, const torch::Tensor& targets) const {
    auto opts = raw[0].options();
    auto lbox = torch::zeros({1}, opts), lobj = torch::zeros({1}, opts), lcls = torch::zeros({1}, opts);
    const int64_t bs = raw[0].size(0);
    const int64_t nt = targets.size(0);
    // targets (na, nt, 7): image, class, x, y, w, h, anchor index
    auto ai = torch::arange(na, opts).view({na, 1}).repeat({1, nt});
    auto tg = torch::cat({targets.repeat({na, 1, 1}), ai.unsqueeze(2)}, 2);
    const double g = 0.5;
    auto off = torch::tensor({0.f, 0.f, 1.f, 0.f, 0.f, 1.f, -1.f, 0.f, 0.f, -1.f}, opts).view({5, 2}) * g;
    for (int l = 0; l < 3; ++l) {
      const auto& x = raw[size_t(l)];
      const int64_t ny = x.size(2), nx = x.size(3);
      auto pi = x.view({bs, na, nc + 5, ny, nx}).permute({0, 1, 3, 4, 2});  // (b, a, y, x, no)
      auto anc = anchors[l];
      auto gain = torch::ones({7}, opts);
      gain[2] = double(nx), gain[3] = double(ny), gain[4] = double(nx), gain[5] = double(ny);
      auto t = tg * gain;
      torch::Tensor offsets;
      if (nt) {
        auto r = t.slice(2, 4, 6) / anc.unsqueeze(1);
        auto j = std::get<0>(torch::max(r, 1 / r).max(2)) < anchor_t;
        t = t.index({j});
        auto gxy = t.slice(1, 2, 4);
        auto gxi = gain.slice(0, 2, 4) - gxy;
        auto jk = ((gxy.fmod(1) < g) & (gxy > 1)).t();
        auto lm = ((gxi.fmod(1) < g) & (gxi > 1)).t();
        auto sel = torch::stack({torch::ones_like(jk[0]), jk[0], jk[1], lm[0], lm[1]});
        t = t.repeat({5, 1, 1}).index({sel});
        offsets = (torch::zeros_like(gxy).unsqueeze(0) + off.unsqueeze(1)).index({sel});
      } else {
        t = tg[0];
        offsets = torch::zeros({0, 2}, opts);
      }
      auto b = t.select(1, 0).to(torch::kLong), c = t.select(1, 1).to(torch::kLong);
      auto gxy = t.slice(1, 2, 4), gwh = t.slice(1, 4, 6);
      auto a = t.select(1, 6).to(torch::kLong);
      auto gij = (gxy - offsets).to(torch::kLong);
      auto gi = gij.select(1, 0).clamp(0, nx - 1), gj = gij.select(1, 1).clamp(0, ny - 1);
      auto tbox = torch::cat({gxy - gij, gwh}, 1);
      auto tobj = torch::zeros({bs, na, ny, nx}, opts);
      const int64_t n = b.size(0);
      if (n) {
        auto ps = pi.index({b, a, gj, gi});  // [n, no]
        auto pxy = ps.slice(1, 0, 2).sigmoid() * 2 - 0.5;
        auto pwh = (ps.slice(1, 2, 4).sigmoid() * 2).pow(2) * anc.index({a});
        auto iou = ciou(torch::cat({pxy, pwh}, 1), tbox);
        lbox = lbox + (1.0 - iou).mean();
        tobj.index_put_({b, a, gj, gi}, iou.detach().clamp(0));  // gr = 1
        if (nc > 1) {
          auto pcls = ps.slice(1, 5);
          auto tc = torch::zeros_like(pcls);  // smooth_BCE(eps = 0): cp 1, cn 0
          tc.index_put_({torch::arange(n), c}, 1.0);
          lcls = lcls + torch::binary_cross_entropy_with_logits(pcls, tc);
        }
      }
      lobj = lobj + torch::binary_cross_entropy_with_logits(pi.select(4, 4), tobj) * balance[l];
    }
    lbox = lbox * box, lobj = lobj * obj, lcls = lcls * cls;
    Out o;
    o.total = (lbox + lobj + lcls) * double(bs);
    o.items[0] = lbox.item<double>(), o.items[1] = lobj.item<double>(), o.items[2] = lcls.item<double>();
    return o;
  }
  int nc;
  static constexpr int na = 3;
  torch::Tensor anchors;
  double box, obj, cls, anchor_t = 4.0;
  const double balance[3] = {4.0, 1.0, 0.4};
};

// ---- optimizer and EMA (train.py smart_optimizer, utils/torch_utils.py ModelEMA) --------------
inline std::unique_ptr<torch::optim::SGD> make_sgd(YoloV5& m, double lr, double momentum, double decay) {
  std::vector<torch::Tensor> g_bn, g_w, g_b;
  for (auto& p : m->named_parameters()) {
    const std::string& k = p.key();
    const bool is_bias = k.size() > 5 && k.compare(k.size() - 5, 5, ".bias") == 0;
    const bool is_bn = k.find(".bn.") != std::string::npos;
    (is_bias ? g_b : is_bn ? g_bn : g_w).push_back(p.value());
  }
  auto opt = [&](double wd) {
    return std::make_unique<torch::optim::SGDOptions>(
        torch::optim::SGDOptions(lr).momentum(momentum).nesterov(true).weight_decay(wd));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(g_bn, opt(0.0));
  groups.emplace_back(g_w, opt(decay));
  groups.emplace_back(g_b, opt(0.0));
  return std::make_unique<torch::optim::SGD>(groups, torch::optim::SGDOptions(lr).momentum(momentum).nesterov(true));
}

struct ModelEMA {
  explicit ModelEMA(YoloV5& m) {
    torch::NoGradGuard ng;
    for (auto& t : float_state(m)) ema.push_back(t.detach().clone());
  }
  void update(YoloV5& m) {
    torch::NoGradGuard ng;
    ++updates;
    const double d = 0.9999 * (1 - std::exp(-double(updates) / 2000.0));
    auto cur = float_state(m);
    for (size_t i = 0; i < ema.size(); ++i) {
      ema[i].mul_(d);
      ema[i].add_(cur[i].detach(), 1 - d);
    }
  }
  static std::vector<torch::Tensor> float_state(YoloV5& m) {
    std::vector<torch::Tensor> out;
    for (auto& p : m->parameters()) out.push_back(p);
    for (auto& b : m->buffers())
      if (b.is_floating_point()) out.push_back(b);
    return out;
  }
  std::vector<torch::Tensor> ema;
  int64_t updates = 0;
};

}  // namespace torchyolo
