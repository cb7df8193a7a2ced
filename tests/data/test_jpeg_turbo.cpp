// data/jpeg_turbo.hpp: JPEG through libjpeg-turbo with OpenCV's settings (when the build found
// libjpeg). The pixels may differ from stb_image's by a few levels -- that is the point -- but
// never by more, and every shape, channel count and error behaves as with stb.
#include <doctest/doctest.h>

#include "../test_util.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <yolite/data/fs.hpp>
#include <yolite/data/image_io.hpp>

namespace fs = std::filesystem;
using namespace yolite;
using namespace yolite::testing;

#if defined(YOLITE_HAVE_LIBJPEG)
namespace {
// A one-component (grayscale) JPEG, written by libjpeg (stb's writer always writes YCbCr).
std::string gray_jpeg(const Image& g) {
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = JDIMENSION(g.w), c.image_height = JDIMENSION(g.h);
  c.input_components = 1, c.in_color_space = JCS_GRAYSCALE;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 95, TRUE);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(g.px.data()) + size_t(c.next_scanline) * size_t(g.w);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::string out(reinterpret_cast<const char*>(buf), size);
  std::free(buf);
  return out;
}
}  // namespace

TEST_SUITE("data") {
  TEST_CASE("jpeg_turbo: real photos decode like stb_image within a few levels, same size") {
    for (const char* name : {"BloodImage_00000.jpg", "BloodImage_00100.jpg"}) {
      const fs::path p = fs::path(YOLITE_SHARED_DIR) / "datasets/bccd/images" / name;
      const std::string bytes = data::read_file(p);
      Image ours = data::decode_image(bytes, p.string());
      int w = 0, h = 0, c = 0;
      stbi_uc* s = stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()), int(bytes.size()), &w, &h, &c, 3);
      REQUIRE(s != nullptr);
      REQUIRE(ours.w == w);
      REQUIRE(ours.h == h);
      REQUIRE(ours.c == 3);
      size_t differ = 0;
      int worst = 0;
      for (size_t i = 0; i < ours.px.size(); ++i) {
        const int d = std::abs(int(ours.px[i]) - int(s[i]));
        differ += d != 0;
        worst = std::max(worst, d);
      }
      stbi_image_free(s);
      MESSAGE(std::string(name) << ": " << differ << " of " << ours.px.size() << " values differ from stb, at most by " << worst);
      CHECK(worst <= 8);  // two correct decoders: IDCT and upsampling rounding only
      CHECK(differ < ours.px.size() / 4);
    }
  }

  TEST_CASE("jpeg_turbo: channel counts and gray JPEGs") {
    Image g(37, 21, 1);
    for (size_t i = 0; i < g.px.size(); ++i) g.px[i] = uint8_t(i * 7);
    const std::string bytes = gray_jpeg(g);
    Image as_stored = data::decode_image(bytes, "gray.jpg", 0);
    CHECK(as_stored.c == 1);
    CHECK(as_stored.w == 37);
    CHECK(as_stored.h == 21);
    Image rgb = data::decode_image(bytes, "gray.jpg", 3);
    REQUIRE(rgb.c == 3);
    for (int i = 0; i < 37 * 21; ++i) {  // gray replicated into R, G and B
      CHECK(rgb.px[3 * size_t(i)] == as_stored.px[size_t(i)]);
      CHECK(rgb.px[3 * size_t(i) + 2] == as_stored.px[size_t(i)]);
    }
    const fs::path photo = fs::path(YOLITE_SHARED_DIR) / "datasets/bccd/images/BloodImage_00000.jpg";
    Image c3 = data::load_image(photo, 3), c4 = data::load_image(photo, 4), c1 = data::load_image(photo, 1);
    REQUIRE(c4.c == 4);
    REQUIRE(c1.c == 1);
    for (size_t i = 0; i < size_t(c3.w) * size_t(c3.h); i += 97) {
      CHECK(c4.px[4 * i] == c3.px[3 * i]);
      CHECK(c4.px[4 * i + 1] == c3.px[3 * i + 1]);
      CHECK(c4.px[4 * i + 3] == 255);
    }
  }

  TEST_CASE("jpeg_turbo: a file cut short is an error naming it, not a grey-padded picture") {
    auto dir = fresh_dir("jpeg_turbo_trunc");
    const std::string bytes = data::read_file(fs::path(YOLITE_SHARED_DIR) / "datasets/bccd/images/BloodImage_00000.jpg");
    for (size_t keep : {size_t(200), bytes.size() / 2, bytes.size() - 4}) {
      CAPTURE(keep);
      data::write_file_atomic(dir / "cut.jpg", bytes.substr(0, keep));
      auto msg = error_of([&] { data::load_image(dir / "cut.jpg"); });
      CHECK(msg.find("cut.jpg") != std::string::npos);
      CHECK(msg.find("cannot decode") != std::string::npos);
    }
    // a header that claims more pixels than allowed is refused before decoding
    auto msg = error_of([&] { data::decode_image(bytes, "big.jpg", 3, 1000); });
    CHECK(msg.find("big.jpg") != std::string::npos);
    CHECK(msg.find("at most 1000 pixels") != std::string::npos);
  }
}
#endif  // YOLITE_HAVE_LIBJPEG (without it stb_image decodes JPEG, tested in test_image_io.cpp)
