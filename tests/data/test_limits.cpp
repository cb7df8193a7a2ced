// Size limits of the data readers: an image header claiming 100000 x 100000 pixels, a dataset
// yaml claiming 10^12 classes, a label class of 10^9, COCO sizes and ids of 10^12 -- each is
// refused (or bounded) with a yolite::Error naming the file BEFORE memory of that size is
// allocated. An attempted allocation would surface as std::bad_alloc or an ASan report, not as
// the expected yolite::Error.
#include <doctest/doctest.h>

#include <cstdint>
#include <fstream>
#include <string>

#include <yolite/data/coco.hpp>
#include <yolite/data/dataset_yaml.hpp>
#include <yolite/data/image_io.hpp>
#include <yolite/data/yaml.hpp>
#include <yolite/data/yolo_txt.hpp>
#include <yolite/io/crc32.hpp>

#include "../test_util.hpp"

using namespace yolite;
using yolite::testing::contains;
using yolite::testing::error_of;

namespace {

void put_be32(std::string& s, uint32_t v) {
  for (int i = 3; i >= 0; --i) s += char((v >> (8 * i)) & 0xff);
}
void put_le(std::string& s, uint32_t v, int n) {
  for (int i = 0; i < n; ++i) s += char((v >> (8 * i)) & 0xff);
}

// PNG signature + IHDR (RGB, 8 bit) + an empty IDAT + IEND, with valid CRCs.
std::string png_header(uint32_t w, uint32_t h) {
  std::string s = "\x89PNG\r\n\x1a\n";
  auto chunk = [&](const std::string& type, const std::string& body) {
    put_be32(s, uint32_t(body.size()));
    std::string tb = type + body;
    s += tb;
    put_be32(s, io::crc32(tb.data(), tb.size()));
  };
  std::string ihdr;
  put_be32(ihdr, w);
  put_be32(ihdr, h);
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);
  chunk("IHDR", ihdr);
  chunk("IDAT", std::string("\x78\x9c\x03\x00\x00\x00\x00\x01", 8));
  chunk("IEND", "");
  return s;
}

// BITMAPFILEHEADER + BITMAPINFOHEADER, 24 bpp, no pixel data.
std::string bmp_header(uint32_t w, uint32_t h) {
  std::string s = "BM";
  put_le(s, 54, 4);
  put_le(s, 0, 4);
  put_le(s, 54, 4);
  put_le(s, 40, 4);
  put_le(s, w, 4);
  put_le(s, h, 4);
  put_le(s, 1, 2);
  put_le(s, 24, 2);
  for (int i = 0; i < 6; ++i) put_le(s, 0, 4);
  return s;
}

// SOI + a baseline SOF0 frame header (3 components) and nothing else.
std::string jpeg_header(uint16_t w, uint16_t h) {
  std::string s = "\xff\xd8\xff\xc0";
  s += std::string("\x00\x11\x08", 3);
  s += char(h >> 8), s += char(h & 0xff), s += char(w >> 8), s += char(w & 0xff);
  s += std::string("\x03\x01\x11\x00\x02\x11\x00\x03\x11\x00", 10);
  return s;
}

void write(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

}  // namespace

TEST_CASE("limits: an image header claiming 100000 x 100000 pixels is refused before decoding") {
  auto dir = testing::fresh_dir("limits_image");
  struct Case {
    const char* name;
    std::string bytes;
    bool ours;  // refused by yolite's pixel limit (else stb refuses the header: PNG > 2^30 bytes)
  } cases[] = {{"huge.png", png_header(100000, 100000), false},
               {"huge.bmp", bmp_header(100000, 100000), true},
               {"huge.jpg", jpeg_header(65000, 65000), true},
               {"big.bmp", bmp_header(20000, 20000), true}};  // 1.2 GB of RGB: stb alone would try
  for (auto& c : cases) {
    CAPTURE(std::string(c.name));
    auto p = dir / c.name;
    write(p, c.bytes);
    std::string e = error_of([&] { data::load_image(p); });
    CHECK(contains(e, p.string()));
    if (c.ours) {
      CHECK(contains(e, "pixels are accepted"));
      auto sz = data::image_size(p);  // the header alone is still readable
      CHECK(sz.w >= 20000);
      CHECK(sz.h >= 20000);
    }
  }
  // a small image passes the same check
  Image img(3, 2, 3, 7);
  data::save_image(dir / "ok.png", img);
  CHECK(data::load_image(dir / "ok.png").px == img.px);
  // the limit is a parameter of decode_image
  std::string bmp = bmp_header(64, 64);
  CHECK(contains(error_of([&] { data::decode_image(bmp, "mem.bmp", 3, 1000); }), "at most 1000 pixels"));
}

TEST_CASE("limits: a dataset yaml claiming 10^12 classes, a label class of 10^9") {
  auto dir = testing::fresh_dir("limits_classes");
  write(dir / "d.yaml", "train: images\nval: images\nnc: 1000000000000\n");
  std::string e = error_of([&] { data::read_dataset_yaml(dir / "d.yaml"); });
  CHECK(contains(e, "d.yaml:3"));
  CHECK(contains(e, "nc must be 1..100000"));
  // the largest allowed count works and gets YOLOv5's default names
  write(dir / "ok.yaml", "train: images\nval: images\nnc: 100000\n");
  CHECK(data::read_dataset_yaml(dir / "ok.yaml").names.size() == 100000);
  // label files: a class index that would size per-class tables in the billions
  std::string e2 = error_of([&] { data::parse_yolo_rows("999999999 0.5 0.5 0.1 0.1\n", "a.txt"); });
  CHECK(contains(e2, "a.txt:1"));
  CHECK(contains(e2, "0..99999"));
  CHECK(data::parse_yolo_rows("99999 0.5 0.5 0.1 0.1\n", "a.txt").at(0).cls == 99999);
}

TEST_CASE("limits: COCO sizes and ids of 10^12 and more are bounded, not allocated") {
  auto dir = testing::fresh_dir("limits_coco");
  write(dir / "c.json",
        R"({"images":[{"id":1000000000000,"file_name":"a.jpg","width":1000000000000,"height":1e300}],)"
        R"("annotations":[{"id":1,"image_id":1000000000000,"category_id":1000000000000000,"bbox":[1,2,3,4]}],)"
        R"("categories":[{"id":1000000000000000,"name":"x"}]})");
  // whatever the verdict on these values, it is a yolite::Error or a bounded result
  std::string e = error_of([&] {
    data::Coco c = data::read_coco(dir / "c.json");
    data::Dataset ds = data::coco_to_dataset(c);
    CHECK(ds.names.size() == 1);
  });
  if (!e.empty()) CHECK(contains(e, (dir / "c.json").string()));
  // an "annotations" array claiming 10^12 entries is just text: the streaming reader stops at
  // the end of the file with the byte offset
  write(dir / "t.json", R"({"images":[],"annotations":[{"id":1,"image_id":1,"category_id":1,"bbox":[1,2,3,4]},)");
  std::string e2 = error_of([&] { data::read_coco(dir / "t.json"); });
  CHECK(contains(e2, (dir / "t.json").string()));
}
