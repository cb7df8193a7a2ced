// Tests of io/safetensors.hpp and io/checkpoint.hpp.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <yolite/core/rng.hpp>
#include <yolite/io/checkpoint.hpp>
#include <yolite/io/safetensors.hpp>

#include "io_test_util.hpp"

using namespace yolite;
using iotest::error_of;

namespace {
Tensor<float> random_tensor(Shape s, uint64_t seed) {
  Rng rng(seed);
  Tensor<float> t(s);
  for (auto& v : t) v = float(rng.normal());
  return t;
}
}  // namespace

TEST_SUITE("io") {
  TEST_CASE("safetensors: round trip of F32/F16/F64/I64/U8 with metadata") {
    iotest::TempDir tmp("st_rt");
    io::Safetensors st;
    Tensor<float> w = random_tensor({4, 3, 3, 3}, 1);
    st.add("conv.weight", io::Array::from(w));
    io::Array h;  // F16 [3] = 1, -2, 0.5
    h.dtype = io::DType::f16;
    h.shape = {3};
    for (uint16_t v : {uint16_t(0x3C00), uint16_t(0xC000), uint16_t(0x3800)}) {
      h.bytes += char(v & 0xff);
      h.bytes += char(v >> 8);
    }
    st.add("half", h);
    st.add("dbl", io::Array::from(Tensor<double>({2}, 0.1)));
    st.add("count", io::Array::from_i64({7}, {}));
    st.add("bytes", io::Array::from(Tensor<uint8_t>({5}, uint8_t(9))));
    st.add("empty", io::Array::from(Tensor<float>({0, 4})));
    st.metadata["epoch"] = "3";
    st.metadata["note"] = "quotes \" and unicode \xc3\xa9";
    io::save_safetensors(tmp / "a.safetensors", st);
    io::Safetensors r = io::load_safetensors(tmp / "a.safetensors");
    CHECK(r.tensors.size() == 6);
    Tensor<float> w2 = r.f32("conv.weight");
    CHECK(w2.shape() == w.shape());
    CHECK(std::equal(w.begin(), w.end(), w2.begin()));
    Tensor<float> h2 = r.f32("half");
    CHECK(h2[0] == 1.f);
    CHECK(h2[1] == -2.f);
    CHECK(h2[2] == 0.5f);
    CHECK(r.f64("dbl")[1] == 0.1);
    CHECK(r.i64("count") == std::vector<int64_t>{7});
    CHECK(r.get("count").shape.empty());
    CHECK(r.i64("bytes") == std::vector<int64_t>{9, 9, 9, 9, 9});
    CHECK(r.get("empty").shape == std::vector<int64_t>{0, 4});
    CHECK(r.metadata == st.metadata);
    CHECK(error_of([&] { r.get("nope"); }).find("nope") != std::string::npos);
  }

  TEST_CASE("safetensors: the header follows the spec") {
    iotest::TempDir tmp("st_spec");
    io::Safetensors st;
    st.add("b", io::Array::from(Tensor<float>({2, 2}, 1.f)));
    st.add("a", io::Array::from_i64({1, 2, 3}, {3}));
    st.add("c", io::Array::from(Tensor<uint8_t>({3}, uint8_t(1))));
    st.metadata["k"] = "v";
    io::save_safetensors(tmp / "s.safetensors", st);
    std::string raw = iotest::slurp(tmp / "s.safetensors");
    REQUIRE(raw.size() > 8);
    uint64_t n = io::le64(reinterpret_cast<const unsigned char*>(raw.data()));
    REQUIRE(8 + n <= raw.size());
    CHECK(n % 8 == 0);  // data section 8-byte aligned
    std::string text = raw.substr(8, n);
    CHECK(text[0] == '{');
    auto j = nlohmann::json::parse(text);  // valid JSON (trailing spaces allowed)
    CHECK(j["__metadata__"]["k"] == "v");
    CHECK(j["b"]["dtype"] == "F32");
    CHECK(j["b"]["shape"] == nlohmann::json::array({2, 2}));
    CHECK(j["a"]["dtype"] == "I64");
    CHECK(j["c"]["dtype"] == "U8");
    // data_offsets: back to back from 0, each the right size and naturally aligned
    std::vector<std::pair<uint64_t, uint64_t>> spans;
    for (auto& key : {"a", "b", "c"}) spans.push_back({j[key]["data_offsets"][0], j[key]["data_offsets"][1]});
    CHECK(spans[0].second - spans[0].first == 24);
    CHECK(spans[1].second - spans[1].first == 16);
    CHECK(spans[2].second - spans[2].first == 3);
    CHECK(spans[0].first % 8 == 0);
    CHECK(spans[1].first % 4 == 0);
    std::sort(spans.begin(), spans.end());
    CHECK(spans[0].first == 0);
    CHECK(spans[1].first == spans[0].second);
    CHECK(spans[2].first == spans[1].second);
    CHECK(8 + n + spans[2].second == raw.size());
    // the I64 values are raw little-endian at their offsets
    uint64_t a0 = j["a"]["data_offsets"][0];
    CHECK(io::le64(reinterpret_cast<const unsigned char*>(raw.data()) + 8 + n + a0 + 8) == 2);
  }

  TEST_CASE("safetensors: truncated, inconsistent and foreign files") {
    iotest::TempDir tmp("st_bad");
    io::Safetensors st;
    st.add("x", io::Array::from(random_tensor({64}, 2)));
    st.add("y", io::Array::from(random_tensor({16}, 3)));
    io::save_safetensors(tmp / "ok.safetensors", st);
    std::string ok = iotest::slurp(tmp / "ok.safetensors");
    for (size_t cut : {size_t(0), size_t(4), size_t(8), size_t(30), ok.size() / 2, ok.size() - 1}) {
      iotest::spit(tmp / "cut.safetensors", ok.substr(0, cut));
      CAPTURE(cut);
      CHECK(error_of([&] { io::load_safetensors(tmp / "cut.safetensors"); }).find("cut.safetensors") !=
            std::string::npos);
    }
    iotest::spit(tmp / "tail.safetensors", ok + "xx");
    CHECK(error_of([&] { io::load_safetensors(tmp / "tail.safetensors"); }).find("trailing") != std::string::npos);
    // overlapping offsets (y claims x's bytes)
    uint64_t n = io::le64(reinterpret_cast<const unsigned char*>(ok.data()));
    auto j = nlohmann::json::parse(ok.substr(8, n));
    j["y"]["data_offsets"] = {0, 64};
    std::string h = j.dump();
    h.append((8 - h.size() % 8) % 8, ' ');
    std::string len;
    io::put_le64(len, h.size());
    iotest::spit(tmp / "ovl.safetensors", len + h + ok.substr(8 + n));
    auto msg = error_of([&] { io::load_safetensors(tmp / "ovl.safetensors"); });
    CHECK(msg.find("overlap") != std::string::npos);
    // a wrong byte count for the dtype and shape
    j = nlohmann::json::parse(ok.substr(8, n));
    j["x"]["shape"] = {65};
    h = j.dump();
    h.append((8 - h.size() % 8) % 8, ' ');
    len.clear();
    io::put_le64(len, h.size());
    iotest::spit(tmp / "shape.safetensors", len + h + ok.substr(8 + n));
    msg = error_of([&] { io::load_safetensors(tmp / "shape.safetensors"); });
    CHECK(msg.find("'x'") != std::string::npos);
    CHECK(msg.find("260") != std::string::npos);
    // foreign files
    iotest::spit(tmp / "t.txt", "Hello, this is a text file and not safetensors at all.\n");
    CHECK(error_of([&] { io::load_safetensors(tmp / "t.txt"); }).find("not a safetensors") != std::string::npos);
    std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde", 33);
    iotest::spit(tmp / "x.png", png);
    CHECK(error_of([&] { io::load_safetensors(tmp / "x.png"); }).find("x.png") != std::string::npos);
    std::string junk = std::string("\x10\0\0\0\0\0\0\0", 8) + "{not json at al}";
    iotest::spit(tmp / "junk.safetensors", junk);
    CHECK(error_of([&] { io::load_safetensors(tmp / "junk.safetensors"); }).find("JSON") != std::string::npos);
  }

  TEST_CASE("checkpoint: round trip of tensors, ema./optim. entries, int scalars and meta") {
    iotest::TempDir tmp("ck_rt");
    io::Checkpoint ck;
    ck.add("model.0.conv.weight", random_tensor({16, 3, 6, 6}, 4));
    ck.add("model.0.bn.weight", random_tensor({16}, 5));
    ck.add_int("model.0.bn.num_batches_tracked", 4);
    ck.add("ema.model.0.conv.weight", random_tensor({16, 3, 6, 6}, 6));
    ck.add("optim.model.0.conv.weight", random_tensor({16, 3, 6, 6}, 7));
    ck.meta = {{"epoch", 12},
               {"best_fitness", 0.4125},
               {"names", {"cat", "dog"}},
               {"nc", 2},
               {"model", {{"scale", "n"}, {"depth_multiple", 0.33}}},
               {"hyp", {{"lr0", 0.01}}}};
    CHECK_THROWS_AS(ck.add("model.0.bn.weight", Tensor<float>({1})), Error);
    io::save_checkpoint(tmp / "last.safetensors", ck);
    io::Checkpoint r = io::load_checkpoint(tmp / "last.safetensors");
    REQUIRE(r.tensors.size() == 4);
    for (size_t i = 0; i < 4; ++i) {
      CHECK(r.tensors[i].first == ck.tensors[i].first);  // order kept
      const auto& a = ck.tensors[i].second;
      const auto& b = r.tensors[i].second;
      CHECK(a.shape() == b.shape());
      CHECK(std::equal(a.begin(), a.end(), b.begin()));
    }
    CHECK(r.get_int("model.0.bn.num_batches_tracked") == 4);
    CHECK(r.meta == ck.meta);
    CHECK(r.meta["names"][1] == "dog");
    CHECK(error_of([&] { r.get("model.9.conv.weight"); }).find("model.9.conv.weight") != std::string::npos);
    // the file is plain safetensors with our metadata
    io::Safetensors st = io::load_safetensors(tmp / "last.safetensors");
    CHECK(st.metadata.at("format") == "yolite.checkpoint");
    CHECK(st.metadata.at("checksum").rfind("crc32:", 0) == 0);
    CHECK(st.get("model.0.bn.num_batches_tracked").dtype == io::DType::i64);
  }

  TEST_CASE("checkpoint: truncation, flipped bytes and foreign files are detected") {
    iotest::TempDir tmp("ck_bad");
    io::Checkpoint ck;
    ck.add("a", random_tensor({100}, 8));
    ck.add("b", random_tensor({7, 5}, 9));
    ck.add_int("n", 3);
    ck.meta = {{"epoch", 1}};
    io::save_checkpoint(tmp / "ck.safetensors", ck);
    std::string ok = iotest::slurp(tmp / "ck.safetensors");
    uint64_t n = io::le64(reinterpret_cast<const unsigned char*>(ok.data()));
    for (size_t cut : {size_t(0), size_t(7), size_t(8), size_t(100), size_t(8 + n), size_t(8 + n + 1),
                       ok.size() - 4, ok.size() - 1}) {
      iotest::spit(tmp / "cut.safetensors", ok.substr(0, cut));
      CAPTURE(cut);
      CHECK(error_of([&] { io::load_checkpoint(tmp / "cut.safetensors"); }).find("cut.safetensors") !=
            std::string::npos);
    }
    // a flipped bit anywhere in the data section -> checksum error naming the file
    for (size_t pos : {size_t(8 + n), size_t(8 + n + 200), ok.size() - 1}) {
      std::string bad = ok;
      bad[pos] ^= 0x01;
      iotest::spit(tmp / "flip.safetensors", bad);
      auto msg = error_of([&] { io::load_checkpoint(tmp / "flip.safetensors"); });
      CAPTURE(pos);
      CHECK(msg.find("flip.safetensors") != std::string::npos);
      CHECK(msg.find("checksum") != std::string::npos);
    }
    // a changed value inside the metadata JSON (epoch 1 -> 7) is caught too
    std::string meta_edit = ok;
    size_t at = meta_edit.find("epoch\\\":1");
    REQUIRE(at != std::string::npos);
    meta_edit[at + 8] = '7';
    iotest::spit(tmp / "meta.safetensors", meta_edit);
    CHECK(error_of([&] { io::load_checkpoint(tmp / "meta.safetensors"); }).find("checksum") != std::string::npos);
    iotest::spit(tmp / "t.txt", "epoch,loss\n1,0.5\n");
    CHECK(error_of([&] { io::load_checkpoint(tmp / "t.txt"); }).find("t.txt") != std::string::npos);
    // a .pt (zip) given where a checkpoint is expected
    auto msg = error_of([&] { io::load_checkpoint(iotest::shared("fixtures/yolov5n_nc5_seed0.pt")); });
    CHECK(msg.find("not a safetensors") != std::string::npos);
  }
}
