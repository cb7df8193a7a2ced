// Tests of io/tfevents.hpp: CRC-32C, the record framing and the Event messages, read back with
// io/protobuf.hpp's reader. (tests/cli/read_tfevents.py reads a real run's file independently.)
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <yolite/io/file.hpp>
#include <yolite/io/tfevents.hpp>

#include "../test_util.hpp"

using namespace yolite;

TEST_SUITE("io") {
  TEST_CASE("tfevents: CRC-32C check values and masking") {
    CHECK(io::crc32c("123456789", 9) == 0xE3069283u);  // the standard check value
    CHECK(io::crc32c("", 0) == 0u);
    const std::string zeros(32, '\0');
    CHECK(io::crc32c(zeros.data(), zeros.size()) == 0x8A9136AAu);  // RFC 3720 B.4
    const uint32_t c = io::crc32c("a", 1);
    CHECK(io::masked_crc32c("a", 1) == uint32_t(((c >> 15) | (c << 17)) + 0xa282ead8u));
  }

  TEST_CASE("tfevents: records and events read back") {
    const auto dir = testing::fresh_dir("tfevents");
    std::string path;
    {
      io::EventWriter w(dir);
      w.scalar("train/box_loss", 0.125, 3);
      w.image("train_batch0", std::string("\xff\xd8jpegbytes", 11), 64, 32, 0);
      w.flush();
      path = w.path();
    }
    CHECK(std::filesystem::path(path).filename().string().rfind("events.out.tfevents.", 0) == 0);
    const std::string b = io::read_file_bytes(path);
    std::vector<std::string> events;
    size_t pos = 0;
    while (pos < b.size()) {
      REQUIRE(pos + 12 <= b.size());
      const auto* p = reinterpret_cast<const unsigned char*>(b.data() + pos);
      const uint64_t n = io::le64(p);
      CHECK(io::le32(p + 8) == io::masked_crc32c(b.data() + pos, 8));
      REQUIRE(pos + 16 + n <= b.size());
      CHECK(io::le32(p + 12 + n) == io::masked_crc32c(b.data() + pos + 12, n));
      events.push_back(b.substr(pos + 12, n));
      pos += 16 + n;
    }
    REQUIRE(events.size() == 3);
    {  // file_version first
      io::ProtoReader r(events[0], "e0");
      std::string version;
      while (r.next())
        if (r.field() == 3) version = std::string(r.as_bytes());
      CHECK(version == "brain.Event:2");
    }
    {  // the scalar: step 3, Summary.Value {tag, simple_value}
      io::ProtoReader r(events[1], "e1");
      int64_t step = -1;
      std::string tag;
      float value = 0;
      double wall = 0;
      while (r.next()) {
        if (r.field() == 1) wall = r.as_double();
        if (r.field() == 2) step = r.as_int64();
        if (r.field() != 5) continue;
        io::ProtoReader s(r.as_bytes(), "summary");
        while (s.next()) {
          io::ProtoReader v(s.as_bytes(), "value");
          while (v.next()) {
            if (v.field() == 1) tag = std::string(v.as_bytes());
            if (v.field() == 2) value = v.as_float();
          }
        }
      }
      CHECK(wall > 1.6e9);
      CHECK(step == 3);
      CHECK(tag == "train/box_loss");
      CHECK(value == 0.125f);
    }
    {  // the image: {height, width, colorspace, encoded}
      io::ProtoReader r(events[2], "e2");
      int64_t h = 0, w = 0, cs = 0;
      std::string enc;
      while (r.next()) {
        if (r.field() != 5) continue;
        io::ProtoReader s(r.as_bytes(), "summary");
        while (s.next()) {
          io::ProtoReader v(s.as_bytes(), "value");
          while (v.next()) {
            if (v.field() != 4) continue;
            io::ProtoReader im(v.as_bytes(), "image");
            while (im.next()) {
              if (im.field() == 1) h = im.as_int64();
              if (im.field() == 2) w = im.as_int64();
              if (im.field() == 3) cs = im.as_int64();
              if (im.field() == 4) enc = std::string(im.as_bytes());
            }
          }
        }
      }
      CHECK(h == 32);
      CHECK(w == 64);
      CHECK(cs == 3);
      CHECK(enc == std::string("\xff\xd8jpegbytes", 11));
    }
  }
}
