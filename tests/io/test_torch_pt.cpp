// Tests of io/pickle.hpp and io/torch_pt.hpp against the YOLOv5 fixtures.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <yolite/io/npy.hpp>
#include <yolite/io/pickle.hpp>
#include <yolite/io/torch_pt.hpp>
#include <yolite/io/zip.hpp>

#include "io_test_util.hpp"

using namespace yolite;
using iotest::error_of;
namespace pk = yolite::io::pickle;
using namespace std::string_literals;

namespace {
// Little helpers to hand-assemble pickle byte streams.
std::string binunicode(const std::string& s) {
  std::string r = "X";
  io::put_le32(r, uint32_t(s.size()));
  return r + s;
}
}  // namespace

TEST_SUITE("io") {
  TEST_CASE("pickle: basic protocol-2 data") {
    // {'a': [1, -2, 300, 70000, 2**40, -1.5, True, None], 'b': ('x', 'y'), 'c': b'\x01'}
    std::string p = "\x80\x02}q\x00("s;
    p += binunicode("a") + "]q\x01(K\x01J\xfe\xff\xff\xffM\x2c\x01J\x70\x11\x01\x00"s;
    p += std::string("\x8a\x06\x00\x00\x00\x00\x00\x01", 8);  // LONG1 2**40
    p += std::string("G\xbf\xf8\x00\x00\x00\x00\x00\x00", 9);  // -1.5 big-endian
    p += "\x88Ne";
    p += binunicode("b") + "\x8c\x01x\x8c\x01y\x86";
    p += binunicode("c") + std::string("C\x01\x01", 3);
    p += "u.";
    pk::Pickle r = pk::unpickle(p, "test");
    const pk::Value* root = r.root();
    REQUIRE(root->kind == pk::Kind::Dict);
    const pk::Value* a = root->get("a");
    REQUIRE(a);
    REQUIRE(a->items.size() == 8);
    CHECK(a->items[0]->i == 1);
    CHECK(a->items[1]->i == -2);
    CHECK(a->items[2]->i == 300);
    CHECK(a->items[3]->i == 70000);
    CHECK(a->items[4]->i == (int64_t(1) << 40));
    CHECK(a->items[5]->f == -1.5);
    CHECK(a->items[6]->b);
    CHECK(a->items[7]->is_none());
    CHECK(root->get("b")->items[1]->s == "y");
    CHECK(root->get("c")->kind == pk::Kind::Bytes);
    CHECK(root->get("zz") == nullptr);
    // negative LONG1: -129 = 0x7f 0xff
    pk::Pickle n = pk::unpickle(std::string("\x80\x02\x8a\x02\x7f\xff.", 7), "neg");
    CHECK(n.root()->i == -129);
  }

  TEST_CASE("pickle: a forbidden GLOBAL (os.system) is only recorded, never executed") {
    iotest::TempDir tmp("pk_evil");
    std::string marker = tmp / "pwned";
    // cos\nsystem\n(X<cmd>tR.  == os.system("touch <marker>")
    std::string p = "\x80\x02" "cos\nsystem\nq\x00("s + binunicode("touch " + marker) + "tR.";
    pk::Pickle r = pk::unpickle(p, "evil");
    CHECK_FALSE(std::filesystem::exists(marker));
    REQUIRE(r.root()->kind == pk::Kind::Object);
    CHECK(r.root()->qualname() == "os.system");
    CHECK(r.root()->args->items[0]->s == "touch " + marker);
    // the same via STACK_GLOBAL (protocol 4) with builtins.eval
    std::string p4 = "\x80\x04\x8c\x08" "builtins\x8c\x04" "eval\x93\x8c\x07" "1/0+1+1\x85R.";
    pk::Pickle r4 = pk::unpickle(p4, "evil4");
    CHECK(r4.root()->qualname() == "builtins.eval");
    // and when that ends up as the checkpoint's model, the loader refuses it clearly
  }

  TEST_CASE("pickle: corrupt streams give errors with the byte offset") {
    CHECK(error_of([] { pk::unpickle(std::string("\x80\x02]q\x00", 5), "cut"); }).find("truncated") != std::string::npos);
    CHECK(error_of([] { pk::unpickle(std::string("\x80\x02h\x05.", 5), "memo"); }).find("memo index 5") !=
          std::string::npos);
    CHECK(error_of([] { pk::unpickle(std::string("\x80\x02X\xff\xff\xff\x7f", 7), "len"); }).find("more bytes") !=
          std::string::npos);
    CHECK(error_of([] { pk::unpickle(std::string("\x80\x02" "a.", 4), "under"); }).find("underflow") !=
          std::string::npos);
    CHECK(error_of([] { pk::unpickle(std::string("\x80\x02" "t.", 4), "nomark"); }).find("MARK") != std::string::npos);
    auto msg = error_of([] { pk::unpickle(std::string("\x80\x02\x82\x01.", 5), "ext"); });
    CHECK(msg.find("byte 2") != std::string::npos);
    CHECK(msg.find("0x82") != std::string::npos);
    // a storage claiming 10^15 elements is refused before anything is allocated
    std::string big = "\x80\x02(" + binunicode("storage") + "ctorch\nFloatStorage\n" + binunicode("0") +
                      binunicode("cpu") + "\x8a\x07" + std::string("\x00\x80\xc6\xa4\x7e\x8d\x03", 7) + "tQ.";
    CHECK(error_of([&] { pk::unpickle(big, "huge"); }).find("refusing") != std::string::npos);
    // a deep nesting (100000 one-element lists) is fine: no recursion anywhere
    std::string deep = "\x80\x02";
    for (int i = 0; i < 100000; ++i) deep += "]";
    for (int i = 0; i < 99999; ++i) deep += "a";
    deep += ".";
    pk::Pickle d = pk::unpickle(deep, "deep");
    CHECK(d.num_values() == 100000);
  }

  TEST_CASE("torch .pt: yolov5n matches the state npz bit for bit") {
    io::TorchCheckpoint ck = io::load_yolov5_pt(iotest::shared("fixtures/yolov5n_nc5_seed0.pt"));
    CHECK(ck.source == "model");  // ema is None after strip_optimizer
    CHECK(ck.keys.size() == 349);
    CHECK(ck.state.size() + ck.int_buffers.size() == 349);
    CHECK(ck.int_buffers.size() == 57);
    CHECK(ck.num_parameters() == 1770682);
    CHECK(ck.nc == 5);
    CHECK(ck.names == std::vector<std::string>{"0", "1", "2", "3", "4"});
    CHECK(ck.stride == std::vector<float>{8, 16, 32});
    CHECK(ck.depth_multiple == 0.33);
    CHECK(ck.width_multiple == 0.25);
    REQUIRE(ck.anchors_px.size() == 3);
    CHECK(ck.anchors_px[0] == std::vector<float>{10, 13, 16, 30, 33, 23});
    CHECK(ck.anchors_px[2] == std::vector<float>{116, 90, 156, 198, 373, 326});
    CHECK(ck.yaml["nc"] == 5);
    CHECK(ck.yaml["backbone"].size() == 10);
    CHECK(ck.info["epoch"] == -1);
    CHECK(ck.info["best_fitness"].is_null());
    CHECK(ck.info["git"]["commit"] == "915bbf294bb74c859f0b41f1c23bc395014ea679");
    CHECK(ck.info["opt"]["project"] == "runs/train");
    CHECK(ck.info["opt"]["imgsz"] == 320);

    io::Npz ref = io::load_npz(iotest::shared("fixtures/yolov5n_nc5_seed0_state.npz"));
    CHECK(ck.keys == ref.keys());  // same names, same order as model.state_dict()
    int mismatched = 0;
    for (auto& [name, t] : ck.state) {
      Tensor<float> r = ref.f32(name);
      if (r.shape() != t.shape() || std::memcmp(r.data(), t.data(), size_t(t.numel()) * 4) != 0) {
        ++mismatched;
        MESSAGE("mismatch: ", name);
      }
    }
    CHECK(mismatched == 0);
    for (auto& [name, v] : ck.int_buffers) CHECK(ref.i64(name) == std::vector<int64_t>{v});
    CHECK(ck.get("model.0.conv.weight").shape() == Shape{16, 3, 6, 6});
    CHECK(ck.get("model.24.m.0.weight").shape() == Shape{30, 64, 1, 1});
    CHECK(ck.get("model.24.anchors").shape() == Shape{3, 3, 2});
    CHECK(ck.int_buffers.at("model.0.bn.num_batches_tracked") == 4);
    // the parameters are exactly the entries that are not buffers
    for (auto& p : ck.parameters) {
      CHECK(p.find("running_") == std::string::npos);
      CHECK(p.find("anchors") == std::string::npos);
    }
    CHECK(ck.parameters.size() == 177);
  }

  TEST_CASE("torch .pt: yolov5s") {
    io::TorchCheckpoint ck = io::load_yolov5_pt(iotest::shared("fixtures/yolov5s_nc5_seed0.pt"));
    CHECK(ck.keys.size() == 349);
    CHECK(ck.num_parameters() == 7033114);
    CHECK(ck.nc == 5);
    CHECK(ck.width_multiple == 0.5);
    CHECK(ck.depth_multiple == 0.33);
    CHECK(ck.stride == std::vector<float>{8, 16, 32});
    CHECK(ck.get("model.0.conv.weight").shape() == Shape{32, 3, 6, 6});
    CHECK(ck.get("model.24.m.2.weight").shape() == Shape{30, 512, 1, 1});
  }

  TEST_CASE("torch .pt: truncated, corrupt and foreign files give clear errors") {
    iotest::TempDir tmp("pt_bad");
    std::string ok = iotest::slurp(iotest::shared("fixtures/yolov5n_nc5_seed0.pt"));
    for (size_t cut : {size_t(0), size_t(2), size_t(100), size_t(50000), size_t(1000000), ok.size() - 200,
                       ok.size() - 1}) {
      iotest::spit(tmp / "cut.pt", ok.substr(0, cut));
      CAPTURE(cut);
      CHECK(error_of([&] { io::load_yolov5_pt(tmp / "cut.pt"); }).find("cut.pt") != std::string::npos);
    }
    // a flipped byte inside a storage: the zip CRC names the member
    std::string flip = ok;
    flip[2000000] ^= 0x10;
    iotest::spit(tmp / "flip.pt", flip);
    auto msg = error_of([&] { io::load_yolov5_pt(tmp / "flip.pt"); });
    CHECK(msg.find("flip.pt") != std::string::npos);
    CHECK(msg.find("CRC") != std::string::npos);
    // foreign files
    iotest::spit(tmp / "notes.pt", "this is a text file\n");
    CHECK(error_of([&] { io::load_yolov5_pt(tmp / "notes.pt"); }).find("not a PyTorch checkpoint") !=
          std::string::npos);
    CHECK(error_of([&] { io::load_yolov5_pt(iotest::shared("fixtures/yolov5n_nc5_seed0_io.npz")); })
              .find("data.pkl") != std::string::npos);
    iotest::spit(tmp / "legacy.pt", std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 14));
    CHECK(error_of([&] { io::load_yolov5_pt(tmp / "legacy.pt"); }).find("legacy") != std::string::npos);
  }

  TEST_CASE("torch .pt: a hand-made archive: ema preferred, state-dict form, bad strides") {
    iotest::TempDir tmp("pt_made");
    // storage '0': 4 float32 values; tensor of shape (2, 2)
    std::string data;
    for (float v : {1.f, 2.f, 3.f, 4.f}) {
      uint32_t u;
      std::memcpy(&u, &v, 4);
      io::put_le32(data, u);
    }
    auto tensor = [&](const char* stride) {
      return "ctorch._utils\n_rebuild_tensor_v2\n((" + binunicode("storage") + "ctorch\nFloatStorage\n" +
             binunicode("0") + binunicode("cpu") + "K\x04tQK\x00K\x02K\x02\x86"s + stride +
             "\x89" "ccollections\nOrderedDict\n)RtR";
    };
    auto write_pt = [&](const std::string& name, const std::string& pkl) {
      io::ZipWriter w(tmp / name);
      w.add("archive/data.pkl", pkl);
      w.add("archive/data/0", data);
      w.add("archive/version", "3\n");
      w.finish();
    };
    // {'model': {'w': T}, 'ema': {'w': T}} -- state dicts; ema wins
    std::string sd = "\x80\x02}(" + binunicode("model") + "}(" + binunicode("a.weight") + tensor("K\x02K\x01\x86") +
                     "u" + binunicode("ema") + "}(" + binunicode("b.weight") + tensor("K\x02K\x01\x86") + "uu.";
    write_pt("sd.pt", sd);
    io::TorchCheckpoint ck = io::load_yolov5_pt(tmp / "sd.pt");
    CHECK(ck.source == "ema");
    REQUIRE(ck.state.size() == 1);
    CHECK(ck.state[0].first == "b.weight");
    CHECK(ck.state[0].second.at(1, 0) == 3.f);
    CHECK(ck.num_parameters() == 4);
    // transposed strides are refused by name
    std::string tr = "\x80\x02}(" + binunicode("model") + "}(" + binunicode("a.weight") + tensor("K\x01K\x02\x86") + "uu.";
    write_pt("tr.pt", tr);
    auto msg = error_of([&] { io::load_yolov5_pt(tmp / "tr.pt"); });
    CHECK(msg.find("a.weight") != std::string::npos);
    CHECK(msg.find("contiguous") != std::string::npos);
    // a storage member that is missing
    {
      io::ZipWriter w(tmp / "nostore.pt");
      w.add("archive/data.pkl", sd);
      w.finish();
    }
    CHECK(error_of([&] { io::load_yolov5_pt(tmp / "nostore.pt"); }).find("missing") != std::string::npos);
    // self-referencing data beside the model ('opt' = L with L = [L, L]) converts in bounded time
    std::string selfref = "\x80\x02}(" + binunicode("opt") + "]q\x01" "h\x01" "a" "h\x01" "a" + binunicode("model") + "}(" +
                          binunicode("a.weight") + tensor("K\x02K\x01\x86") + "uu.";
    write_pt("selfref.pt", selfref);
    io::TorchCheckpoint sr = io::load_yolov5_pt(tmp / "selfref.pt");
    CHECK(sr.state.size() == 1);
    CHECK(sr.info["opt"].is_array());
    // a module shared at every level (2^40 paths) is refused instead of walked forever
    std::string dag = "\x80\x02}(" + binunicode("model");
    for (int k = 0; k <= 40; ++k) {
      dag += "cm\nM\n)\x81}";
      if (k > 0)
        dag += "(" + binunicode("_modules") + "}(" + binunicode("a") + "h" + char(k - 1) + binunicode("b") + "h" +
               char(k - 1) + "uu";
      dag += "bq" + std::string(1, char(k));
      if (k < 40) dag += "0";  // POP: only the last one stays on the stack as the model
    }
    dag += "u.";
    write_pt("dag.pt", dag);
    CHECK(error_of([&] { io::load_yolov5_pt(tmp / "dag.pt"); }).find("100000 modules") != std::string::npos);
    // an os.system "model" is refused, not run
    std::string evil = "\x80\x02}(" + binunicode("model") + "cos\nsystem\n(" + binunicode("true") + "tRu.";
    write_pt("evil.pt", evil);
    CHECK(error_of([&] { io::load_yolov5_pt(tmp / "evil.pt"); }).find("os.system") != std::string::npos);
  }
}


TEST_SUITE("io") {
TEST_CASE("weights: .pt, checkpoint and npz give the same tensors") {
  iotest::TempDir tmp("weights");
  io::Checkpoint a = io::to_checkpoint(io::load_yolov5_pt(iotest::shared("fixtures/yolov5n_nc5_seed0.pt")));
  CHECK(a.tensors.size() == 292);
  CHECK(a.int_tensors.size() == 57);
  CHECK(a.meta["nc"] == 5);
  CHECK(a.meta["names"].size() == 5);
  CHECK(a.meta["width_multiple"] == 0.25);
  CHECK(a.meta["anchors_px"][1][5] == 119.0);
  CHECK(a.meta["info"]["epoch"] == -1);
  io::save_checkpoint(tmp / "n.safetensors", a);
  io::Checkpoint b = io::load_checkpoint(tmp / "n.safetensors");
  io::Checkpoint c;  // the state dict as numpy.savez wrote it
  {
    io::Npz n = io::load_npz(iotest::shared("fixtures/yolov5n_nc5_seed0_state.npz"));
    for (const auto& k : n.keys()) {
      const io::Array& arr = n.get(k);
      if (io::dtype_is_float(arr.dtype)) c.add(k, arr.f32());
      else c.add_int(k, arr.i64_tensor());
    }
  }
  CHECK(b.meta == a.meta);
  REQUIRE(b.tensors.size() == a.tensors.size());
  REQUIRE(c.tensors.size() == a.tensors.size());
  int diff = 0;
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const auto& x = a.tensors[i].second;
    for (const io::Checkpoint* o : {&b, &c}) {
      const auto& y = o->tensors[i].second;
      diff += o->tensors[i].first != a.tensors[i].first || x.shape() != y.shape() ||
              std::memcmp(x.data(), y.data(), size_t(x.numel()) * 4) != 0;
    }
  }
  CHECK(diff == 0);
  CHECK(b.get_int("model.0.bn.num_batches_tracked") == 4);
  CHECK(c.get_int("model.23.m.0.cv2.bn.num_batches_tracked") == 4);
  iotest::spit(tmp / "x.txt", "nothing\n");
  CHECK(iotest::error_of([&] { io::load_checkpoint(tmp / "x.txt"); }).find("x.txt") != std::string::npos);
}
}
