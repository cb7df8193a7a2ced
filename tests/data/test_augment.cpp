// Augmentations: for each one, every box is also drawn as one bit of a mask image that goes
// through the identical geometric transform (nearest sampling); afterwards each box must still
// bound the pixels of its bit. Box k carries class id k so it can be found after filtering.
#include <doctest/doctest.h>

#include <yolite/core/rng.hpp>
#include <yolite/data/augment.hpp>

using namespace yolite;
using namespace yolite::data;

namespace {

struct Scene {
  Image img, mask;           // RGB pixels; 1-channel mask, bit k = inside box k
  std::vector<Box> boxes;    // normalised, cls = bit index
};

// A noisy background with `n` solid rectangles; their boxes get bits first_bit .. first_bit+n-1.
Scene make_scene(int w, int h, int n, int first_bit, Rng& rng) {
  Scene s;
  s.img = Image(w, h, 3);
  for (auto& p : s.img.px) p = uint8_t(rng.below(256));
  s.mask = Image(w, h, 1, 0);
  for (int k = 0; k < n; ++k) {
    int x1 = rng.randint(0, w - 8), y1 = rng.randint(0, h - 8);
    int x2 = rng.randint(x1 + 6, std::min(w, x1 + w / 2 + 6)), y2 = rng.randint(y1 + 6, std::min(h, y1 + h / 2 + 6));
    uint8_t col[3] = {uint8_t(rng.below(256)), uint8_t(rng.below(256)), uint8_t(rng.below(256))};
    for (int y = y1; y < y2; ++y)
      for (int x = x1; x < x2; ++x) {
        for (int ch = 0; ch < 3; ++ch) s.img.at(x, y)[ch] = col[ch];
        s.mask.at(x, y)[0] |= uint8_t(1u << (first_bit + k));
      }
    s.boxes.push_back({first_bit + k, (x1 + x2) / 2.f / w, (y1 + y2) / 2.f / h, float(x2 - x1) / w, float(y2 - y1) / h});
  }
  return s;
}

struct Bounds {
  int x1 = 1 << 30, y1 = 1 << 30, x2 = -1, y2 = -1;  // pixel edges: [x1, x2) x [y1, y2)
  long count = 0;
};

Bounds mask_bounds(const Image& mask, int bit) {
  Bounds b;
  for (int y = 0; y < mask.h; ++y)
    for (int x = 0; x < mask.w; ++x)
      if (mask.at(x, y)[0] & (1u << bit)) {
        b.x1 = std::min(b.x1, x), b.y1 = std::min(b.y1, y);
        b.x2 = std::max(b.x2, x + 1), b.y2 = std::max(b.y2, y + 1);
        ++b.count;
      }
  return b;
}

// The box is the tight bounds of its mask pixels, within tol pixels per edge.
void check_tight(const PixelBox& b, const Image& mask, float tol) {
  Bounds m = mask_bounds(mask, b.cls);
  CAPTURE(b.cls);
  CAPTURE(b.x1);
  CAPTURE(b.y1);
  CAPTURE(b.x2);
  CAPTURE(b.y2);
  CAPTURE(m.x1);
  CAPTURE(m.y1);
  CAPTURE(m.x2);
  CAPTURE(m.y2);
  if (m.count == 0) {  // object cropped away entirely: the clipped box must be empty
    CHECK((b.x2 - b.x1 < 1e-3f || b.y2 - b.y1 < 1e-3f));
    return;
  }
  CHECK(std::abs(b.x1 - m.x1) <= tol);
  CHECK(std::abs(b.y1 - m.y1) <= tol);
  CHECK(std::abs(b.x2 - m.x2) <= tol);
  CHECK(std::abs(b.y2 - m.y2) <= tol);
}

std::vector<PixelBox> pixel_boxes(const std::vector<Box>& boxes, const Image& img) {
  return to_pixel_boxes(boxes, float(img.w), float(img.h));
}

}  // namespace

TEST_SUITE("data") {
  TEST_CASE("augment: box conversions round-trip and clip like YOLOv5") {
    std::vector<Box> n = {{2, 0.5f, 0.25f, 0.2f, 0.1f}, {0, 0.1f, 0.9f, 0.4f, 0.4f}};
    auto p = to_pixel_boxes(n, 200, 100, 10, 5);
    CHECK(p[0].x1 == doctest::Approx(80 + 10));
    CHECK(p[0].y2 == doctest::Approx(30 + 5));
    auto back = to_normalized_boxes(to_pixel_boxes(n, 200, 100), 200, 100);
    CHECK(back[0].cls == 2);
    CHECK(back[0].cx == doctest::Approx(0.5));
    CHECK(back[0].h == doctest::Approx(0.1));
    // The second box reaches past the left and bottom edges: clipped to [0, w - 1e-3].
    CHECK(back[1].cx == doctest::Approx((0.f + 60.f) / 2 / 200));
    CHECK(back[1].w == doctest::Approx(0.3));
    CHECK(back[1].cy + back[1].h / 2 == doctest::Approx((100 - 1e-3) / 100).epsilon(1e-6));
  }

  TEST_CASE("augment: mosaic places four images around a random centre, boxes follow") {
    for (uint64_t seed = 0; seed < 12; ++seed) {
      Rng rng(seed);
      const int s = 96;
      // Tiles of different shapes, as the RAM cache holds them (long side = s).
      Scene t[4] = {make_scene(96, 96, 2, 0, rng), make_scene(96, 60, 2, 2, rng), make_scene(50, 96, 2, 4, rng),
                    make_scene(80, 80, 2, 6, rng)};
      std::array<MosaicTile, 4> tiles;
      for (int i = 0; i < 4; ++i) tiles[size_t(i)] = {&t[i].img, &t[i].boxes, &t[i].mask};
      std::vector<PixelBox> boxes;
      Image mask;
      Rng r2 = rng;
      Image m = mosaic4(tiles, s, rng, boxes, &mask);
      REQUIRE(m.w == 2 * s);
      REQUIRE(m.h == 2 * s);
      REQUIRE(mask.w == 2 * s);
      REQUIRE(boxes.size() == 8);
      for (const auto& b : boxes) {
        CHECK(b.x1 >= 0.f);
        CHECK(b.x2 <= 2.f * s);
        check_tight(b, mask, 1e-3f);  // pure integer placement: exact
      }
      // The centre: tile 0's bottom-right pixel sits just up-left of (xc, yc), in [s/2, 3s/2).
      const int xc = int(r2.uniform(s / 2, 2 * s - s / 2)), yc = int(r2.uniform(s / 2, 2 * s - s / 2));
      CHECK(xc >= s / 2);
      CHECK(xc < 3 * s / 2);
      CHECK(m.at(xc - 1, yc - 1)[0] == t[0].img.at(95, 95)[0]);
      CHECK(m.at(xc, yc)[1] == t[3].img.at(0, 0)[1]);
      CHECK(m.at(xc, yc - 1)[2] == t[1].img.at(0, 59)[2]);
      // Corners beyond the reach of the tiles stay 114 grey.
      if (xc > 96 || yc > 96) CHECK(m.at(0, 0)[0] == 114);
    }
  }

  TEST_CASE("augment: random_perspective translate + scale keeps boxes tight") {
    AugmentHyp hyp;  // scratch-low: translate 0.1, scale 0.5, no rotation / shear
    for (uint64_t seed = 0; seed < 10; ++seed) {
      Rng rng(100 + seed);
      Scene sc = make_scene(160, 120, 6, 0, rng);
      auto boxes = pixel_boxes(sc.boxes, sc.img);
      Image mask = sc.mask;
      Image out = random_perspective(sc.img, boxes, rng, hyp, 0, &mask);
      CHECK(out.w == 160);
      CHECK(out.h == 120);
      for (const auto& b : boxes) check_tight(b, mask, 2.f);
    }
  }

  TEST_CASE("augment: random_perspective after a mosaic (border -s/2) cuts 2s back to s") {
    AugmentHyp hyp;
    for (uint64_t seed = 0; seed < 8; ++seed) {
      Rng rng(200 + seed);
      const int s = 96;
      Scene t[4] = {make_scene(96, 96, 2, 0, rng), make_scene(96, 70, 2, 2, rng), make_scene(64, 96, 2, 4, rng),
                    make_scene(96, 96, 2, 6, rng)};
      std::array<MosaicTile, 4> tiles;
      for (int i = 0; i < 4; ++i) tiles[size_t(i)] = {&t[i].img, &t[i].boxes, &t[i].mask};
      std::vector<PixelBox> boxes;
      Image mask;
      Image m = mosaic4(tiles, s, rng, boxes, &mask);
      Image out = random_perspective(m, boxes, rng, hyp, -s / 2, &mask);
      CHECK(out.w == s);
      CHECK(out.h == s);
      CHECK(mask.w == s);
      for (const auto& b : boxes) check_tight(b, mask, 2.f);
    }
  }

  TEST_CASE("augment: random_perspective with rotation, shear, perspective: boxes contain the object") {
    AugmentHyp hyp;
    hyp.degrees = 30, hyp.shear = 10, hyp.scale = 0.4f, hyp.translate = 0.15f;
    for (float persp : {0.f, 0.0008f}) {
      hyp.perspective = persp;
      for (uint64_t seed = 0; seed < 10; ++seed) {
        Rng rng(300 + seed);
        Scene sc = make_scene(160, 128, 6, 0, rng);
        const auto before = pixel_boxes(sc.boxes, sc.img);
        auto boxes = before;
        Image mask = sc.mask;
        Rng copy = rng;  // the same draws, to rebuild M independently
        double s = 0;
        Mat3 M = random_perspective_matrix(copy, hyp, 160, 128, 0, &s);
        CHECK(s >= 0.6 - 1e-9);
        CHECK(s <= 1.4 + 1e-9);
        Image out = random_perspective(sc.img, boxes, rng, hyp, 0, &mask);
        CHECK(out.w == 160);
        for (const auto& b : boxes) {
          CAPTURE(seed);
          CAPTURE(b.cls);
          Bounds m = mask_bounds(mask, b.cls);
          REQUIRE(m.count > 0);  // a kept box has its object in view
          CHECK(m.x1 >= b.x1 - 1.5f);
          CHECK(m.y1 >= b.y1 - 1.5f);
          CHECK(m.x2 <= b.x2 + 1.5f);
          CHECK(m.y2 <= b.y2 + 1.5f);
          // Never larger than the corner-transformed original box (clipped to the image).
          const PixelBox& o = before[size_t(b.cls)];
          double xs[4] = {o.x1, o.x2, o.x1, o.x2}, ys[4] = {o.y1, o.y2, o.y2, o.y1};
          double lo_x = 1e9, lo_y = 1e9, hi_x = -1e9, hi_y = -1e9;
          for (int k = 0; k < 4; ++k) {
            double z = M(2, 0) * xs[k] + M(2, 1) * ys[k] + M(2, 2);
            double X = (M(0, 0) * xs[k] + M(0, 1) * ys[k] + M(0, 2)) / z;
            double Y = (M(1, 0) * xs[k] + M(1, 1) * ys[k] + M(1, 2)) / z;
            lo_x = std::min(lo_x, X), hi_x = std::max(hi_x, X), lo_y = std::min(lo_y, Y), hi_y = std::max(hi_y, Y);
          }
          CHECK(b.x1 >= std::max(0.0, lo_x) - 1e-3);
          CHECK(b.y1 >= std::max(0.0, lo_y) - 1e-3);
          CHECK(b.x2 <= std::min(160.0, hi_x) + 1e-3);
          CHECK(b.y2 <= std::min(128.0, hi_y) + 1e-3);
          CHECK(b.x2 - b.x1 > 2.f);  // box_candidates
          CHECK(b.y2 - b.y1 > 2.f);
        }
      }
    }
  }

  TEST_CASE("augment: perspective matrix follows YOLOv5 (T S R P C, cv2 rotation sense, draw order)") {
    AugmentHyp hyp;
    hyp.degrees = 40, hyp.scale = 0.3f, hyp.translate = 0.2f, hyp.shear = 0, hyp.perspective = 0;
    for (uint64_t seed = 0; seed < 5; ++seed) {
      Rng rng(seed), replay(seed);
      double s = 0;
      Mat3 M = random_perspective_matrix(rng, hyp, 200, 100, 0, &s);
      replay.uniform(), replay.uniform();  // perspective x, y (zero range)
      const double a = replay.uniform(-40, 40) * std::numbers::pi / 180;
      const double sc = replay.uniform(0.7, 1.3);
      replay.uniform(), replay.uniform();  // shear x, y
      const double tx = replay.uniform(0.3, 0.7) * 200, ty = replay.uniform(0.3, 0.7) * 100;
      CHECK(s == doctest::Approx(sc));
      // The image centre goes to (tx, ty); a point 10 px right of it turns counter-clockwise
      // on screen by a (cv2.getRotationMatrix2D: y down, positive angle = anticlockwise).
      CHECK(M(0, 0) * 100 + M(0, 1) * 50 + M(0, 2) == doctest::Approx(tx));
      CHECK(M(1, 0) * 100 + M(1, 1) * 50 + M(1, 2) == doctest::Approx(ty));
      CHECK(M(0, 0) * 110 + M(0, 1) * 50 + M(0, 2) == doctest::Approx(tx + 10 * sc * std::cos(a)));
      CHECK(M(1, 0) * 110 + M(1, 1) * 50 + M(1, 2) == doctest::Approx(ty - 10 * sc * std::sin(a)));
      CHECK(M.is_affine());
    }
  }

  TEST_CASE("augment: box_candidates drops slivers and boxes mostly pushed out") {
    PixelBox before{0, 0, 0, 100, 100};
    CHECK(box_candidate(before, {0, 10, 10, 60, 60}));
    CHECK_FALSE(box_candidate(before, {0, 10, 10, 12, 60}));   // 2 px wide
    CHECK_FALSE(box_candidate(before, {0, 0, 0, 30, 30}));     // 9% of the area left
    CHECK_FALSE(box_candidate(before, {0, 0, 0, 99, 4.5f}));   // aspect 22
    CHECK(box_candidate({0, 0, 0, 100, 10}, {0, 0, 0, 99, 5.5f}));  // aspect 18
  }

  TEST_CASE("augment: identity transform and nearest warp are exact; bilinear interpolates") {
    Rng rng(5);
    Scene sc = make_scene(40, 30, 3, 0, rng);
    Mat3 I;
    Image same = warp_image(sc.img, I, 40, 30);
    CHECK(same.px == sc.img.px);
    Mat3 shift;
    shift(0, 2) = 3, shift(1, 2) = -2;  // move right 3, up 2
    Image moved = warp_image(sc.img, shift, 40, 30, Sampling::nearest, 7);
    CHECK(moved.at(3, 0)[1] == sc.img.at(0, 2)[1]);
    CHECK(moved.at(39, 27)[0] == sc.img.at(36, 29)[0]);
    CHECK(moved.at(2, 5)[0] == 7);
    CHECK(moved.at(10, 28)[0] == 7);
    Mat3 half;
    half(0, 2) = 0.5;
    Image h = warp_image(sc.img, half, 40, 30);
    int a = sc.img.at(10, 10)[2], b = sc.img.at(11, 10)[2];
    CHECK(std::abs(int(h.at(11, 10)[2]) - (a + b + 1) / 2) <= 1);
    Image edge = warp_image(Image(4, 4, 3, 200), half, 4, 4);  // left column half border
    CHECK(std::abs(int(edge.at(0, 1)[0]) - (200 + 114) / 2) <= 1);
    // The inlined RGB loop gives the same bytes as the general per-pixel path (4 channels).
    AugmentHyp hyp;
    hyp.degrees = 20, hyp.shear = 5;
    Image rgba(40, 30, 4);
    for (int y = 0; y < 30; ++y)
      for (int x = 0; x < 40; ++x) {
        for (int ch = 0; ch < 3; ++ch) rgba.at(x, y)[ch] = sc.img.at(x, y)[ch];
        rgba.at(x, y)[3] = 9;
      }
    for (uint64_t seed = 0; seed < 4; ++seed) {
      Rng r(seed);
      Mat3 M = random_perspective_matrix(r, hyp, 40, 30, 0);
      Image a3 = warp_image(sc.img, M, 44, 28), a4 = warp_image(rgba, M, 44, 28);
      bool equal = true;
      for (int y = 0; y < 28; ++y)
        for (int x = 0; x < 44; ++x)
          for (int ch = 0; ch < 3; ++ch) equal &= a3.at(x, y)[ch] == a4.at(x, y)[ch];
      CHECK(equal);
    }
  }

  TEST_CASE("augment: HSV changes colours only: grey stays grey, objects stay where they are") {
    // OpenCV 8-bit HSV conventions.
    const auto& t = detail::hsv_tables();
    int h, s, v;
    detail::rgb_to_hsv8(255, 0, 0, h, s, v, t);
    CHECK(h == 0);
    CHECK(s == 255);
    CHECK(v == 255);
    detail::rgb_to_hsv8(0, 255, 0, h, s, v, t);
    CHECK(h == 60);
    detail::rgb_to_hsv8(0, 0, 255, h, s, v, t);
    CHECK(h == 120);
    detail::rgb_to_hsv8(255, 0, 255, h, s, v, t);
    CHECK(h == 150);
    detail::rgb_to_hsv8(100, 50, 50, h, s, v, t);  // cv2: [0, 128, 100]
    CHECK(h == 0);
    CHECK(s == 128);
    CHECK(v == 100);
    // Round trip without gains stays within half a hue step (H is quantised to 2 degrees).
    Rng rng(11);
    int worst = 0;
    for (int k = 0; k < 20000; ++k) {
      int r = int(rng.below(256)), g = int(rng.below(256)), b = int(rng.below(256));
      detail::rgb_to_hsv8(r, g, b, h, s, v, t);
      CHECK(h >= 0);
      CHECK(h < 180);
      uint8_t o[3];
      detail::hsv8_to_rgb(h, s, v, o);
      worst = std::max({worst, std::abs(o[0] - r), std::abs(o[1] - g), std::abs(o[2] - b)});
    }
    CHECK(worst <= 5);
    // The fast table path equals the float reference within one level.
    const auto& back = detail::hsv_to_rgb_table();
    int table_worst = 0;
    for (int k = 0; k < 20000; ++k) {
      int hh = int(rng.below(180)), ss = int(rng.below(256)), vv = int(rng.below(256));
      uint8_t ref[3];
      detail::hsv8_to_rgb(hh, ss, vv, ref);
      for (int ch = 0; ch < 3; ++ch) {
        int fast = (vv * back.g[(size_t(hh) * 256 + size_t(ss)) * 3 + size_t(ch)] + (1 << 14)) >> 15;
        table_worst = std::max(table_worst, std::abs(fast - int(ref[ch])));
      }
    }
    CHECK(table_worst <= 1);  // one hue step = 255/30 levels at full S and V

    // An image: grey background and coloured blocks (the mask marks them).
    Image img(64, 48, 3, 90);
    Image mask(64, 48, 1, 0);
    for (int y = 10; y < 30; ++y)
      for (int x = 5; x < 40; ++x) {
        uint8_t* p = img.at(x, y);
        p[0] = 200, p[1] = uint8_t(40 + x), p[2] = 30;
        mask.at(x, y)[0] = 1;
      }
    Image orig = img;
    Rng none(1);
    augment_hsv(img, none, 0, 0, 0);
    CHECK(img.px == orig.px);
    bool changed = false;
    for (uint64_t seed = 0; seed < 5; ++seed) {
      Image a = orig;
      Rng r(seed);
      augment_hsv(a, r, 0.015f, 0.7f, 0.4f);
      for (int y = 0; y < 48; ++y)
        for (int x = 0; x < 64; ++x) {
          const uint8_t* p = a.at(x, y);
          bool grey = p[0] == p[1] && p[1] == p[2];
          CHECK(grey == (mask.at(x, y)[0] == 0));  // boxes still bound the coloured pixels
          if (grey) CHECK(p[0] == a.at(0, 0)[0]);  // one grey level in, one out
        }
      changed |= a.px != orig.px;
      // Value gain alone on grey: V' = trunc(V * r2).
      Image g(4, 4, 3, 100);
      Rng r1(seed), r2(seed);
      augment_hsv(g, r1, 0, 0, 0.4f);
      r2.uniform(-1, 1), r2.uniform(-1, 1);
      int expect = int(100 * (r2.uniform(-1, 1) * 0.4 + 1));
      CHECK(int(g.px[0]) == expect);
    }
    CHECK(changed);
  }

  TEST_CASE("augment: flips move boxes with the pixels") {
    Rng rng(21);
    Scene sc = make_scene(70, 50, 5, 0, rng);
    Image img = sc.img, mask = sc.mask;
    auto boxes = sc.boxes;
    flip_lr(img, boxes, &mask);
    CHECK(img.at(0, 3)[0] == sc.img.at(69, 3)[0]);
    for (const auto& b : pixel_boxes(boxes, img)) check_tight(b, mask, 1e-3f);
    flip_ud(img, boxes, &mask);
    CHECK(img.at(0, 0)[1] == sc.img.at(69, 49)[1]);
    for (const auto& b : pixel_boxes(boxes, img)) check_tight(b, mask, 1e-3f);
    flip_lr(img, boxes, &mask);
    flip_ud(img, boxes, &mask);
    CHECK(img.px == sc.img.px);
    CHECK(mask.px == sc.mask.px);
  }

  TEST_CASE("augment: mixup blends pixels, keeps both box sets; Beta(32, 32) ratio") {
    Rng rng(31);
    Scene a = make_scene(64, 64, 3, 0, rng), b = make_scene(64, 64, 3, 3, rng);
    Image img = a.img, mask = a.mask;
    auto boxes = pixel_boxes(a.boxes, a.img);
    auto bb = pixel_boxes(b.boxes, b.img);
    double r = mixup(img, boxes, b.img, bb, rng, &mask, &b.mask);
    CHECK(r > 0.2);
    CHECK(r < 0.8);
    REQUIRE(boxes.size() == 6);
    for (const auto& bx : boxes) check_tight(bx, mask, 1e-3f);
    for (size_t i = 0; i < img.px.size(); ++i) {
      int lo = std::min(a.img.px[i], b.img.px[i]), hi = std::max(a.img.px[i], b.img.px[i]);
      CHECK(int(img.px[i]) >= lo - 1);
      CHECK(int(img.px[i]) <= hi);
    }
    CHECK_THROWS_AS(mixup(img, boxes, Image(10, 10, 3), {}, rng), Error);
    double sum = 0, sum2 = 0;
    const int n = 4000;
    for (int k = 0; k < n; ++k) {
      double x = sample_beta(rng, 32, 32);
      sum += x, sum2 += x * x;
    }
    double mean = sum / n, sd = std::sqrt(sum2 / n - mean * mean);
    CHECK(mean == doctest::Approx(0.5).epsilon(0.01));
    CHECK(sd == doctest::Approx(std::sqrt(1.0 / (4 * 65))).epsilon(0.06));
  }
}
