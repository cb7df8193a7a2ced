// Tests of io/inflate.hpp through the zip reader: members written by Python's zipfile/zlib
// (stored, fixed and dynamic Huffman blocks) and a numpy.savez_compressed archive, both in
// tests/io/data/ (made by the Python snippet in the comment at the end of this file).
#include <doctest/doctest.h>

#include <string>
#include <yolite/io/inflate.hpp>
#include <yolite/io/npy.hpp>
#include <yolite/io/zip.hpp>

#include "io_test_util.hpp"

using namespace yolite;
using iotest::error_of;

namespace {
std::string data_file(const std::string& name) { return std::string(YOLITE_SOURCE_DIR) + "/tests/io/data/" + name; }
std::string text() {
  std::string s;
  for (int i = 0; i < 1000; ++i)
    s += "line " + std::to_string(i) + ": the quick brown fox " + std::to_string(i * i % 97) + "\n";
  return s;
}
std::string lcg(size_t n) {
  uint64_t x = 12345;
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    s += char((x >> 16) & 0xff);
  }
  return s;
}
}  // namespace

TEST_SUITE("io") {
  TEST_CASE("inflate: zip members compressed by zlib") {
    io::ZipReader z(data_file("deflate.zip"));
    CHECK(z.entry("text.txt").method == 8);
    CHECK(z.read("text.txt") == text());                        // dynamic Huffman blocks
    CHECK(z.read("lcg.bin") == lcg(3000));                      // incompressible: stored block
    CHECK(z.read("short.txt") == "hello hello hello yolite");   // fixed Huffman block
    CHECK(z.read("stored_blocks.txt") == text().substr(0, 5000));  // level 0
    CHECK(z.read("empty").empty());
    CHECK(z.read("plain.txt") == "not compressed");
  }

  TEST_CASE("inflate: numpy.savez_compressed") {
    io::Npz n = io::load_npz(data_file("compressed.npz"));
    REQUIRE(n.size() == 3);
    Tensor<float> a = n.f32("a");
    REQUIRE(a.numel() == 5000);
    bool ok = true;
    for (int64_t i = 0; i < 5000; ++i) ok = ok && a[i] == 0.5f * float(i);
    CHECK(ok);
    auto b = n.i64("dir/b");
    REQUIRE(b.size() == 3000);
    for (size_t i = 0; i < b.size(); i += 37) CHECK(b[i] == int64_t(i % 7));
    CHECK(n.shape("c") == std::vector<int64_t>{10, 200});
    auto c = n.i64("c");
    std::string l = lcg(2000);
    ok = true;
    for (size_t i = 0; i < c.size(); ++i) ok = ok && c[i] == uint8_t(l[i]);
    CHECK(ok);
  }

  TEST_CASE("inflate: corrupt streams never overrun") {
    std::string out(100, '\0');
    // stored block whose LEN/NLEN disagree
    std::string s("\x01\x05\x00\x00\x00hello", 10);
    CHECK(error_of([&] { io::inflate(s.data(), s.size(), out.data(), 5, "t"); }).find("length check") !=
          std::string::npos);
    // good stored block, but the caller expects fewer bytes
    std::string g("\x01\x05\x00\xfa\xffhello", 10);
    io::inflate(g.data(), g.size(), out.data(), 5, "t");
    CHECK(out.substr(0, 5) == "hello");
    CHECK(error_of([&] { io::inflate(g.data(), g.size(), out.data(), 4, "t"); }).find("larger") != std::string::npos);
    CHECK(error_of([&] { io::inflate(g.data(), g.size(), out.data(), 6, "t"); }).find("expected 6") != std::string::npos);
    CHECK(error_of([&] { io::inflate(g.data(), 7, out.data(), 5, "t"); }).find("cut short") != std::string::npos);
    // block type 3
    std::string t3("\x07", 1);
    CHECK(error_of([&] { io::inflate(t3.data(), 1, out.data(), 5, "t3"); }).find("block type") != std::string::npos);
    // random damage to a real stream: errors only (CRC or inflate), never a crash
    std::string zip = iotest::slurp(data_file("deflate.zip"));
    iotest::TempDir tmp("inflate_bad");
    uint64_t x = 99;
    int errors = 0;
    for (int it = 0; it < 200; ++it) {
      std::string m = zip;
      x = (x * 6364136223846793005ull + 1442695040888963407ull);
      size_t at = 30 + size_t((x >> 33) % 3800);  // inside text.txt's compressed data
      m[at] = char(m[at] ^ (1 << ((x >> 20) % 8)));
      iotest::spit(tmp / "m.zip", m);
      try {
        io::ZipReader(tmp / "m.zip").read("text.txt");
      } catch (const Error&) {
        ++errors;
      }
    }
    CHECK(errors == 200);
  }
}

// The data files were made with Python 3.11 + numpy 1.24:
//   text = ''.join(f"line {i}: the quick brown fox {i*i % 97}\n" for i in range(1000)).encode()
//   lcg(n): x = 12345; repeat n times: x = (x*1103515245 + 12345) & 0x7fffffff; byte (x >> 16) & 0xff
//   zipfile.ZipFile('deflate.zip', 'w'): text.txt (DEFLATED, level 9), lcg.bin = lcg(3000) (level 6),
//     short.txt = b"hello hello hello yolite" (level 6), stored_blocks.txt = text[:5000] (level 0),
//     empty (DEFLATED), plain.txt = b"not compressed" (STORED); all dated 1980-01-01
//   np.savez_compressed('compressed.npz', a=np.arange(5000, dtype=np.float32)*0.5,
//     **{'dir/b': np.arange(3000) % 7}, c=np.frombuffer(lcg(2000), np.uint8).reshape(10, 200))
