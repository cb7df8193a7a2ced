// Letterbox: gain, content size and padding for the tutorial's 512x512 / 300x300 images and
// non-square ones; pixels land where the mapping says; boxes map forward and back exactly.
#include <doctest/doctest.h>

#include <yolite/core/rng.hpp>
#include <yolite/data/letterbox.hpp>

using namespace yolite;
using namespace yolite::data;

namespace {
struct B4 {
  float x1, y1, x2, y2;
};

Image solid(int w, int h, uint8_t v) { return Image(w, h, 3, v); }
}  // namespace

TEST_SUITE("data") {
  TEST_CASE("letterbox: 512x512 and 300x300 to 320 (the tutorial's images)") {
    auto a = letterbox(solid(512, 512, 10), 320);
    CHECK(a.image.w == 320);
    CHECK(a.image.h == 320);
    CHECK(a.info.new_w == 320);
    CHECK(a.info.pad_x == 0);
    CHECK(a.info.pad_y == 0);
    CHECK(a.info.gain == doctest::Approx(0.625));
    CHECK(a.info.sx == doctest::Approx(0.625));

    auto b = letterbox(solid(300, 300, 10), 320);  // scaled up by default (training)
    CHECK(b.info.new_w == 320);
    CHECK(b.info.new_h == 320);
    CHECK(b.info.pad_x == 0);
    CHECK(b.info.gain == doctest::Approx(320.0 / 300.0));

    LetterboxOptions no_up;
    no_up.scaleup = false;  // val / detect: never enlarge, pad instead
    auto c = letterbox(solid(300, 300, 10), 320, no_up);
    CHECK(c.image.w == 320);
    CHECK(c.image.h == 320);
    CHECK(c.info.new_w == 300);
    CHECK(c.info.pad_x == 10);
    CHECK(c.info.pad_y == 10);
    CHECK(c.info.gain == 1.f);
    CHECK(c.image.at(0, 0)[0] == 114);
    CHECK(c.image.at(9, 9)[1] == 114);
    CHECK(c.image.at(10, 10)[2] == 10);
    CHECK(c.image.at(309, 309)[0] == 10);
    CHECK(c.image.at(310, 309)[0] == 114);
    CHECK(round_up_to_stride(300) == 320);
    CHECK(round_up_to_stride(320) == 320);
    CHECK(round_up_to_stride(321) == 352);
  }

  TEST_CASE("letterbox: non-square inputs, odd padding, auto (minimum rectangle) padding") {
    auto a = letterbox(solid(640, 480, 50), 320);
    CHECK(a.info.new_w == 320);
    CHECK(a.info.new_h == 240);
    CHECK(a.info.pad_x == 0);
    CHECK(a.info.pad_y == 40);
    CHECK(a.image.h == 320);
    CHECK(a.image.at(100, 39)[0] == 114);
    CHECK(a.image.at(100, 40)[0] == 50);
    CHECK(a.image.at(100, 279)[0] == 50);
    CHECK(a.image.at(100, 280)[0] == 114);

    // 333 x 517: r = 320/517, content round(333 r) = 206, dw = 114 -> 57 left, 57 right.
    auto b = letterbox(solid(333, 517, 50), 320);
    CHECK(b.info.new_h == 320);
    CHECK(b.info.new_w == 206);
    CHECK(b.info.pad_x == 57);
    CHECK(b.info.out_w == 320);
    // 331 wide: content 205, dw 115: the odd pixel goes right (YOLOv5: round(dw/2 - 0.1)).
    auto c = letterbox(solid(331, 517, 50), 320);
    CHECK(c.info.new_w == 205);
    CHECK(c.info.pad_x == 57);
    CHECK(c.image.at(56, 5)[0] == 114);
    CHECK(c.image.at(57, 5)[0] == 50);
    CHECK(c.image.at(57 + 204, 5)[0] == 50);
    CHECK(c.image.at(57 + 205, 5)[0] == 114);

    LetterboxOptions rect;
    rect.auto_pad = true;  // rect inference: pad to a multiple of 32 only
    auto d = letterbox(solid(640, 480, 50), 320, rect);
    CHECK(d.image.w == 320);
    CHECK(d.image.h == 256);
    CHECK(d.info.pad_y == 8);
    auto e = letterbox(solid(300, 200, 50), 320, rect);  // 320 x 213 -> dh = 107 % 32 = 11
    CHECK(e.info.new_h == 213);
    CHECK(e.image.h == 224);
    CHECK(e.info.pad_y == 5);

    CHECK_THROWS_AS(letterbox(Image(), 320), Error);
    CHECK_THROWS_AS(letterbox(solid(10, 10, 0), 0), Error);
  }

  TEST_CASE("letterbox: a drawn rectangle lands where the mapping says") {
    Image img(400, 250, 3, 0);
    const int x1 = 100, y1 = 60, x2 = 220, y2 = 140;  // white block [x1, x2) x [y1, y2)
    for (int y = y1; y < y2; ++y)
      for (int x = x1; x < x2; ++x) img.at(x, y)[0] = img.at(x, y)[1] = img.at(x, y)[2] = 255;
    auto lb = letterbox(img, 320);
    B4 m = lb.info.to_letterbox(B4{float(x1), float(y1), float(x2), float(y2)});
    int bx1 = 1 << 30, by1 = 1 << 30, bx2 = -1, by2 = -1;
    for (int y = 0; y < lb.image.h; ++y)
      for (int x = 0; x < lb.image.w; ++x)
        if (lb.image.at(x, y)[0] > 128) {
          bx1 = std::min(bx1, x), by1 = std::min(by1, y), bx2 = std::max(bx2, x + 1), by2 = std::max(by2, y + 1);
        }
    CHECK(std::abs(bx1 - m.x1) <= 1.0);
    CHECK(std::abs(by1 - m.y1) <= 1.0);
    CHECK(std::abs(bx2 - m.x2) <= 1.0);
    CHECK(std::abs(by2 - m.y2) <= 1.0);
  }

  TEST_CASE("letterbox: boxes map forward and back within 1e-4 px, and clip") {
    Rng rng(7);
    const int sizes[][2] = {{512, 512}, {300, 300}, {640, 480}, {333, 517}, {1000, 77}, {17, 900}};
    for (auto& sz : sizes)
      for (bool scaleup : {true, false})
        for (bool autopad : {false, true}) {
          LetterboxOptions o;
          o.scaleup = scaleup;
          o.auto_pad = autopad;
          LetterboxInfo info = letterbox_info(sz[0], sz[1], 320, 320, o);
          CHECK(info.out_w % 32 == 0);
          CHECK(info.out_h % 32 == 0);
          CHECK(info.out_w <= 320);
          CHECK(info.out_h <= 320);
          CHECK(info.pad_x + info.new_w <= info.out_w);
          CHECK(info.pad_y + info.new_h <= info.out_h);
          for (int k = 0; k < 50; ++k) {
            float ax = float(rng.uniform(0, sz[0])), bx = float(rng.uniform(0, sz[0]));
            float ay = float(rng.uniform(0, sz[1])), by = float(rng.uniform(0, sz[1]));
            B4 b{std::min(ax, bx), std::min(ay, by), std::max(ax, bx), std::max(ay, by)};
            B4 f = info.to_letterbox(b);
            CHECK(f.x1 >= info.pad_x - 1e-3f);
            CHECK(f.x2 <= info.pad_x + info.new_w + 1e-3f);
            B4 r = info.to_original(f);
            CHECK(std::abs(r.x1 - b.x1) < 1e-4f);
            CHECK(std::abs(r.y1 - b.y1) < 1e-4f);
            CHECK(std::abs(r.x2 - b.x2) < 1e-4f);
            CHECK(std::abs(r.y2 - b.y2) < 1e-4f);
          }
          // A prediction reaching into the padding is clipped to the original image.
          B4 wide = info.to_original(B4{-5.f, -5.f, float(info.out_w + 5), float(info.out_h + 5)});
          CHECK(wide.x1 == 0.f);
          CHECK(wide.y1 == 0.f);
          CHECK(wide.x2 == float(sz[0]));
          CHECK(wide.y2 == float(sz[1]));
          B4 raw = info.to_original(B4{-5.f, -5.f, 0.f, 0.f}, false);
          CHECK(raw.x1 < 0.f);
        }
  }
}
