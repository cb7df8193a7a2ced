// Tests of io/crc32.hpp, io/half.hpp, io/zip.hpp and io/npy.hpp.
#include <doctest/doctest.h>

#include <cmath>
#include <yolite/core/rng.hpp>
#include <yolite/io/crc32.hpp>
#include <yolite/io/half.hpp>
#include <yolite/io/npy.hpp>
#include <yolite/io/zip.hpp>

#include "io_test_util.hpp"

using namespace yolite;
using iotest::error_of;

TEST_SUITE("io") {
  TEST_CASE("crc32: known value, fast == reference") {
    CHECK(io::crc32("123456789", 9) == 0xCBF43926u);
    CHECK(io::crc32_reference("123456789", 9) == 0xCBF43926u);
    CHECK(io::crc32("", 0) == 0u);
    Rng rng(7);
    std::string s(1000, '\0');
    for (auto& c : s) c = char(rng.below(256));
    for (size_t n : {1, 7, 8, 9, 63, 1000}) CHECK(io::crc32(s.data(), n) == io::crc32_reference(s.data(), n));
    // continuing over two parts == one pass
    CHECK(io::crc32(s.data() + 300, 700, io::crc32(s.data(), 300)) == io::crc32(s.data(), 1000));
  }

  TEST_CASE("half: every float16 survives f16 -> f32 -> f16; rounding is to nearest even") {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; ++h) {
      float f = io::half_to_float(uint16_t(h));
      uint16_t back = io::float_to_half(f);
      bool nan = ((h >> 10) & 0x1f) == 0x1f && (h & 0x3ff);
      if (nan ? !std::isnan(f) : back != h) ++bad;
    }
    CHECK(bad == 0);
    CHECK(io::half_to_float(0x3C00) == 1.0f);
    CHECK(io::half_to_float(0xC000) == -2.0f);
    CHECK(io::half_to_float(0x0001) == std::ldexp(1.0f, -24));
    CHECK(io::half_to_float(0x7BFF) == 65504.0f);
    CHECK(std::isinf(io::half_to_float(0x7C00)));
    CHECK(io::float_to_half(0.1f) == 0x2E66);
    CHECK(io::float_to_half(65520.f) == 0x7C00);  // tie above max rounds to inf
    CHECK(io::float_to_half(65519.f) == 0x7BFF);
    CHECK(io::float_to_half(1.0f + std::ldexp(1.0f, -11)) == 0x3C00);   // tie -> even
    CHECK(io::float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3C02);  // tie -> even (up)
    CHECK(io::float_to_half(std::ldexp(1.0f, -25)) == 0x0000);  // tie -> even (0)
    CHECK(io::float_to_half(std::ldexp(1.5f, -25)) == 0x0001);
  }

  TEST_CASE("zip: write, list, read back; names with '/', empty member") {
    iotest::TempDir tmp("zip_rt");
    std::string big(100000, 'x');
    for (size_t i = 0; i < big.size(); ++i) big[i] = char(i * 31 + 7);
    {
      io::ZipWriter w(tmp / "a.zip");
      w.add("first.txt", "hello");
      w.add("dir/sub/second.bin", {std::string_view("ab"), std::string_view(big)});
      w.add("empty", "");
      w.finish();
    }
    io::ZipReader z(tmp / "a.zip");
    REQUIRE(z.entries().size() == 3);
    CHECK(z.names() == std::vector<std::string>{"first.txt", "dir/sub/second.bin", "empty"});
    CHECK(z.read("first.txt") == "hello");
    CHECK(z.read("dir/sub/second.bin") == "ab" + big);
    CHECK(z.read("empty").empty());
    CHECK(z.has("first.txt"));
    CHECK_FALSE(z.has("nope"));
    auto msg = error_of([&] { z.read("nope"); });
    CHECK(msg.find("nope") != std::string::npos);
    CHECK(msg.find("a.zip") != std::string::npos);
    std::string buf(5, '\0');
    z.read_into("first.txt", buf.data(), 5);
    CHECK(buf == "hello");
    CHECK_THROWS_AS(z.read_into("first.txt", buf.data(), 4), Error);
    // duplicate names refused by the writer; nothing is left behind without finish()
    {
      io::ZipWriter w(tmp / "dup.zip");
      w.add("x", "1");
      CHECK_THROWS_AS(w.add("x", "2"), Error);
    }
    CHECK_FALSE(std::filesystem::exists(tmp / "dup.zip"));
    CHECK(std::filesystem::directory_iterator(tmp.dir) != std::filesystem::directory_iterator());
    int files = 0;
    for (auto& e : std::filesystem::directory_iterator(tmp.dir)) files += e.is_regular_file();
    CHECK(files == 1);  // only a.zip: no temporary files
  }

  TEST_CASE("zip: same content gives the same bytes") {
    iotest::TempDir tmp("zip_det");
    for (const char* n : {"1.zip", "2.zip"}) {
      io::ZipWriter w(tmp / n);
      w.add("k", "value");
      w.finish();
    }
    CHECK(iotest::slurp(tmp / "1.zip") == iotest::slurp(tmp / "2.zip"));
  }

  TEST_CASE("zip: truncated, corrupt, foreign and compressed files give clear errors") {
    iotest::TempDir tmp("zip_bad");
    {
      io::ZipWriter w(tmp / "ok.zip");
      w.add("a.bin", std::string(5000, 'a'));
      w.add("b.bin", std::string(3000, 'b'));
      w.finish();
    }
    std::string ok = iotest::slurp(tmp / "ok.zip");
    for (size_t cut : {size_t(0), size_t(1), size_t(21), size_t(100), size_t(5000), ok.size() / 2,
                       ok.size() - 30, ok.size() - 1}) {
      iotest::spit(tmp / "cut.zip", ok.substr(0, cut));
      auto msg = error_of([&] {
        io::ZipReader z(tmp / "cut.zip");
        z.read("a.bin");
        z.read("b.bin");
      });
      CAPTURE(cut);
      CHECK(msg.find("cut.zip") != std::string::npos);
    }
    // a flipped data byte is caught by the CRC
    std::string flipped = ok;
    flipped[200] ^= 0x40;
    iotest::spit(tmp / "flip.zip", flipped);
    auto msg = error_of([&] { io::ZipReader(tmp / "flip.zip").read("a.bin"); });
    CHECK(msg.find("CRC") != std::string::npos);
    CHECK(msg.find("a.bin") != std::string::npos);
    // central directory offset pointing past the end
    std::string far = ok;
    size_t eocd = far.size() - 22;
    far[eocd + 16] = char(0xF0);
    far[eocd + 19] = char(0x7F);
    iotest::spit(tmp / "far.zip", far);
    CHECK(error_of([&] { io::ZipReader z(tmp / "far.zip"); }).find("far.zip") != std::string::npos);
    // absurd entry count
    std::string many = ok;
    many[eocd + 10] = char(0xFE);
    many[eocd + 11] = char(0xFF);
    iotest::spit(tmp / "many.zip", many);
    CHECK(error_of([&] { io::ZipReader z(tmp / "many.zip"); }).find("entries") != std::string::npos);
    // a text file and a PNG
    iotest::spit(tmp / "notes.txt", "just some text, not a zip archive\n");
    CHECK(error_of([&] { io::ZipReader z(tmp / "notes.txt"); }).find("not a valid zip") != std::string::npos);
    std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde", 33);
    iotest::spit(tmp / "x.png", png);
    CHECK(error_of([&] { io::ZipReader z(tmp / "x.png"); }).find("x.png") != std::string::npos);
    CHECK(error_of([&] { io::ZipReader z(tmp / "missing.zip"); }).find("not found") != std::string::npos);
    // an unsupported method (bzip2 = 12, patched into the central directory) -> clear refusal
    std::string bz = ok;
    size_t cd = bz.find(std::string("PK\x01\x02", 4));
    REQUIRE(cd != std::string::npos);
    bz[cd + 10] = 12;
    iotest::spit(tmp / "bzip2.zip", bz);
    msg = error_of([&] { io::ZipReader(tmp / "bzip2.zip").read("a.bin"); });
    CHECK(msg.find("method 12") != std::string::npos);
    CHECK(msg.find("a.bin") != std::string::npos);
  }

  TEST_CASE("npy: save/load round trip for float32, float64, int64, uint8") {
    iotest::TempDir tmp("npy_rt");
    Tensor<float> a({2, 3, 4});
    for (int64_t i = 0; i < a.numel(); ++i) a[i] = float(i) * 0.5f - 3.f;
    io::save_npy(tmp / "a.npy", a);
    Tensor<float> b = io::load_npy_f32(tmp / "a.npy");
    CHECK(b.shape() == a.shape());
    CHECK(std::equal(a.begin(), a.end(), b.begin()));
    // data starts at a multiple of 64 and the header ends with '\n' (numpy's layout)
    std::string raw = iotest::slurp(tmp / "a.npy");
    size_t hl = uint8_t(raw[8]) | (uint8_t(raw[9]) << 8);
    CHECK((10 + hl) % 64 == 0);
    CHECK(raw[9 + hl] == '\n');
    CHECK(raw.find("'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }") != std::string::npos);

    Tensor<double> d({5});
    for (int64_t i = 0; i < 5; ++i) d[i] = 1.0 / (i + 1);
    io::save_npy(tmp / "d.npy", d);
    CHECK(io::load_npy_f64(tmp / "d.npy")[2] == 1.0 / 3);
    CHECK(iotest::slurp(tmp / "d.npy").find("(5,)") != std::string::npos);
    // float64 is not silently narrowed
    CHECK(error_of([&] { io::load_npy_f32(tmp / "d.npy"); }).find("float64") != std::string::npos);

    Tensor<int64_t> s(Shape{});  // 0-d scalar
    s[0] = -42;
    io::save_npy(tmp / "s.npy", s);
    auto sa = io::read_npy(tmp / "s.npy");
    CHECK(sa.shape.empty());
    CHECK(sa.i64() == std::vector<int64_t>{-42});
    Tensor<uint8_t> u({3});
    u[0] = 0;
    u[1] = 200;
    u[2] = 255;
    io::save_npy(tmp / "u.npy", u);
    CHECK(io::read_npy(tmp / "u.npy").i64() == std::vector<int64_t>{0, 200, 255});
  }

  TEST_CASE("npy: float16 widening, fortran order and bad headers") {
    iotest::TempDir tmp("npy_bad");
    io::NpyArray h;
    h.dtype = io::DType::f16;
    h.shape = {4};
    for (uint16_t v : {uint16_t(0x3C00), uint16_t(0xC000), uint16_t(0x3555), uint16_t(0x0001)}) {
      h.bytes += char(v & 0xff);
      h.bytes += char(v >> 8);
    }
    io::save_npy(tmp / "h.npy", h);
    Tensor<float> f = io::load_npy_f32(tmp / "h.npy");
    CHECK(f[0] == 1.0f);
    CHECK(f[1] == -2.0f);
    CHECK(f[2] == io::half_to_float(0x3555));
    CHECK(f[3] == std::ldexp(1.0f, -24));

    std::string good = iotest::slurp(tmp / "h.npy");
    std::string fort = good;
    fort.replace(fort.find("False"), 5, "True ");
    iotest::spit(tmp / "fort.npy", fort);
    CHECK(error_of([&] { io::read_npy(tmp / "fort.npy"); }).find("Fortran") != std::string::npos);
    std::string be = good;
    be.replace(be.find("<f2"), 3, ">f2");
    iotest::spit(tmp / "be.npy", be);
    CHECK(error_of([&] { io::read_npy(tmp / "be.npy"); }).find(">f2") != std::string::npos);
    for (size_t cut : {size_t(3), size_t(20), good.size() - 1}) {
      iotest::spit(tmp / "cut.npy", good.substr(0, cut));
      auto m = error_of([&] { io::read_npy(tmp / "cut.npy"); });
      CAPTURE(cut);
      CHECK(m.find("cut.npy") != std::string::npos);
    }
    // a shape claiming 10^15 elements is refused before any allocation
    std::string huge = good;
    huge.replace(huge.find("(4,)"), 4, "(1000000000000000,)");
    iotest::spit(tmp / "huge.npy", huge);
    CHECK(error_of([&] { io::read_npy(tmp / "huge.npy"); }).find("refusing") != std::string::npos);
    iotest::spit(tmp / "text.npy", "hello world, not numpy");
    CHECK(error_of([&] { io::read_npy(tmp / "text.npy"); }).find("NUMPY") != std::string::npos);
  }

  TEST_CASE("npz: round trip with '/' keys, integer scalars, truncation") {
    iotest::TempDir tmp("npz_rt");
    io::Npz z;
    Tensor<float> w({3, 2});
    for (int64_t i = 0; i < 6; ++i) w[i] = float(i) + 0.25f;
    z.set("grad/model.0.conv.weight", w);
    Tensor<int64_t> n(Shape{});
    n[0] = 5;
    z.set("bn_num_batches_tracked/model.0.bn", n);
    z.set("x", Tensor<double>({2}, 1.5));
    io::save_npz(tmp / "z.npz", z);
    io::Npz r = io::load_npz(tmp / "z.npz");
    CHECK(r.keys() == z.keys());
    CHECK(r.f32("grad/model.0.conv.weight").shape() == Shape{3, 2});
    CHECK(r.f32("grad/model.0.conv.weight")[5] == 5.25f);
    CHECK(r.i64("bn_num_batches_tracked/model.0.bn") == std::vector<int64_t>{5});
    CHECK(r.f64("x")[1] == 1.5);
    auto m = error_of([&] { r.f32("missing/key"); });
    CHECK(m.find("missing/key") != std::string::npos);
    CHECK(m.find("z.npz") != std::string::npos);
    std::string ok = iotest::slurp(tmp / "z.npz");
    for (size_t cut : {size_t(10), size_t(200), ok.size() - 100, ok.size() - 5}) {
      iotest::spit(tmp / "cut.npz", ok.substr(0, cut));
      CAPTURE(cut);
      CHECK(error_of([&] { io::load_npz(tmp / "cut.npz"); }).find("cut.npz") != std::string::npos);
    }
  }

  TEST_CASE("npz: the shared fixtures (numpy.savez output, zip64 local headers)") {
    io::Npz s = io::load_npz(iotest::shared("fixtures/yolov5n_nc5_seed0_state.npz"));
    CHECK(s.size() == 349);
    CHECK(s.keys().front() == "model.0.conv.weight");
    CHECK(s.shape("model.0.conv.weight") == std::vector<int64_t>{16, 3, 6, 6});
    CHECK(s.shape("model.2.m.0.cv2.conv.weight") == std::vector<int64_t>{16, 16, 3, 3});
    CHECK(s.shape("model.24.m.0.weight") == std::vector<int64_t>{30, 64, 1, 1});
    CHECK(s.shape("model.24.anchors") == std::vector<int64_t>{3, 3, 2});
    CHECK(s.i64("model.0.bn.num_batches_tracked") == std::vector<int64_t>{4});
    Tensor<float> anchors = s.f32("model.24.anchors");
    CHECK(anchors.at(0, 0, 0) == doctest::Approx(10.0 / 8));
    CHECK(anchors.at(2, 2, 1) == doctest::Approx(326.0 / 32));
    io::Npz io5 = io::load_npz(iotest::shared("fixtures/yolov5n_nc5_seed0_io.npz"));
    CHECK(io5.f32("x").shape() == Shape{1, 3, 320, 320});
    CHECK(io5.f32("y").shape() == Shape{1, 6300, 10});
    CHECK(io5.f32("head_raw_2").shape() == Shape{1, 3, 10, 10, 10});
    Tensor<float> stride = io5.f32("stride");
    CHECK(stride[0] == 8.f);
    CHECK(stride[2] == 32.f);
    io::Npz tr = io::load_npz(iotest::shared("fixtures/yolov5n_nc5_seed0_train.npz"));
    CHECK(tr.size() == 731);
    CHECK(tr.i64("bn_num_batches_tracked/model.0.bn") == std::vector<int64_t>{5});
    Tensor<float> g = tr.f32("grad/model.0.conv.weight");
    CHECK(g.shape() == Shape{16, 3, 6, 6});
    CHECK(g[0] == doctest::Approx(-0.03572289f));
    CHECK(tr.f64("hyp_gains")[2] == 0.03125);
  }
}
