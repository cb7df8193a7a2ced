// Tests of export/: the protobuf wire format, the ONNX graph's structure and weights, the
// PyTorch state-dict checkpoint and safetensors exports read back, the model yaml writer.
// (ONNX Runtime, torch.load and onnx.checker run the exports in tests/cli/export.sh.)
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <yolite/export/onnx.hpp>
#include <yolite/export/torch_pt.hpp>
#include <yolite/io/pickle.hpp>
#include <yolite/io/pickle_writer.hpp>
#include <yolite/io/protobuf.hpp>
#include <yolite/io/safetensors.hpp>
#include <yolite/io/torch_pt.hpp>
#include <yolite/model/weights.hpp>

#include "../test_util.hpp"

using namespace yolite;
using testing::error_of;
namespace fs = std::filesystem;

namespace {

// A yolov5n with BatchNorm statistics and affine parameters away from their initial values, so
// that folding BN into the convolutions is not the identity.
std::shared_ptr<model::YoloModel> trained_like(int nc, uint64_t seed) {
  auto m = model::make_yolov5("n", nc, seed);
  Rng rng(seed + 100);
  for (auto& [name, t] : m->state_dict()) {
    Tensor<float> v = t;  // shares storage
    auto ends = [&](const char* s) { return name.size() > std::strlen(s) && name.compare(name.size() - std::strlen(s), std::strlen(s), s) == 0; };
    if (ends("bn.running_var"))
      for (int64_t i = 0; i < v.numel(); ++i) v[i] = 0.2f + 2.f * float(rng.uniform());
    else if (ends("bn.running_mean") || ends("bn.bias"))
      for (int64_t i = 0; i < v.numel(); ++i) v[i] = 0.3f * float(rng.uniform() - 0.5);
    else if (ends("bn.weight"))
      for (int64_t i = 0; i < v.numel(); ++i) v[i] = 0.5f + float(rng.uniform());
  }
  for (auto& [name, p] : m->int_buffers()) *p = 7;
  m->eval();
  return m;
}

// The fields of an ONNX ModelProto that the tests look at.
struct Parsed {
  int64_t ir_version = 0, opset = 0;
  std::string producer;
  std::map<std::string, int> op_count;
  std::map<std::string, std::pair<std::vector<int64_t>, std::string>> initializers;  // dims, raw
  std::vector<std::string> inputs, outputs;
  std::vector<std::vector<int64_t>> output_dims;  // 0 = named
  std::map<std::string, std::string> metadata;
};
Parsed parse_onnx(const std::string& bytes) {
  Parsed p;
  io::ProtoReader m(bytes, "model");
  while (m.next()) {
    if (m.field() == 1) p.ir_version = m.as_int64();
    if (m.field() == 2) p.producer = std::string(m.as_bytes());
    if (m.field() == 8) {
      io::ProtoReader os(m.as_bytes(), "opset");
      while (os.next())
        if (os.field() == 2) p.opset = os.as_int64();
    }
    if (m.field() == 14) {
      io::ProtoReader e(m.as_bytes(), "metadata");
      std::string k, v;
      while (e.next()) (e.field() == 1 ? k : v) = std::string(e.as_bytes());
      p.metadata[k] = v;
    }
    if (m.field() != 7) continue;
    io::ProtoReader g(m.as_bytes(), "graph");
    while (g.next()) {
      if (g.field() == 1) {
        io::ProtoReader n(g.as_bytes(), "node");
        while (n.next())
          if (n.field() == 4) ++p.op_count[std::string(n.as_bytes())];
      } else if (g.field() == 5) {
        io::ProtoReader t(g.as_bytes(), "tensor");
        std::vector<int64_t> dims;
        std::string name, raw;
        while (t.next()) {
          if (t.field() == 1) t.append_varints(dims);
          if (t.field() == 8) name = std::string(t.as_bytes());
          if (t.field() == 9) raw = std::string(t.as_bytes());
        }
        p.initializers[name] = {dims, raw};
      } else if (g.field() == 11 || g.field() == 12) {
        io::ProtoReader v(g.as_bytes(), "value_info");
        std::string name;
        std::vector<int64_t> dims;
        while (v.next()) {
          if (v.field() == 1) name = std::string(v.as_bytes());
          if (v.field() != 2) continue;
          io::ProtoReader type(v.as_bytes(), "type");
          while (type.next()) {
            io::ProtoReader tensor(type.as_bytes(), "tensor_type");
            while (tensor.next()) {
              if (tensor.field() != 2) continue;
              io::ProtoReader shape(tensor.as_bytes(), "shape");
              while (shape.next()) {
                io::ProtoReader dim(shape.as_bytes(), "dim");
                int64_t d = 0;
                while (dim.next())
                  if (dim.field() == 1) d = dim.as_int64();
                dims.push_back(d);
              }
            }
          }
        }
        if (g.field() == 11) p.inputs.push_back(name);
        else {
          p.outputs.push_back(name);
          p.output_dims.push_back(dims);
        }
      }
    }
  }
  return p;
}
std::vector<float> floats_of(const std::string& raw) {
  std::vector<float> v(raw.size() / 4);
  std::memcpy(v.data(), raw.data(), raw.size());
  return v;
}
int count_conv_blocks(const nn::Module<float>& m) {
  if (dynamic_cast<const nn::Conv<float>*>(&m)) return 1;
  int n = 0;
  for (auto& [name, c] : m.children()) n += count_conv_blocks(*c);
  return n;
}

}  // namespace

TEST_SUITE("export") {
  TEST_CASE("protobuf: the wire format's own examples, and every length checked") {
    io::ProtoWriter w;
    w.varint(1, 150);  // the encoding guide's example: 08 96 01
    CHECK(w.bytes() == std::string("\x08\x96\x01", 3));
    io::ProtoWriter s;
    s.string(2, "testing");  // 12 07 74 65 73 74 69 6e 67
    CHECK(s.bytes() == std::string("\x12\x07testing", 9));
    io::ProtoWriter neg;
    neg.int64(3, -1);  // ten bytes: 0xff x 9, 0x01
    CHECK(neg.bytes() == std::string("\x18\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11));

    io::ProtoWriter inner, outer;
    inner.fixed32(1, 1.5f);
    inner.packed_varints(2, {1, 300, -2});
    outer.message(5, inner);
    outer.int64(6, int64_t(1) << 40);
    io::ProtoReader r(outer.bytes(), "outer");
    REQUIRE(r.next());
    CHECK(r.field() == 5);
    io::ProtoReader in(r.as_bytes(), "inner");
    REQUIRE(in.next());
    CHECK(in.as_float() == 1.5f);
    REQUIRE(in.next());
    std::vector<int64_t> v;
    in.append_varints(v);
    CHECK(v == std::vector<int64_t>{1, 300, -2});
    CHECK_FALSE(in.next());
    REQUIRE(r.next());
    CHECK(r.as_int64() == (int64_t(1) << 40));
    CHECK_FALSE(r.next());

    // a length that runs past the end, a cut varint, a wrong wire type: errors naming the buffer
    CHECK(error_of([] { io::ProtoReader t(std::string("\x0a\x05" "ab", 4), "cut.onnx"); t.next(); })
              .find("cut.onnx: malformed protobuf") != std::string::npos);
    CHECK(error_of([] { io::ProtoReader t(std::string("\x08\x96", 2), "v"); t.next(); }).find("varint") != std::string::npos);
    CHECK(error_of([] { io::ProtoReader t(std::string("\x08\x01", 2), "w"); t.next(); (void)t.as_bytes(); })
              .find("wire type") != std::string::npos);
  }

  TEST_CASE("onnx: graph, fused weights, shapes and metadata of a yolov5n") {
    auto m = trained_like(3, 1);
    m->names = {"a", "it's", "c"};
    OnnxExportOptions o;
    o.height = 320;
    o.width = 256;
    OnnxExportReport rep;
    const Parsed p = parse_onnx(onnx_model_bytes(*m, o, &rep));
    CHECK(p.ir_version == 8);
    CHECK(p.opset == 17);
    CHECK(p.producer == "yolite");
    const int blocks = count_conv_blocks(*m);
    CHECK(blocks == 57);
    CHECK(p.op_count.at("Conv") == blocks + 3);             // + Detect's three 1x1 heads
    CHECK(p.op_count.at("Sigmoid") == blocks + 3);          // SiLU per block + Detect's sigmoid
    CHECK(p.op_count.at("MaxPool") == 3);                   // SPPF
    CHECK(p.op_count.at("Resize") == 2);                    // two upsamples
    CHECK(p.op_count.count("BatchNormalization") == 0);     // folded
    CHECK(p.op_count.count("NonMaxSuppression") == 0);
    CHECK(rep.nodes > 0);
    CHECK(p.inputs == std::vector<std::string>{"images"});
    REQUIRE(p.outputs == std::vector<std::string>{"output0"});
    const int64_t rows = 3 * (40 * 32 + 20 * 16 + 10 * 8);
    CHECK(p.output_dims[0] == std::vector<int64_t>{1, rows, 8});
    CHECK(p.metadata.at("names") == "{0: 'a', 1: \"it's\", 2: 'c'}");
    CHECK(p.metadata.at("stride") == "32");
    CHECK(p.metadata.at("imgsz") == "[320, 256]");

    // the folded weights of one block, recomputed here from the unfolded tensors
    const auto* c3 = dynamic_cast<const nn::C3<float>*>(m->layers()[2].module.get());
    REQUIRE(c3);
    const nn::Conv<float>& c = *c3->cv1;
    const auto& [dims, raw] = p.initializers.at("model.2.cv1.conv.weight");
    CHECK(dims == c.conv->weight.value().shape().vec());
    const std::vector<float> w = floats_of(raw), b = floats_of(p.initializers.at("model.2.cv1.conv.bias").second);
    const int K = c.conv->c2;
    const int64_t per = c.conv->weight.value().numel() / K;
    double worst = 0;
    for (int k = 0; k < K; ++k) {
      const double sc = double(c.bn->weight.value()[k]) / std::sqrt(double(c.bn->running_var[k]) + 1e-3);
      for (int64_t i = 0; i < per; ++i)
        worst = std::max(worst, std::abs(double(w[size_t(k * per + i)]) - double(c.conv->weight.value()[k * per + i]) * sc));
      const double want = double(c.bn->bias.value()[k]) - double(c.bn->running_mean[k]) * sc;
      worst = std::max(worst, std::abs(double(b[size_t(k)]) - want));
    }
    CHECK(worst < 1e-6);
    // Detect's anchors in pixels, one [1, na, 1, 2] constant per level
    const std::vector<float> ag = floats_of(p.initializers.at("model.24.m.2.anchor_grid").second);
    CHECK(ag == std::vector<float>{116, 90, 156, 198, 373, 326});
    // a fixed size: the grid is a constant, (gx - 0.5, gy - 0.5) for row gy * nx + gx
    const std::vector<float> grid = floats_of(p.initializers.at("model.24.m.0.grid").second);
    REQUIRE(grid.size() == size_t(40 * 32 * 2));
    CHECK(grid[0] == -0.5f);
    CHECK(grid[2 * 33] == 0.5f);      // row 33: gy 1, gx 1
    CHECK(grid[2 * 33 + 1] == 0.5f);
  }

  TEST_CASE("onnx: dynamic axes, NMS, opset 12 and the options refused") {
    auto m = trained_like(2, 2);
    OnnxExportOptions o;
    o.height = o.width = 320;
    o.dynamic = true;
    o.nms = true;
    o.opset = 12;
    const Parsed p = parse_onnx(onnx_model_bytes(*m, o));
    CHECK(p.ir_version == 7);
    CHECK(p.opset == 12);
    CHECK(p.op_count.at("NonMaxSuppression") == 1);
    CHECK(p.op_count.at("Range") == 6);                 // the grids, from each map's shape
    CHECK(p.initializers.count("model.24.m.0.grid") == 0);
    REQUIRE(p.outputs == std::vector<std::string>{"output0", "detections"});
    CHECK(p.output_dims[0] == std::vector<int64_t>{0, 0, 7});   // batch, anchors named
    CHECK(p.output_dims[1] == std::vector<int64_t>{0, 7});
    CHECK(p.initializers.count("model.11.roi") == 1);  // opset 12: Resize's roi input

    o = OnnxExportOptions{};
    o.opset = 11;
    CHECK(error_of([&] { onnx_model_bytes(*m, o); }).find("opset 11 is not supported (supported: 12 to 17)") != std::string::npos);
    o.opset = 17;
    o.height = 300;
    CHECK(error_of([&] { onnx_model_bytes(*m, o); }).find("multiples of 32") != std::string::npos);
  }

  TEST_CASE("onnx: a failed export leaves no file behind") {
    auto m = trained_like(1, 3);
    const fs::path d = testing::fresh_dir("export_fail");
    fs::create_directories(d / "taken.onnx");  // the name is a folder: the final rename fails
    OnnxExportOptions o;
    o.height = o.width = 64;
    o.file = (d / "taken.onnx").string();
    CHECK(error_of([&] { export_onnx(*m, o); }).find("taken.onnx") != std::string::npos);
    int entries = 0;
    for (auto& e : fs::directory_iterator(d)) entries += e.path().filename() == "taken.onnx" ? 0 : 1;
    CHECK(entries == 0);
    o.file = (d / "ok.onnx").string();
    const OnnxExportReport r = export_onnx(*m, o);
    CHECK(fs::file_size(o.file) == r.bytes);
  }

  TEST_CASE("pickle writer: what io/pickle.hpp reads back") {
    io::PickleWriter w;
    w.begin_dict();
    w.str("ints");
    w.begin_list();
    for (int64_t v : {int64_t(0), int64_t(255), int64_t(256), int64_t(65535), int64_t(65536), int64_t(-1),
                      int64_t(INT32_MIN), int64_t(1) << 40, int64_t(-5) << 50})
      w.integer(v);
    w.end_list();
    w.str("misc");
    w.begin_tuple();
    w.boolean(true);
    w.none();
    w.str("h\xc3\xa9");
    w.end_tuple();
    w.str("names");
    w.begin_dict();
    w.integer(0);
    w.str("bottle");
    w.end_dict();
    w.end_dict();
    const std::string bytes = w.finish();
    auto p = io::pickle::unpickle(bytes, "w");
    const auto* root = p.root();
    REQUIRE(root->kind == io::pickle::Kind::Dict);
    const auto* ints = root->get("ints");
    REQUIRE(ints->items.size() == 9);
    const std::vector<int64_t> want{0, 255, 256, 65535, 65536, -1, INT32_MIN, int64_t(1) << 40, int64_t(-5) << 50};
    for (size_t i = 0; i < want.size(); ++i) CHECK(ints->items[i]->i == want[i]);
    const auto* misc = root->get("misc");
    REQUIRE(misc->items.size() == 3);
    CHECK(misc->items[0]->b);
    CHECK(misc->items[1]->is_none());
    CHECK(misc->items[2]->s == "h\xc3\xa9");
    REQUIRE(root->get("names")->dict.size() == 1);
    CHECK(root->get("names")->dict[0].second->s == "bottle");
    for (char c : bytes) CHECK(c != 'G');  // no BINFLOAT: PyTorch 1.13's weights_only has none
  }

  TEST_CASE("export_pt and export_safetensors: the same tensors, read back") {
    auto m = trained_like(2, 4);
    m->names = {"bottle", "can"};
    const fs::path d = testing::fresh_dir("export_pt");
    const std::string pt = (d / "best_yolov5.pt").string(), st = (d / "best.safetensors").string();
    export_pt(*m, pt);
    export_safetensors(*m, st);

    io::TorchCheckpoint ck = io::load_yolov5_pt(pt);
    CHECK(ck.source == "model");
    CHECK(ck.names == std::vector<std::string>{"bottle", "can"});
    CHECK(ck.nc == 2);
    CHECK(ck.stride == std::vector<float>{8, 16, 32});
    CHECK(ck.yaml_text == model::spec_to_yaml(m->spec()));
    const auto sd = m->state_dict();
    REQUIRE(ck.state.size() == sd.size());
    for (size_t i = 0; i < sd.size(); ++i) {
      CHECK(ck.state[i].first == sd[i].first);
      REQUIRE(ck.state[i].second.shape() == sd[i].second.shape());
      CHECK(std::memcmp(ck.state[i].second.data(), sd[i].second.data(), size_t(sd[i].second.numel()) * 4) == 0);
    }
    CHECK(ck.int_buffers.size() == 57);
    CHECK(ck.int_buffers.at("model.0.bn.num_batches_tracked") == 7);
    CHECK(ck.keys.size() == 349);

    // read as weights: the same network, the same outputs bit for bit
    auto back = model::build_model(model::read_weights(pt));
    CHECK(back->names == m->names);
    Tensor<float> x({1, 3, 64, 64});
    Rng rng(9);
    for (int64_t i = 0; i < x.numel(); ++i) x[i] = float(rng.uniform());
    const Tensor<float> a = m->predict(x), b = back->predict(x);
    REQUIRE(a.shape() == b.shape());
    CHECK(std::memcmp(a.data(), b.data(), size_t(a.numel()) * 4) == 0);

    io::Safetensors s = io::load_safetensors(st);
    CHECK(s.tensors.size() == 349);
    for (auto& [name, t] : sd) {
      const Tensor<float> u = s.f32(name);
      REQUIRE(u.shape() == t.shape());
      CHECK(std::memcmp(u.data(), t.data(), size_t(t.numel()) * 4) == 0);
    }
    CHECK(s.i64("model.23.m.0.cv2.bn.num_batches_tracked") == std::vector<int64_t>{7});
    CHECK(s.metadata.at("names") == "[\"bottle\",\"can\"]");
    CHECK(s.metadata.at("stride") == "[8,16,32]");
  }

  TEST_CASE("spec_to_yaml: every built-in scale reads back to the same spec") {
    for (const char* name : {"n", "s", "m", "l", "x"}) {
      model::ModelSpec a = model::yolov5_spec(name);
      a.nc = 7;
      a.anchors[0] = {10.5, 13, 16, 30, 33, 23};
      const std::string y = model::spec_to_yaml(a);
      const model::ModelSpec b = model::spec_from_json(model::parse_model_yaml(y, "y"), a.name);
      CHECK(b.nc == 7);
      CHECK(b.depth_multiple == a.depth_multiple);
      CHECK(b.width_multiple == a.width_multiple);
      CHECK(b.anchors == a.anchors);
      CHECK(b.backbone_size == a.backbone_size);
      REQUIRE(b.layers.size() == a.layers.size());
      for (size_t i = 0; i < a.layers.size(); ++i) {
        CHECK(b.layers[i].from == a.layers[i].from);
        CHECK(b.layers[i].repeats == a.layers[i].repeats);
        CHECK(b.layers[i].block == a.layers[i].block);
        CHECK(b.layers[i].args == a.layers[i].args);
      }
    }
    const std::string y = model::spec_to_yaml(model::yolov5_spec("s"));
    CHECK(y.find("depth_multiple: 0.33\n") != std::string::npos);
    CHECK(y.find("- [-1, 1, nn.Upsample, [None, 2, nearest]]\n") != std::string::npos);
    CHECK(y.find("- [[17, 20, 23], 1, Detect, [nc, anchors]]\n") != std::string::npos);
    CHECK(y.find("anchors: [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119], [116, 90, 156, 198, 373, 326]]\n") !=
          std::string::npos);
  }
}
