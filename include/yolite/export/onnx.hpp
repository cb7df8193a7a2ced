// export/onnx.hpp -- a trained model as an ONNX file, the way YOLOv5's export.py writes it.
//
//   auto m = model::build_model(model::read_weights("runs/train/exp/weights/best.pt"));
//   OnnxExportOptions o;
//   o.file = "best.onnx"; o.height = o.width = 320;       // o.dynamic, o.opset, o.nms ...
//   OnnxExportReport r = export_onnx(*m, o);              // written atomically
//   std::string bytes = onnx_model_bytes(*m, o);          // or just the bytes
//
// The graph (opset 12..17, default 17):
//   input  "images"  float [B, 3, H, W], RGB 0..1, H and W multiples of the largest stride
//   output "output0" float [B, N, 5 + nc]: YOLOv5's inference output -- rows ordered level,
//          anchor, gy, gx; x, y, w, h in input pixels, objectness, class probabilities
//   with nms: also "detections" float [K, 7]: image index, x1, y1, x2, y2, score, class of the
//          boxes NMS keeps (score = objectness * best class probability, as detect.py).
// Every Conv block is folded with its BatchNorm into one Conv (weights in double, stored as
// float) followed by SiLU as Sigmoid and Mul; C3's shortcut is Add, SPPF's pools MaxPool,
// Upsample is Resize (nearest, asymmetric, floor: an exact 2x copy), the Detect decode is in
// the graph: Reshape, Transpose, Sigmoid, Slice, xy = (2s + grid - 0.5) * stride and
// wh = (2s)^2 * anchor, the same operations in the same order as model/detect.hpp. With a
// fixed size the grids are constants; with `dynamic` (batch, height and width named, not
// fixed) they are computed in the graph from each map's shape (Shape, Gather, Range).
// `nms` appends ONNX's NonMaxSuppression with YOLOv5's single-label rule: each box takes its
// best class, classes are kept apart by moving boxes class * 7680 px (unless agnostic), at
// most max_det boxes per image, in descending score.
// Metadata (metadata_props, as YOLOv5): "stride" ("32"), "names" (a Python dict literal,
// "{0: 'bottle'}"), plus "imgsz", "batch", "dynamic", "nms" and "producer".
//
// The protobuf is written by hand (io/protobuf.hpp; the ONNX schema is onnx/onnx.proto, field
// numbers below): the exporter needs a few message types and the wire format is small, so
// no protobuf library or schema compiler is needed to build or to use it.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../io/file.hpp"
#include "../io/protobuf.hpp"
#include "../model/yolo.hpp"
#include "../version.hpp"

namespace yolite {

struct OnnxExportOptions {
  std::string file;            // export_onnx's output path (written atomically)
  int height = 640, width = 640;
  int batch = 1;
  bool dynamic = false;        // batch, height and width left open
  int opset = 17;              // 12 .. 17
  bool nms = false;            // append NonMaxSuppression ("detections" output)
  float conf_thres = 0.25f;    // nms: detect.py's defaults
  float iou_thres = 0.45f;
  int max_det = 300;
  bool agnostic = false;       // nms across classes
};

struct OnnxExportReport {
  std::string file;
  size_t bytes = 0;
  int nodes = 0;
  int initializers = 0;
  int64_t parameters = 0;      // numbers in the initializers
};

inline constexpr int kOnnxMinOpset = 12, kOnnxMaxOpset = 17;

namespace onnx {

// onnx.proto's enums and field numbers used here.
enum DataType : int { FLOAT = 1, INT64 = 7 };
enum AttrType : int { A_FLOAT = 1, A_INT = 2, A_STRING = 3, A_INTS = 7 };

struct Attr {
  std::string name;
  AttrType type = A_INT;
  int64_t i = 0;
  float f = 0;
  std::string s;
  std::vector<int64_t> ints;
};
inline Attr attr_i(std::string n, int64_t v) { return {std::move(n), A_INT, v, 0, {}, {}}; }
inline Attr attr_f(std::string n, float v) { return {std::move(n), A_FLOAT, 0, v, {}, {}}; }
inline Attr attr_s(std::string n, std::string v) { return {std::move(n), A_STRING, 0, 0, std::move(v), {}}; }
inline Attr attr_ints(std::string n, std::vector<int64_t> v) {
  return {std::move(n), A_INTS, 0, 0, {}, std::move(v)};
}

// A dimension of a graph input/output: a number, or a name when dynamic.
struct Dim {
  int64_t value = 0;
  std::string param;
};

// Builds one GraphProto: nodes in topological order (the order they are added), initializers,
// inputs and outputs; model() wraps it in a ModelProto.
class GraphBuilder {
 public:
  // A float initializer (raw little-endian bytes) named `name`; returns the name.
  std::string initializer(const std::string& name, const std::vector<int64_t>& dims,
                          const std::vector<float>& v) {
    io::ProtoWriter t;
    for (int64_t d : dims) t.int64(1, d);  // dims
    t.int64(2, FLOAT);                      // data_type
    t.string(8, unique(name));              // name
    std::string raw(v.size() * 4, '\0');
    if (!v.empty()) std::memcpy(raw.data(), v.data(), raw.size());
    t.string(9, raw);                       // raw_data
    initializers_.push_back(t);
    parameters_ += int64_t(v.size());
    return last_name_;
  }
  std::string initializer_i64(const std::string& name, const std::vector<int64_t>& dims,
                              const std::vector<int64_t>& v) {
    io::ProtoWriter t;
    for (int64_t d : dims) t.int64(1, d);
    t.int64(2, INT64);
    t.string(8, unique(name));
    std::string raw(v.size() * 8, '\0');
    if (!v.empty()) std::memcpy(raw.data(), v.data(), raw.size());
    t.string(9, raw);
    initializers_.push_back(t);
    return last_name_;
  }
  // 1-D int64 / float constants (shapes, axes, thresholds), named after what they hold.
  std::string ints(const std::string& name, const std::vector<int64_t>& v) {
    return initializer_i64(name, {int64_t(v.size())}, v);
  }
  std::string scalar_i64(const std::string& name, int64_t v) { return initializer_i64(name, {}, {v}); }
  std::string floats(const std::string& name, const std::vector<float>& v) {
    return initializer(name, {int64_t(v.size())}, v);
  }

  // A node with one output named `out` (made unique); returns the output's name.
  std::string node(const std::string& op, const std::vector<std::string>& inputs,
                   const std::string& out, const std::vector<Attr>& attrs = {}) {
    io::ProtoWriter n;
    for (const auto& in : inputs) n.string(1, in);  // input
    const std::string o = unique(out);
    n.string(2, o);                                 // output
    n.string(3, o);                                 // name
    n.string(4, op);                                // op_type
    for (const Attr& a : attrs) {
      io::ProtoWriter w;
      w.string(1, a.name);
      switch (a.type) {
        case A_FLOAT: w.fixed32(2, a.f); break;
        case A_INT: w.int64(3, a.i); break;
        case A_STRING: w.string(4, a.s); break;
        case A_INTS:
          for (int64_t x : a.ints) w.int64(8, x);
          break;
      }
      w.int64(20, a.type);
      n.message(5, w);                              // attribute
    }
    nodes_.push_back(n);
    return o;
  }

  void input(const std::string& name, const std::vector<Dim>& dims) { inputs_.push_back(value_info(name, dims)); }
  void output(const std::string& name, const std::vector<Dim>& dims) { outputs_.push_back(value_info(name, dims)); }

  int num_nodes() const { return int(nodes_.size()); }
  int num_initializers() const { return int(initializers_.size()); }
  int64_t num_parameters() const { return parameters_; }

  // The ModelProto bytes.
  std::string model(const std::string& graph_name, int opset, const std::string& doc,
                    const std::vector<std::pair<std::string, std::string>>& metadata) const {
    io::ProtoWriter g;
    for (const auto& n : nodes_) g.message(1, n);         // node
    g.string(2, graph_name);                              // name
    for (const auto& t : initializers_) g.message(5, t);  // initializer
    for (const auto& v : inputs_) g.message(11, v);       // input
    for (const auto& v : outputs_) g.message(12, v);      // output
    io::ProtoWriter m;
    m.int64(1, opset >= 15 ? 8 : 7);                      // ir_version (ONNX 1.10+: 8)
    m.string(2, "yolite");                                // producer_name
    m.string(3, YOLITE_VERSION);                          // producer_version
    m.string(6, doc);                                     // doc_string
    m.message(7, g);                                      // graph
    io::ProtoWriter os;
    os.string(1, "");                                     // domain: the default ai.onnx
    os.int64(2, opset);
    m.message(8, os);                                     // opset_import
    for (const auto& [k, v] : metadata) {
      io::ProtoWriter e;
      e.string(1, k);
      e.string(2, v);
      m.message(14, e);                                   // metadata_props
    }
    return m.bytes();
  }

 private:
  static io::ProtoWriter value_info(const std::string& name, const std::vector<Dim>& dims) {
    io::ProtoWriter shape;
    for (const Dim& d : dims) {
      io::ProtoWriter dim;
      if (d.param.empty()) dim.int64(1, d.value);  // dim_value
      else dim.string(2, d.param);                 // dim_param
      shape.message(1, dim);
    }
    io::ProtoWriter tensor;
    tensor.int64(1, FLOAT);    // elem_type
    tensor.message(2, shape);  // shape
    io::ProtoWriter type;
    type.message(1, tensor);   // tensor_type
    io::ProtoWriter v;
    v.string(1, name);
    v.message(2, type);
    return v;
  }
  // `base`, or base_1, base_2 ... when taken: node outputs and initializers share one namespace
  const std::string& unique(const std::string& base) {
    last_name_ = base;
    for (int k = 1; used_.count(last_name_); ++k) last_name_ = base + "_" + std::to_string(k);
    used_.insert(last_name_);
    return last_name_;
  }

  std::vector<io::ProtoWriter> nodes_, initializers_, inputs_, outputs_;
  std::set<std::string> used_;
  std::string last_name_;
  int64_t parameters_ = 0;
};

// Python's repr of a str (what YOLOv5's metadata holds): single quotes unless the text has a
// single quote and no double quote; backslashes and the quote escaped.
inline std::string py_repr(const std::string& s) {
  const char q = (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
  std::string r(1, q);
  for (char c : s) {
    if (c == '\\' || c == q) r += '\\';
    if (c == '\n') {
      r += "\\n";
      continue;
    }
    r += c;
  }
  return r + q;
}

// Walks a built model and emits its nodes (see the top comment).
class YoloExporter {
 public:
  YoloExporter(const model::YoloModel& m, const OnnxExportOptions& o) : m_(m), o_(o) {}

  std::string run() {
    const int64_t ms = int64_t(m_.max_stride());
    YOLITE_CHECK(o_.opset >= kOnnxMinOpset && o_.opset <= kOnnxMaxOpset, "export onnx: opset ",
                 o_.opset, " is not supported (supported: ", kOnnxMinOpset, " to ", kOnnxMaxOpset, ")");
    YOLITE_CHECK(o_.batch >= 1, "export onnx: batch must be >= 1, got ", o_.batch);
    YOLITE_CHECK(o_.height >= ms && o_.width >= ms && o_.height % ms == 0 && o_.width % ms == 0,
                 "export onnx: image size ", o_.height, "x", o_.width,
                 " must be positive multiples of ", ms, " (the model's largest stride)");
    YOLITE_CHECK(!o_.nms || (o_.max_det >= 1 && o_.iou_thres >= 0 && o_.iou_thres <= 1 &&
                             o_.conf_thres >= 0 && o_.conf_thres <= 1),
                 "export onnx: nms needs max_det >= 1 and thresholds in [0, 1]");
    Dim B = o_.dynamic ? Dim{0, "batch"} : Dim{o_.batch, ""};
    Dim H = o_.dynamic ? Dim{0, "height"} : Dim{o_.height, ""};
    Dim W = o_.dynamic ? Dim{0, "width"} : Dim{o_.width, ""};
    g_.input("images", {B, Dim{m_.input_channels(), ""}, H, W});

    const auto& layers = m_.layers();
    std::vector<std::string> outs(layers.size());
    for (size_t i = 0; i < layers.size(); ++i) {
      const auto& L = layers[i];
      std::vector<std::string> in;
      for (int r : L.inputs) in.push_back(r < 0 ? std::string("images") : outs[size_t(r)]);
      const std::string path = "model." + std::to_string(i);
      const nn::Module<float>* mod = L.module.get();
      if (auto* c = dynamic_cast<const nn::Conv<float>*>(mod)) {
        outs[i] = conv_block(*c, in[0], path);
      } else if (auto* c3 = dynamic_cast<const nn::C3<float>*>(mod)) {
        outs[i] = c3_block(*c3, in[0], path);
      } else if (auto* sp = dynamic_cast<const nn::SPPF<float>*>(mod)) {
        outs[i] = sppf_block(*sp, in[0], path);
      } else if (dynamic_cast<const nn::Upsample<float>*>(mod)) {
        outs[i] = upsample(in[0], path);
      } else if (dynamic_cast<const nn::Concat<float>*>(mod)) {
        outs[i] = in.size() == 1 ? in[0] : g_.node("Concat", in, path + "/Concat", {attr_i("axis", 1)});
      } else if (dynamic_cast<const model::Detect<float>*>(mod)) {
        outs[i] = detect(in, path);
      } else {
        fail("export onnx: layer ", i, " (", L.block, ") has no ONNX form");
      }
    }
    const std::string out = outs.back();
    const int no = m_.num_outputs();
    g_.output(out, {B, o_.dynamic ? Dim{0, "anchors"} : Dim{num_rows(), ""}, Dim{no, ""}});
    if (o_.nms) {
      const std::string det = nms(out);
      g_.output(det, {Dim{0, "num_detections"}, Dim{7, ""}});
    }

    std::string names = "{";
    for (size_t c = 0; c < m_.names.size(); ++c)
      names += (c ? ", " : "") + std::to_string(c) + ": " + py_repr(m_.names[c]);
    names += "}";
    std::vector<std::pair<std::string, std::string>> meta = {
        {"stride", std::to_string(ms)},
        {"names", names},
        {"imgsz", "[" + std::to_string(o_.height) + ", " + std::to_string(o_.width) + "]"},
        {"batch", std::to_string(o_.batch)},
        {"dynamic", o_.dynamic ? "True" : "False"},
        {"nms", o_.nms ? "True" : "False"},
        {"producer", std::string("yolite ") + YOLITE_VERSION}};
    return g_.model(m_.spec().name, o_.opset,
                    str("yolite ", YOLITE_VERSION, " export of ", m_.spec().name, " (", m_.nc(),
                        " classes)"),
                    meta);
  }

  const GraphBuilder& graph() const { return g_; }

 private:
  int64_t num_rows() const {
    int64_t n = 0;
    for (double s : m_.stride())
      n += int64_t(m_.num_anchors()) * (o_.height / int64_t(s)) * (o_.width / int64_t(s));
    return n;
  }

  // Conv + BN folded (in double, as nn::Conv::fuse), then SiLU = x * sigmoid(x).
  std::string conv_block(const nn::Conv<float>& c, const std::string& x, const std::string& path) {
    const auto& cv = *c.conv;
    const auto& bn = *c.bn;
    const Tensor<float>& w = cv.weight.value();
    const int K = cv.c2;
    const int64_t per = w.numel() / K;
    std::vector<float> fw(static_cast<size_t>(w.numel())), fb(static_cast<size_t>(K));
    for (int k = 0; k < K; ++k) {
      const double scale = double(bn.weight.value()[k]) / std::sqrt(double(bn.running_var[k]) + bn.eps);
      for (int64_t i = 0; i < per; ++i) fw[size_t(k * per + i)] = float(double(w[k * per + i]) * scale);
      const double b0 = cv.has_bias() ? double(cv.bias.value()[k]) : 0.0;
      fb[size_t(k)] = float(double(bn.bias.value()[k]) + (b0 - double(bn.running_mean[k])) * scale);
    }
    const std::vector<int64_t> dims = w.shape().vec();
    const std::string W = g_.initializer(path + ".conv.weight", dims, fw);
    const std::string Bn = g_.initializer(path + ".conv.bias", {K}, fb);
    const std::string y = conv(x, W, Bn, cv.k, cv.s, cv.p, path + "/conv/Conv");
    const std::string s = g_.node("Sigmoid", {y}, path + "/act/Sigmoid");
    return g_.node("Mul", {y, s}, path + "/act/Mul");
  }
  std::string conv(const std::string& x, const std::string& W, const std::string& B, int k, int s,
                   int p, const std::string& name) {
    return g_.node("Conv", {x, W, B}, name,
                   {attr_ints("dilations", {1, 1}), attr_i("group", 1), attr_ints("kernel_shape", {k, k}),
                    attr_ints("pads", {p, p, p, p}), attr_ints("strides", {s, s})});
  }
  std::string c3_block(const nn::C3<float>& c, const std::string& x, const std::string& path) {
    std::string a = conv_block(*c.cv1, x, path + ".cv1");
    for (size_t j = 0; j < c.m->size(); ++j) {
      auto* b = dynamic_cast<const nn::Bottleneck<float>*>(&(*c.m)[j]);
      YOLITE_CHECK(b, "export onnx: ", path, ".m.", j, " is not a Bottleneck");
      const std::string bp = path + ".m." + std::to_string(j);
      std::string y = conv_block(*b->cv2, conv_block(*b->cv1, a, bp + ".cv1"), bp + ".cv2");
      a = b->add ? g_.node("Add", {a, y}, bp + "/Add") : y;
    }
    const std::string b = conv_block(*c.cv2, x, path + ".cv2");
    const std::string cat = g_.node("Concat", {a, b}, path + "/Concat", {attr_i("axis", 1)});
    return conv_block(*c.cv3, cat, path + ".cv3");
  }
  std::string sppf_block(const nn::SPPF<float>& sp, const std::string& x, const std::string& path) {
    const std::string a = conv_block(*sp.cv1, x, path + ".cv1");
    const int64_t k = sp.k, p = sp.k / 2;
    std::vector<Attr> pool = {attr_ints("kernel_shape", {k, k}), attr_ints("pads", {p, p, p, p}),
                              attr_ints("strides", {1, 1})};
    const std::string y1 = g_.node("MaxPool", {a}, path + ".m/MaxPool", pool);
    const std::string y2 = g_.node("MaxPool", {y1}, path + ".m/MaxPool", pool);
    const std::string y3 = g_.node("MaxPool", {y2}, path + ".m/MaxPool", pool);
    const std::string cat = g_.node("Concat", {a, y1, y2, y3}, path + "/Concat", {attr_i("axis", 1)});
    return conv_block(*sp.cv2, cat, path + ".cv2");
  }
  std::string upsample(const std::string& x, const std::string& path) {
    // opset 12 requires the roi input (an empty tensor); from 13 on it may be left out ("")
    const std::string roi = o_.opset < 13 ? g_.floats(path + ".roi", {}) : std::string();
    const std::string scales = g_.floats(path + ".scales", {1.f, 1.f, 2.f, 2.f});
    return g_.node("Resize", {x, roi, scales}, path + "/Resize",
                   {attr_s("coordinate_transformation_mode", "asymmetric"), attr_s("mode", "nearest"),
                    attr_s("nearest_mode", "floor")});
  }
  std::string slice(const std::string& x, int64_t begin, int64_t end, int64_t axis, const std::string& name) {
    return g_.node("Slice", {x, g_.ints(name + ".starts", {begin}), g_.ints(name + ".ends", {end}),
                             g_.ints(name + ".axes", {axis})},
                   name);
  }
  std::string mul_const(const std::string& x, float v, const std::string& name) {
    return g_.node("Mul", {x, g_.initializer(name + ".k", {}, {v})}, name);
  }

  // The grid (gx - 0.5, gy - 0.5) of a map, [1, 1, ny*nx, 2], row p = gy*nx + gx.
  std::string grid(const std::string& raw, int l, const std::string& path) {
    const int64_t s = int64_t(m_.stride()[size_t(l)]);
    if (!o_.dynamic) {
      const int64_t ny = o_.height / s, nx = o_.width / s;
      std::vector<float> g(size_t(ny * nx * 2));
      for (int64_t gy = 0; gy < ny; ++gy)
        for (int64_t gx = 0; gx < nx; ++gx) {
          g[size_t((gy * nx + gx) * 2)] = float(gx) - 0.5f;
          g[size_t((gy * nx + gx) * 2 + 1)] = float(gy) - 0.5f;
        }
      return g_.initializer(path + ".grid", {1, 1, ny * nx, 2}, g);
    }
    // from the map's shape: Range over ny and nx, broadcast to [ny, nx, 1] each, then joined
    const std::string shape = g_.node("Shape", {raw}, path + "/grid/Shape");
    const std::string ny = g_.node("Gather", {shape, g_.scalar_i64(path + ".i2", 2)}, path + "/grid/ny", {attr_i("axis", 0)});
    const std::string nx = g_.node("Gather", {shape, g_.scalar_i64(path + ".i3", 3)}, path + "/grid/nx", {attr_i("axis", 0)});
    const std::string zero = g_.scalar_i64(path + ".zero", 0), one = g_.scalar_i64(path + ".one", 1);
    auto axis_values = [&](const std::string& n, const std::vector<int64_t>& shape3, const char* tag) {
      std::string r = g_.node("Range", {zero, n, one}, path + "/grid/Range_" + tag);
      r = g_.node("Cast", {r}, path + "/grid/Cast_" + tag, {attr_i("to", FLOAT)});
      r = g_.node("Sub", {r, g_.initializer(path + ".half", {}, {0.5f})}, path + "/grid/Sub_" + tag);
      return g_.node("Reshape", {r, g_.ints(path + ".shape_" + tag, shape3)}, path + "/grid/Reshape_" + tag);
    };
    const std::string gx = axis_values(nx, {1, -1, 1}, "x");  // [1, nx, 1]
    const std::string gy = axis_values(ny, {-1, 1, 1}, "y");  // [ny, 1, 1]
    const std::string zeros = g_.node("Add", {mul_const(gx, 0.f, path + "/grid/zx"), mul_const(gy, 0.f, path + "/grid/zy")},
                                      path + "/grid/zeros");  // [ny, nx, 1]
    const std::string gxx = g_.node("Add", {gx, zeros}, path + "/grid/gx");
    const std::string gyy = g_.node("Add", {gy, zeros}, path + "/grid/gy");
    const std::string cat = g_.node("Concat", {gxx, gyy}, path + "/grid/Concat", {attr_i("axis", 2)});
    return g_.node("Reshape", {cat, g_.ints(path + ".grid_shape", {1, 1, -1, 2})}, path + "/grid/Reshape");
  }

  std::string detect(const std::vector<std::string>& in, const std::string& path) {
    const model::Detect<float>& D = m_.detect();
    const int na = D.na, no = D.no;
    std::vector<std::string> levels;
    for (int l = 0; l < D.nl; ++l) {
      const std::string lp = path + ".m." + std::to_string(l);
      const auto& cv = *D.convs[size_t(l)];
      const Tensor<float>& w = cv.weight.value();
      const std::vector<int64_t> dims = w.shape().vec();
      const std::string W = g_.initializer(lp + ".weight", dims, std::vector<float>(w.data(), w.data() + w.numel()));
      const Tensor<float>& b = cv.bias.value();
      const std::string Bs = g_.initializer(lp + ".bias", {b.numel()}, std::vector<float>(b.data(), b.data() + b.numel()));
      const std::string raw = conv(in[size_t(l)], W, Bs, 1, 1, 0, lp + "/Conv");
      // [B, na*no, ny, nx] -> [B, na, no, ny*nx] -> [B, na, ny*nx, no]
      std::string y = g_.node("Reshape", {raw, g_.ints(lp + ".shape", {0, na, no, -1})}, lp + "/Reshape");
      y = g_.node("Transpose", {y}, lp + "/Transpose", {attr_ints("perm", {0, 1, 3, 2})});
      y = g_.node("Sigmoid", {y}, lp + "/Sigmoid");
      const float s = float(D.stride[size_t(l)]);
      std::string xy = slice(y, 0, 2, 3, lp + "/xy");
      std::string wh = slice(y, 2, 4, 3, lp + "/wh");
      const std::string conf = slice(y, 4, no, 3, lp + "/conf");
      xy = mul_const(xy, 2.f, lp + "/xy2");
      xy = g_.node("Add", {xy, grid(raw, l, lp)}, lp + "/xy_grid");
      xy = mul_const(xy, s, lp + "/xy_stride");
      wh = mul_const(wh, 2.f, lp + "/wh2");
      wh = g_.node("Mul", {wh, wh}, lp + "/wh_sq");
      std::vector<float> anchor(size_t(na * 2));
      for (int a = 0; a < na; ++a)
        for (int c = 0; c < 2; ++c) anchor[size_t(a * 2 + c)] = D.anchors[(l * na + a) * 2 + c] * s;
      wh = g_.node("Mul", {wh, g_.initializer(lp + ".anchor_grid", {1, na, 1, 2}, anchor)}, lp + "/wh_anchor");
      y = g_.node("Concat", {xy, wh, conf}, lp + "/Concat", {attr_i("axis", 3)});
      levels.push_back(g_.node("Reshape", {y, g_.ints(lp + ".out_shape", {0, -1, no})}, lp + "/Reshape_out"));
    }
    return g_.node("Concat", levels, "output0", {attr_i("axis", 1)});
  }

  // NonMaxSuppression over output0 [B, N, no] -> detections [K, 7].
  std::string nms(const std::string& y) {
    const int no = m_.num_outputs();
    const std::string p = "nms";
    const std::string box = slice(y, 0, 4, 2, p + "/box");                 // cx, cy, w, h
    const std::string obj = slice(y, 4, 5, 2, p + "/obj");
    const std::string cls = slice(y, 5, no, 2, p + "/cls");
    const std::string conf = g_.node("Mul", {cls, obj}, p + "/conf");      // [B, N, nc]
    const std::string best = g_.node("ReduceMax", {conf}, p + "/best", {attr_ints("axes", {2}), attr_i("keepdims", 1)});
    std::string label = g_.node("ArgMax", {conf}, p + "/label", {attr_i("axis", 2), attr_i("keepdims", 1)});
    label = g_.node("Cast", {label}, p + "/label_float", {attr_i("to", FLOAT)});  // [B, N, 1]
    std::string nms_box = box;
    if (!o_.agnostic)
      nms_box = g_.node("Add", {box, g_.node("Mul", {label, g_.floats(p + ".offset", {7680.f, 7680.f, 0.f, 0.f})}, p + "/offset")},
                        p + "/box_offset");
    const std::string scores = g_.node("Transpose", {best}, p + "/scores", {attr_ints("perm", {0, 2, 1})});
    const std::string sel = g_.node(
        "NonMaxSuppression",
        {nms_box, scores, g_.ints(p + ".max_det", {o_.max_det}), g_.floats(p + ".iou_thres", {o_.iou_thres}),
         g_.floats(p + ".conf_thres", {o_.conf_thres})},
        p + "/NonMaxSuppression", {attr_i("center_point_box", 1)});        // [K, 3]: image, class, box
    const std::string img = slice(sel, 0, 1, 1, p + "/image");
    const std::string idx = g_.node("Concat", {img, slice(sel, 2, 3, 1, p + "/index")}, p + "/indices", {attr_i("axis", 1)});
    const std::string xy = slice(box, 0, 2, 2, p + "/xy"), wh = slice(box, 2, 4, 2, p + "/wh");
    const std::string half = mul_const(wh, 0.5f, p + "/half");
    const std::string xyxy = g_.node("Concat", {g_.node("Sub", {xy, half}, p + "/x1y1"), g_.node("Add", {xy, half}, p + "/x2y2")},
                                     p + "/xyxy", {attr_i("axis", 2)});
    const std::string kb = g_.node("GatherND", {xyxy, idx}, p + "/boxes");    // [K, 4]
    const std::string ks = g_.node("GatherND", {best, idx}, p + "/score");    // [K, 1]
    const std::string kc = g_.node("GatherND", {label, idx}, p + "/class");   // [K, 1]
    const std::string ki = g_.node("Cast", {img}, p + "/image_float", {attr_i("to", FLOAT)});
    return g_.node("Concat", {ki, kb, ks, kc}, "detections", {attr_i("axis", 1)});
  }

  const model::YoloModel& m_;
  OnnxExportOptions o_;
  GraphBuilder g_;
};

}  // namespace onnx

// The ONNX bytes of model m (eval-mode weights as they are now; the model is not changed).
inline std::string onnx_model_bytes(const model::YoloModel& m, const OnnxExportOptions& o,
                                    OnnxExportReport* report = nullptr) {
  onnx::YoloExporter ex(m, o);
  std::string bytes = ex.run();
  if (report) {
    report->bytes = bytes.size();
    report->nodes = ex.graph().num_nodes();
    report->initializers = ex.graph().num_initializers();
    report->parameters = ex.graph().num_parameters();
  }
  return bytes;
}

// Writes onnx_model_bytes(m, o) to o.file through a temporary sibling renamed into place: a
// failed export leaves no partial file.
inline OnnxExportReport export_onnx(const model::YoloModel& m, const OnnxExportOptions& o) {
  YOLITE_CHECK(!o.file.empty(), "export onnx: no output file given");
  OnnxExportReport r;
  const std::string bytes = onnx_model_bytes(m, o, &r);
  r.file = o.file;
  io::AtomicWriter w(o.file);
  w.write(bytes);
  w.commit();
  return r;
}

}  // namespace yolite
