// Size limits of the io readers: a file that claims a huge size (a tensor of 10^15 elements, a
// zip member of 2^50 bytes, a safetensors header of 2^60 bytes) is refused with a yolite::Error
// naming the file BEFORE anything of that size is allocated. An attempted allocation would show
// here as std::bad_alloc (or an AddressSanitizer report under YOLITE_SANITIZE), not as the
// expected yolite::Error, so these tests fail if a check moves after the allocation.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>

#include <yolite/io/checkpoint.hpp>
#include <yolite/io/file.hpp>
#include <yolite/io/npy.hpp>
#include <yolite/io/safetensors.hpp>
#include <yolite/io/zip.hpp>

#include "io_test_util.hpp"

using namespace yolite;
using iotest::error_of;

namespace {

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// A safetensors file with one header JSON (padded to 8) and `data` as the data section.
std::string safetensors_bytes(const std::string& header, const std::string& data) {
  std::string h = header;
  while (h.size() % 8) h += ' ';
  std::string out;
  io::put_le64(out, h.size());
  return out + h + data;
}

// A one-member zip archive written by hand: local header, `payload`, central directory entry
// (method, claimed sizes, optional zip64 extra field with the real 64-bit size), end record.
std::string zip_bytes(uint16_t method, uint32_t size32, uint64_t size64, const std::string& payload) {
  const std::string name = "x.npy";
  std::string z;
  io::put_le32(z, 0x04034b50);
  io::put_le16(z, 45);
  io::put_le16(z, 0);
  io::put_le16(z, method);
  io::put_le32(z, 0);  // time, date
  io::put_le32(z, 0);  // crc
  io::put_le32(z, uint32_t(payload.size()));
  io::put_le32(z, size32);
  io::put_le16(z, uint16_t(name.size()));
  io::put_le16(z, 0);
  z += name + payload;
  const uint64_t cd_off = z.size();
  std::string extra;
  if (size32 == 0xFFFFFFFFu) {
    io::put_le16(extra, 0x0001);
    io::put_le16(extra, 8);
    io::put_le64(extra, size64);
  }
  io::put_le32(z, 0x02014b50);
  io::put_le16(z, 45);
  io::put_le16(z, 45);
  io::put_le16(z, 0);
  io::put_le16(z, method);
  io::put_le32(z, 0);
  io::put_le32(z, 0);
  io::put_le32(z, uint32_t(payload.size()));
  io::put_le32(z, size32);
  io::put_le16(z, uint16_t(name.size()));
  io::put_le16(z, uint16_t(extra.size()));
  io::put_le16(z, 0);
  io::put_le16(z, 0);
  io::put_le16(z, 0);
  io::put_le32(z, 0);
  io::put_le32(z, 0);  // local header offset
  z += name + extra;
  const uint64_t cd_size = z.size() - cd_off;
  io::put_le32(z, 0x06054b50);
  io::put_le32(z, 0);
  io::put_le16(z, 1);
  io::put_le16(z, 1);
  io::put_le32(z, uint32_t(cd_size));
  io::put_le32(z, uint32_t(cd_off));
  io::put_le16(z, 0);
  return z;
}

}  // namespace

TEST_CASE("limits: a safetensors tensor claiming 10^15 elements is refused before allocation") {
  iotest::TempDir tmp("limits_st");
  // 10^15 float32 = 4 PB; the offsets agree with the shape, so only the size check can stop it.
  std::string path = tmp / "huge.safetensors";
  iotest::spit(path, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[1000000,1000000000],"data_offsets":[0,4000000000000000]}})",
                                       std::string(16, '\0')));
  std::string e = error_of([&] { io::load_safetensors(path); });
  CHECK(has(e, path));
  CHECK(has(e, "'w'"));
  // the same file as a training checkpoint
  std::string e2 = error_of([&] { io::load_checkpoint(path); });
  CHECK(has(e2, path));
  CHECK(has(e2, "'w'"));
  // a shape whose product overflows int64
  iotest::spit(path, safetensors_bytes(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,16]}})",
                                       std::string(16, '\0')));
  CHECK(has(error_of([&] { io::load_safetensors(path); }), "refusing"));
}

TEST_CASE("limits: a safetensors header length of 2^60 bytes is refused") {
  iotest::TempDir tmp("limits_sthdr");
  std::string path = tmp / "hdr.safetensors", b;
  io::put_le64(b, uint64_t(1) << 60);
  b += "{}      ";
  iotest::spit(path, b);
  std::string e = error_of([&] { io::load_safetensors(path); });
  CHECK(has(e, path));
  CHECK(has(e, "header length"));
}

TEST_CASE("limits: a zip member claiming a huge uncompressed size is refused before allocation") {
  iotest::TempDir tmp("limits_zip");
  const std::string payload = "\x03\x00";  // an empty fixed-Huffman DEFLATE block
  SUBCASE("DEFLATE, 2^50 bytes (zip64 extra field)") {
    std::string path = tmp / "z64.zip";
    iotest::spit(path, zip_bytes(8, 0xFFFFFFFFu, uint64_t(1) << 50, payload));
    io::ZipReader z(path);
    REQUIRE(z.entries().size() == 1);
    CHECK(z.entries()[0].size == uint64_t(1) << 50);
    std::string e = error_of([&] { z.read("x.npy"); });
    CHECK(has(e, path));
    CHECK(has(e, "corrupt size"));
    CHECK(has(error_of([&] { io::load_npz(path); }), "corrupt size"));
  }
  SUBCASE("DEFLATE, 4 GB in the classic 32-bit field") {
    std::string path = tmp / "z32.zip";
    iotest::spit(path, zip_bytes(8, 0xFFFFFFF0u, 0, payload));
    CHECK(has(error_of([&] { io::ZipReader(path).read("x.npy"); }), "corrupt size"));
  }
  SUBCASE("STORED, size != compressed size") {
    std::string path = tmp / "st.zip";
    iotest::spit(path, zip_bytes(0, 0xFFFFFFFFu, uint64_t(1) << 50, payload));
    CHECK(has(error_of([&] { io::ZipReader(path).read("x.npy"); }), "STORED member"));
  }
  SUBCASE("an unsupported method is refused before its size is allocated") {
    std::string path = tmp / "m12.zip";
    iotest::spit(path, zip_bytes(12, 0xFFFFFFFFu, uint64_t(1) << 50, payload));
    CHECK(has(error_of([&] { io::ZipReader(path).read("x.npy"); }), "compression method 12"));
  }
}

TEST_CASE("limits: an .npy header claiming 10^15 elements, or a header longer than the file") {
  iotest::TempDir tmp("limits_npy");
  std::string good = io::npy_header(io::DType::f32, {4}) + std::string(16, '\0');
  std::string huge = good;
  huge.replace(huge.find("(4,)"), 4, "(1000000000000000,)");
  std::string e = error_of([&] { io::parse_npy(huge, "huge.npy"); });
  CHECK(has(e, "huge.npy"));
  CHECK(has(e, "refusing"));
  // version 2 header: a 4-byte header length of ~4 GB in a 30-byte file
  std::string v2 = "\x93NUMPY\x02";
  v2 += '\0';
  io::put_le32(v2, 0xFFFFFFF0u);
  v2 += "{'descr': '<f4'}";
  std::string e2 = error_of([&] { io::parse_npy(v2, "v2.npy"); });
  CHECK(has(e2, "v2.npy"));
}
