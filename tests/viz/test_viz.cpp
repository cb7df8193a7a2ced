// tests/viz -- font, drawing, grids and plots.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include <yolite/viz/colors.hpp>
#include <yolite/viz/draw.hpp>
#include <yolite/viz/font.hpp>
#include <yolite/viz/grid.hpp>
#include <yolite/viz/plot.hpp>

using namespace yolite;

namespace {
struct Extent {
  int x0 = 1 << 30, y0 = 1 << 30, x1 = -1, y1 = -1, n = 0;
};
// Bounding box of pixels that differ from `bg` (first channel compared to bg gray value).
Extent ink_extent(const Image& img, uint8_t bg) {
  Extent e;
  for (int y = 0; y < img.h; ++y)
    for (int x = 0; x < img.w; ++x) {
      bool ink = false;
      for (int k = 0; k < img.c; ++k) ink = ink || img.at(x, y)[k] != bg;
      if (!ink) continue;
      e.x0 = std::min(e.x0, x), e.y0 = std::min(e.y0, y), e.x1 = std::max(e.x1, x), e.y1 = std::max(e.y1, y);
      ++e.n;
    }
  return e;
}
}  // namespace

TEST_SUITE("viz") {
  TEST_CASE("every printable glyph has ink except space, and glyphs differ") {
    std::set<std::string> seen;
    for (int c = 33; c <= 126; ++c) {
      const uint8_t* g = viz::glyph(char(c));
      int bits = 0;
      for (int r = 0; r < 7; ++r) {
        bits += __builtin_popcount(g[r]);
        CHECK(g[r] < 32);
      }
      CHECK_MESSAGE(bits > 0, "glyph ", c);
      seen.insert(std::string(reinterpret_cast<const char*>(g), 7));
    }
    CHECK(seen.size() == 94);
    CHECK(viz::glyph('\x01') == viz::glyph('?'));
  }

  TEST_CASE("text ink lies inside text_size and touches its edges") {
    for (int scale : {1, 2, 3}) {
      std::string text = "Wine Bottle 0.87\njy|";
      Image img(300, 120, 3, 255);
      viz::draw_text(img, 7, 5, text, {0, 0, 0}, scale);
      auto ts = viz::text_size(text, scale);
      Extent e = ink_extent(img, 255);
      REQUIRE(e.n > 0);
      CHECK(e.x0 >= 7);
      CHECK(e.y0 >= 5);
      CHECK(e.x1 < 7 + ts.w);
      CHECK(e.y1 < 5 + ts.h);
      CHECK(e.x0 == 7);                 // 'W' starts in the first column
      CHECK(e.y1 == 5 + ts.h - 1);      // '|' reaches the last row of the second line
      CHECK(ts.w == (16 * 6 - 1) * scale);
      CHECK(ts.h == (2 * 8 - 1) * scale);
    }
    CHECK(viz::text_size("", 2).w == 0);
  }

  TEST_CASE("text clips at the image border instead of writing outside") {
    Image img(10, 10, 3, 0);
    viz::draw_text(img, -3, 6, "HELLO", {255, 255, 255}, 2);
    CHECK(ink_extent(img, 0).n > 0);
    Image gray(20, 10, 1, 0);
    viz::draw_text(gray, 0, 0, "A", {255, 255, 255});
    CHECK(ink_extent(gray, 0).n > 0);
  }

  TEST_CASE("rectangles and boxes land on the right pixels") {
    Image img(100, 80, 3, 0);
    viz::draw_rect(img, 10, 20, 50, 60, {255, 0, 0}, 3);
    Extent e = ink_extent(img, 0);
    CHECK(e.x0 == 10);
    CHECK(e.y0 == 20);
    CHECK(e.x1 == 50);
    CHECK(e.y1 == 60);
    CHECK(img.at(12, 40)[0] == 255);   // inside the 3-pixel left edge
    CHECK(img.at(13, 40)[0] == 0);     // just past it
    CHECK(img.at(30, 40)[0] == 0);     // hollow
    CHECK(e.n == 41 * 41 - 35 * 35);

    Image b(200, 150, 3, 0);
    viz::Rgb c = viz::class_color(2);
    viz::draw_box_label(b, 40.f, 60.f, 120.f, 140.f, "", c, 2);  // x + w = 120 is exclusive
    e = ink_extent(b, 0);
    CHECK(e.x0 == 40);
    CHECK(e.y0 == 60);
    CHECK(e.x1 == 119);
    CHECK(e.y1 == 139);

    Image l(200, 150, 3, 0);
    viz::draw_box_label(l, 40.f, 60.f, 120.f, 140.f, "bottle", c, 2, 1);
    e = ink_extent(l, 0);
    CHECK(e.y0 == 60 - (7 + 2));   // the label chip sits on top of the box
    CHECK(e.y1 == 139);
    // text inside the chip is in contrast colour
    auto ink = viz::contrast_color(c);
    int text_px = 0;
    for (int y = 51; y < 60; ++y)
      for (int x = 40; x < 80; ++x) text_px += l.at(x, y)[0] == ink[0] && l.at(x, y)[1] == ink[1];
    CHECK(text_px > 10);

    Image top(200, 150, 3, 0);  // no room above: label goes inside
    viz::draw_box_label(top, 10.f, 2.f, 100.f, 100.f, "x", c, 1, 1);
    CHECK(ink_extent(top, 0).y0 == 2);
  }

  TEST_CASE("lines, fill and blending") {
    Image img(50, 50, 3, 0);
    viz::draw_line(img, 0, 0, 49, 49, {255, 255, 255});
    for (int i = 0; i < 50; ++i) CHECK(img.at(i, i)[0] == 255);
    CHECK(ink_extent(img, 0).n == 50);
    Image f(10, 10, 3, 100);
    viz::fill_rect(f, 2, 2, 4, 4, {200, 200, 200}, 0.5f);
    CHECK(f.at(3, 3)[0] == 150);
    CHECK(f.at(5, 5)[0] == 100);
    CHECK(viz::contrast_color({255, 255, 0}) == viz::kBlack);
    CHECK(viz::contrast_color({0, 0, 128}) == viz::kWhite);
    CHECK(viz::class_color(0) == viz::class_color(20));
    CHECK(viz::class_color(0) != viz::class_color(1));
  }

  TEST_CASE("grid layout sizes and placement") {
    std::vector<Image> ims;
    for (int i = 0; i < 6; ++i) ims.emplace_back(100 + 50 * (i % 2), 100, 3, uint8_t(i * 40));
    viz::GridOptions o;
    o.cols = 4, o.cell_w = 64, o.cell_h = 48, o.pad = 2;
    Image g = viz::make_grid(ims, o);
    CHECK(g.w == 4 * 64 + 5 * 2);
    CHECK(g.h == 2 * 48 + 3 * 2);
    CHECK(g.c == 3);
    // cell 0 (100x100 -> 48x48 centred in 64x48): corners of the fitted image
    CHECK(g.at(2 + 8, 2)[0] == 0);
    CHECK(g.at(2 + 7, 2)[0] == 255);  // background left of the image
    std::vector<std::string> titles(6, "a long title that will be cut");
    Image gt = viz::make_grid(ims, o, titles);
    CHECK(gt.h == 2 * (48 + viz::grid_title_height(o, true)) + 3 * 2);
    o.cols = 0;
    CHECK(viz::make_grid(ims, o).w == 3 * 64 + 4 * 2);  // ceil(sqrt(6)) = 3 columns
    CHECK_THROWS_AS(viz::make_grid({}, o), Error);
    CHECK_THROWS_AS(viz::make_grid(ims, o, {"one"}), Error);
  }

  TEST_CASE("resize keeps flat colour and sizes") {
    Image a(37, 23, 3, 77);
    for (auto [w, h] : {std::pair{10, 5}, {80, 60}, {37, 23}}) {
      Image r = viz::resize(a, w, h);
      CHECK(r.w == w);
      CHECK(r.h == h);
      CHECK(ink_extent(r, 77).n == 0);
    }
    CHECK_THROWS_AS(viz::resize(a, 0, 5), Error);
  }

  TEST_CASE("plots draw series, ticks and cells") {
    viz::PlotOptions o;
    o.title = "train/box_loss";
    o.xlabel = "epoch";
    viz::Series s{"loss", {}, {0.1, 0.08, 0.06, 0.05, 0.045}};
    viz::Series s2{"val", {}, {0.12, 0.09, 0.07, 0.06, 0.058}};
    Image p = viz::line_plot({s, s2}, o);
    CHECK(p.w == o.width);
    CHECK(p.h == o.height);
    auto c0 = viz::class_color(0);
    int colored = 0;
    for (int y = 0; y < p.h; ++y)
      for (int x = 0; x < p.w; ++x) colored += p.at(x, y)[0] == c0[0] && p.at(x, y)[1] == c0[1] && p.at(x, y)[2] == c0[2];
    CHECK(colored > 100);
    CHECK(viz::nice_step(0, 1) == doctest::Approx(0.2));
    CHECK(viz::nice_step(0, 97) == doctest::Approx(20));
    CHECK(viz::format_number(0.30000000004, 0.1) == "0.3");
    CHECK(viz::format_number(-1e-17, 0.2) == "0.0");
    Image b = viz::bar_plot({"Beer", "Wine", "Soda"}, {120, 80, 0}, o);
    CHECK(ink_extent(b, 255).n > 1000);
    Image h = viz::heatmap({{10, 2}, {0, 7}}, {"a", "b"}, {"a", "b"}, o);
    CHECK(h.at(h.w / 2, h.h / 2)[0] != 255);
    CHECK_THROWS_AS(viz::heatmap({{1, 2}, {3}}, {}, {}, o), Error);
    CHECK_THROWS_AS(viz::bar_plot({"a"}, {1, 2}, o), Error);
    viz::PlotOptions tiny;
    tiny.width = 10;
    CHECK_THROWS_AS(viz::line_plot({s}, tiny), Error);
  }
}
