// model/yolo.hpp -- the YOLOv5 detection model, built at run time from a spec (spec.hpp).
//
//   auto m = model::make_yolov5("s", /*nc=*/5, /*seed=*/0);   // or "yolov5s", "yolov5s.yaml"
//   m->train();                                              // (the default, like PyTorch)
//   auto out = (*m)(Var<float>(x));      // x [B,3,H,W], H and W multiples of 32
//   out.raw      // 3 maps [B, na*(5+nc), H/8|16|32, W/8|16|32]: the loss's input
//   m->eval();
//   out = (*m)(Var<float>(x));           // also out.decoded [B, N, 5+nc] (pixels, sigmoided)
//   Tensor<float> y = m->predict(x);     // decoded, eval mode, no graph recorded
//
// The module tree and its tensor names are YOLOv5's DetectionModel: "model.{i}...." with i the
// layer index, so state_dict() lists exactly the keys of a YOLOv5 checkpoint (349 for yolov5n
// and yolov5s) and load_state_dict() takes them back (nn/module.hpp). `layers()` describes the
// network as YOLOv5's summary prints it (from, repeats, params, module, arguments).
//
// Building follows YOLOv5's parse_model: channels c -> ceil(c*width/8)*8, repeats
// n -> max(round(n*depth), 1), C3 receives n as its bottleneck count, Concat sums its inputs'
// channels, Detect gets the channels of its inputs. Strides come from the layer arithmetic
// (product of conv strides, halved by each Upsample) rather than from a trial forward pass;
// anchors are flipped when their order disagrees with the strides (check_anchor_order).
// Initialisation is PyTorch's defaults (nn/conv.hpp) drawn from yolite::Rng(seed) in state-dict
// order, then Detect's prior biases: the same seed always gives the same weights.
#pragma once
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "../nn/bottleneck.hpp"
#include "../nn/c3.hpp"
#include "../nn/conv.hpp"
#include "../nn/layers.hpp"
#include "../nn/module.hpp"
#include "../nn/sppf.hpp"
#include "detect.hpp"
#include "spec.hpp"

namespace yolite::model {

template <class T>
struct YoloOutput {
  std::vector<Var<T>> raw;  // per level [B, na*no, ny, nx] logits, channel = a*no + k
  Tensor<T> decoded;        // eval mode only: [B, N, no]; undefined in training mode
};

// One row of the built network (what YOLOv5's parse_model prints).
template <class T>
struct LayerInfo {
  int index = 0;
  std::vector<int> from;          // as written in the spec (-1 = previous layer)
  std::vector<int> inputs;        // resolved absolute indices (-1 = the image)
  int repeats = 1;                // after depth scaling
  std::string block;              // "Conv", "C3", "SPPF", "Upsample", "Concat", "Detect"
  std::string args;               // the block's arguments after scaling, e.g. "[3, 16, 6, 2, 2]"
  int c_out = 0;                  // output channels
  double stride = 1;              // output stride relative to the image
  std::shared_ptr<nn::Module<T>> module;
};

namespace detail {
inline std::string block_name(std::string b) {
  if (b.rfind("nn.", 0) == 0) b = b.substr(3);
  return b;
}
inline bool arg_present(const std::vector<std::string>& a, size_t i) {
  return i < a.size() && a[i] != "None" && a[i] != "none" && a[i] != "null" && !a[i].empty();
}
inline long arg_int(const LayerSpec& L, int index, size_t i, long def) {
  if (!arg_present(L.args, i)) return def;
  const std::string& s = L.args[i];
  try {
    size_t used = 0;
    long v = std::stol(s, &used);
    if (used == s.size()) return v;
  } catch (const std::exception&) {
  }
  fail("model spec layer ", index, " (", L.block, "): argument ", i, " is '", s,
       "', expected an integer");
}
inline bool arg_bool(const LayerSpec& L, int index, size_t i, bool def) {
  if (!arg_present(L.args, i)) return def;
  const std::string& s = L.args[i];
  if (s == "True" || s == "true" || s == "1") return true;
  if (s == "False" || s == "false" || s == "0") return false;
  fail("model spec layer ", index, " (", L.block, "): argument ", i, " is '", s,
       "', expected True or False");
}
inline std::string list_str(const std::vector<long>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}
}  // namespace detail

template <class T>
class BasicYolo : public nn::Module<T> {
 public:
  // nc <= 0 keeps the spec's class count. The input has `ch` channels (3 for RGB).
  explicit BasicYolo(ModelSpec spec, int nc = 0, uint64_t seed = 0, int ch = 3)
      : spec_(std::move(spec)), ch_(ch) {
    if (nc > 0) spec_.nc = nc;
    YOLITE_CHECK(spec_.nc >= 1, "model ", spec_.name, ": number of classes must be >= 1, got ",
                 spec_.nc);
    YOLITE_CHECK(!spec_.layers.empty(), "model ", spec_.name, ": the spec has no layers");
    names.resize(size_t(spec_.nc));
    for (int i = 0; i < spec_.nc; ++i) names[size_t(i)] = std::to_string(i);
    seq_ = this->register_module("model", std::make_shared<nn::ModuleList<T>>("Sequential"));
    build();
    Rng rng(seed);
    this->init_parameters(rng);
  }
  std::string type_name() const override { return "DetectionModel"; }

  // Raw Detect outputs (train or eval mode, per the module's mode). When detect_inputs is
  // given it receives the Detect module's inputs (the outputs of layers 17, 20, 23).
  std::vector<Var<T>> forward_raw(const Var<T>& x, std::vector<Var<T>>* detect_inputs = nullptr) {
    check_input(x.shape());
    std::vector<Var<T>> outs(layers_.size());
    for (size_t i = 0; i < layers_.size(); ++i) {
      const LayerInfo<T>& L = layers_[i];
      std::vector<Var<T>> in;
      for (int r : L.inputs) in.push_back(r < 0 ? x : outs[size_t(r)]);
      if (L.module.get() == detect_.get()) {
        if (detect_inputs) *detect_inputs = in;
        return detect_->forward_raw(in);
      }
      outs[i] = L.module->forward_multi(in);
      for (int r : L.inputs)  // free what no later layer reads
        if (r >= 0 && last_use_[size_t(r)] == int(i)) outs[size_t(r)] = Var<T>();
    }
    fail("model ", spec_.name, ": the spec has no Detect layer");
  }

  // YOLOv5's model(x): raw maps always, decoded predictions in eval mode.
  YoloOutput<T> operator()(const Var<T>& x) {
    YoloOutput<T> out;
    out.raw = forward_raw(x);
    if (!this->is_training()) out.decoded = detect_->decode(out.raw);
    return out;
  }

  // Decoded predictions [B, N, 5+nc] for images x [B,3,H,W] (float, 0..1), computed in eval
  // mode without recording a graph; the module's mode is restored afterwards.
  Tensor<T> predict(const Tensor<T>& x) {
    NoGradGuard ng;
    const bool was = this->is_training();
    if (was) this->eval();
    struct Restore {
      BasicYolo* m;
      bool was;
      ~Restore() {
        if (was) m->train(true);
      }
    } restore{this, was};
    return detect_->decode(forward_raw(Var<T>(x)));
  }

  int nc() const { return spec_.nc; }
  int num_anchors() const { return detect_->na; }
  int num_outputs() const { return detect_->no; }  // 5 + nc
  const std::vector<double>& stride() const { return detect_->stride; }
  double max_stride() const { return *std::max_element(stride().begin(), stride().end()); }
  Detect<T>& detect() const { return *detect_; }
  const ModelSpec& spec() const { return spec_; }
  const std::vector<LayerInfo<T>>& layers() const { return layers_; }
  int input_channels() const { return ch_; }
  // Anchors in pixels [nl, na, 2] (the Detect buffer times the strides).
  Tensor<T> anchors_px() const {
    Tensor<T> a = detect_->anchors.clone();
    const int64_t per = detect_->na * 2;
    for (int64_t l = 0; l < a.size(0); ++l)
      for (int64_t j = 0; j < per; ++j) a[l * per + j] *= T(detect_->stride[size_t(l)]);
    return a;
  }

  std::vector<std::string> names;  // class names ("0", "1", ... until set)

 private:
  void check_input(const Shape& s) const {
    const int64_t ms = int64_t(max_stride());
    YOLITE_CHECK(s.ndim() == 4 && s[1] == ch_ && s[0] >= 1,
                 "model ", spec_.name, ": input must be [B, ", ch_, ", H, W], got ", s.str());
    YOLITE_CHECK(s[2] >= ms && s[3] >= ms && s[2] % ms == 0 && s[3] % ms == 0, "model ",
                 spec_.name, ": input ", s.str(), ": H and W must be positive multiples of ", ms,
                 " (the largest stride)");
  }

  void build() {
    const double gd = spec_.depth_multiple, gw = spec_.width_multiple;
    std::vector<int> ch;          // output channels per layer
    std::vector<double> fac;      // output stride per layer
    auto c_of = [&](int r) { return r < 0 ? ch_ : ch[size_t(r)]; };
    auto f_of = [&](int r) { return r < 0 ? 1.0 : fac[size_t(r)]; };
    for (size_t ii = 0; ii < spec_.layers.size(); ++ii) {
      const int i = int(ii);
      const LayerSpec& S = spec_.layers[ii];
      LayerInfo<T> L;
      L.index = i;
      L.from = S.from;
      L.block = detail::block_name(S.block);
      YOLITE_CHECK(!S.from.empty(), "model spec layer ", i, " (", S.block, "): empty 'from'");
      for (int f : S.from) {
        int r = f < 0 ? i + f : f;
        YOLITE_CHECK(r >= -1 && r < i, "model spec layer ", i, " (", S.block, "): input ", f,
                     " does not name an earlier layer");
        L.inputs.push_back(r);
      }
      YOLITE_CHECK(S.repeats >= 1, "model spec layer ", i, ": repeats must be >= 1, got ",
                   S.repeats);
      const int n = scale_repeats(S.repeats, gd);
      L.repeats = n;
      const int c1 = c_of(L.inputs[0]);
      const double f1 = f_of(L.inputs[0]);
      auto need_single = [&]() {
        YOLITE_CHECK(L.inputs.size() == 1, "model spec layer ", i, " (", L.block,
                     "): takes one input, got ", L.inputs.size());
        YOLITE_CHECK(n == 1, "model spec layer ", i, " (", L.block,
                     "): repeats > 1 are supported for C3 only, got ", S.repeats);
      };
      auto out_channels = [&]() {
        long c = detail::arg_int(S, i, 0, -1);
        YOLITE_CHECK(c > 0, "model spec layer ", i, " (", L.block,
                     "): first argument must be the output channel count");
        return scale_channels(int(c), gw);
      };
      if (L.block == "Conv") {
        need_single();
        int c2 = out_channels();
        long k = detail::arg_int(S, i, 1, 1), s = detail::arg_int(S, i, 2, 1);
        long p = detail::arg_int(S, i, 3, -1);
        L.module = std::make_shared<nn::Conv<T>>(c1, c2, int(k), int(s), int(p));
        std::vector<long> a{c1, c2, k, s};
        if (p >= 0) a.push_back(p);
        L.args = detail::list_str(a);
        L.c_out = c2;
        L.stride = f1 * double(s);
      } else if (L.block == "C3") {
        YOLITE_CHECK(L.inputs.size() == 1, "model spec layer ", i, " (C3): takes one input");
        int c2 = out_channels();
        bool sc = detail::arg_bool(S, i, 1, true);
        L.module = std::make_shared<nn::C3<T>>(c1, c2, n, sc);
        L.args = str("[", c1, ", ", c2, ", ", n, sc ? "" : ", False", "]");
        L.c_out = c2;
        L.stride = f1;
      } else if (L.block == "SPPF") {
        need_single();
        int c2 = out_channels();
        long k = detail::arg_int(S, i, 1, 5);
        L.module = std::make_shared<nn::SPPF<T>>(c1, c2, int(k));
        L.args = detail::list_str({c1, c2, k});
        L.c_out = c2;
        L.stride = f1;
      } else if (L.block == "Upsample") {
        need_single();
        long sc = detail::arg_int(S, i, 1, 2);
        YOLITE_CHECK(!detail::arg_present(S.args, 2) || S.args[2] == "nearest",
                     "model spec layer ", i, " (Upsample): only mode 'nearest' is supported, got '",
                     S.args[2], "'");
        L.module = std::make_shared<nn::Upsample<T>>(int(sc));
        L.args = str("[None, ", sc, ", 'nearest']");
        L.c_out = c1;
        L.stride = f1 / double(sc);
      } else if (L.block == "Concat") {
        YOLITE_CHECK(n == 1, "model spec layer ", i, " (Concat): repeats must be 1");
        long d = detail::arg_int(S, i, 0, 1);
        L.module = std::make_shared<nn::Concat<T>>(int(d));
        L.c_out = 0;
        for (int r : L.inputs) {
          L.c_out += c_of(r);
          YOLITE_CHECK(f_of(r) == f1, "model spec layer ", i, " (Concat): inputs ",
                       L.inputs[0], " (stride ", f1, ") and ", r, " (stride ", f_of(r),
                       ") have different resolutions");
        }
        L.args = str("[", d, "]");
        L.stride = f1;
      } else if (L.block == "Detect") {
        YOLITE_CHECK(ii + 1 == spec_.layers.size(), "model spec layer ", i,
                     ": Detect must be the last layer");
        YOLITE_CHECK(int(L.inputs.size()) == int(spec_.anchors.size()), "model spec layer ", i,
                     " (Detect): ", L.inputs.size(), " inputs but ", spec_.anchors.size(),
                     " anchor levels");
        std::vector<int> chs;
        std::vector<double> strides;
        for (int r : L.inputs) {
          chs.push_back(c_of(r));
          strides.push_back(f_of(r));
        }
        auto anchors = spec_.anchors;
        check_anchor_order(anchors, strides);
        detect_ = std::make_shared<Detect<T>>(spec_.nc, anchors, chs, strides);
        L.module = detect_;
        std::string a = str("[", spec_.nc, ", anchors, [");
        for (size_t j = 0; j < chs.size(); ++j) a += (j ? ", " : "") + std::to_string(chs[j]);
        L.args = a + "]]";
        L.c_out = detect_->na * detect_->no;
        L.stride = f1;
      } else {
        fail("model spec layer ", i, ": unknown block '", S.block,
             "' (supported: Conv, C3, SPPF, nn.Upsample, Concat, Detect)");
      }
      seq_->push_back(L.module);
      ch.push_back(L.c_out);
      fac.push_back(L.stride);
      layers_.push_back(std::move(L));
    }
    YOLITE_CHECK(detect_ != nullptr, "model ", spec_.name, ": the spec has no Detect layer");
    last_use_.assign(layers_.size(), -1);
    for (auto& L : layers_)
      for (int r : L.inputs)
        if (r >= 0) last_use_[size_t(r)] = std::max(last_use_[size_t(r)], L.index);
  }

  // YOLOv5's check_anchor_order: anchor areas must grow with the stride; flip the levels if
  // they shrink instead.
  static void check_anchor_order(std::vector<std::vector<double>>& anchors,
                                 const std::vector<double>& strides) {
    auto mean_area = [](const std::vector<double>& a) {
      double s = 0;
      for (size_t j = 0; j + 1 < a.size(); j += 2) s += a[j] * a[j + 1];
      return a.size() >= 2 ? s / double(a.size() / 2) : 0.0;
    };
    if (anchors.size() < 2) return;
    double da = mean_area(anchors.back()) - mean_area(anchors.front());
    double ds = strides.back() - strides.front();
    if (da != 0 && ds != 0 && (da > 0) != (ds > 0)) std::reverse(anchors.begin(), anchors.end());
  }

  ModelSpec spec_;
  int ch_ = 3;
  std::shared_ptr<nn::ModuleList<T>> seq_;
  std::shared_ptr<Detect<T>> detect_;
  std::vector<LayerInfo<T>> layers_;
  std::vector<int> last_use_;
};

using YoloModel = BasicYolo<float>;

// A built-in YOLOv5 ("n".."x", "yolov5s", "yolov5s.yaml") with nc classes (0: the yaml's 80).
template <class T = float>
std::shared_ptr<BasicYolo<T>> make_yolov5(std::string_view name, int nc = 80, uint64_t seed = 0) {
  return std::make_shared<BasicYolo<T>>(yolov5_spec(name), nc, seed);
}

}  // namespace yolite::model
