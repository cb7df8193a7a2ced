// Tests for data/image_io.hpp and data/fs.hpp: decoding real JPEGs, header-only sizes,
// PNG/BMP/JPEG round trips, errors that name the file, the resize kernels, atomic writes.
#include <doctest/doctest.h>

#include "../test_util.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <yolite/core/rng.hpp>
#include <yolite/data/fs.hpp>
#include <yolite/data/image_io.hpp>

namespace fs = std::filesystem;
using namespace yolite;
using namespace yolite::testing;

namespace {
Image gradient(int w, int h, int c) {
  Image img(w, h, c);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int ch = 0; ch < c; ++ch) img.at(x, y)[ch] = uint8_t((x * 7 + y * 13 + ch * 50) % 256);
  return img;
}
}  // namespace

TEST_SUITE("data") {
  TEST_CASE("image_io: loads a real BCCD JPEG and reads its size from the header") {
    fs::path p = fs::path(YOLITE_SHARED_DIR) / "datasets/bccd/images/BloodImage_00000.jpg";
    auto s = data::image_size(p);
    CHECK(s.w == 640);
    CHECK(s.h == 480);
    CHECK(s.c == 3);
    Image img = data::load_image(p);
    CHECK(img.w == 640);
    CHECK(img.h == 480);
    CHECK(img.c == 3);
    REQUIRE(img.px.size() == 640u * 480u * 3u);
    Image gray = data::load_image(p, 1);
    CHECK(gray.c == 1);
    // Blood smears are pinkish: mean red above mean blue is a sanity check on channel order.
    double r = 0, b = 0;
    for (size_t i = 0; i < img.px.size(); i += 3) r += img.px[i], b += img.px[i + 2];
    CHECK(r > 0);
    CHECK(b > 0);
  }

  TEST_CASE("image_io: PNG and BMP round trips are exact, JPEG is close") {
    auto dir = fresh_dir("image_io_roundtrip");
    Image img = gradient(37, 23, 3);
    for (const char* name : {"a.png", "a.bmp", "a.PNG"}) {
      data::save_image(dir / name, img);
      Image back = data::load_image(dir / name);
      CHECK(back.w == 37);
      CHECK(back.h == 23);
      CHECK(back.px == img.px);
    }
    Image g1 = gradient(16, 9, 1);
    data::save_image(dir / "g.png", g1);
    CHECK(data::load_image(dir / "g.png", 0).c == 1);
    Image flat(32, 32, 3, 120);
    data::save_image(dir / "a.jpg", flat, 90);
    Image back = data::load_image(dir / "a.jpg");
    int maxdiff = 0;
    for (size_t i = 0; i < back.px.size(); ++i) maxdiff = std::max(maxdiff, std::abs(int(back.px[i]) - 120));
    CHECK(maxdiff <= 2);
    // no temporary files left behind
    int n = 0;
    for (auto& e : fs::directory_iterator(dir)) n += e.path().filename().string().find(".tmp.") != std::string::npos;
    CHECK(n == 0);
  }

  TEST_CASE("image_io: errors name the file") {
    auto dir = fresh_dir("image_io_errors");
    auto missing = dir / "nope.jpg";
    auto msg = error_of([&] { data::load_image(missing); });
    CHECK(msg.find("nope.jpg") != std::string::npos);
    CHECK(msg.find("not found") != std::string::npos);
    msg = error_of([&] { data::image_size(missing); });
    CHECK(msg.find("nope.jpg") != std::string::npos);

    data::write_file_atomic(dir / "corrupt.jpg", "this is not a jpeg at all");
    msg = error_of([&] { data::load_image(dir / "corrupt.jpg"); });
    CHECK(msg.find("corrupt.jpg") != std::string::npos);
    CHECK(msg.find("cannot decode") != std::string::npos);
    msg = error_of([&] { data::image_size(dir / "corrupt.jpg"); });
    CHECK(msg.find("corrupt.jpg") != std::string::npos);

    // a truncated real JPEG: the header is there, the pixels are not
    std::string bytes = data::read_file(fs::path(YOLITE_SHARED_DIR) / "datasets/bccd/images/BloodImage_00000.jpg");
    data::write_file_atomic(dir / "trunc.jpg", bytes.substr(0, 200));
    msg = error_of([&] { data::load_image(dir / "trunc.jpg"); });
    CHECK(msg.find("trunc.jpg") != std::string::npos);

    data::write_file_atomic(dir / "empty.png", "");
    msg = error_of([&] { data::load_image(dir / "empty.png"); });
    CHECK(msg.find("empty.png") != std::string::npos);

    msg = error_of([&] { data::save_image(dir / "x.gif", gradient(4, 4, 3)); });
    CHECK(msg.find("x.gif") != std::string::npos);
    CHECK(!fs::exists(dir / "x.gif"));
    msg = error_of([&] { data::save_image(dir / "y.png", Image()); });
    CHECK(msg.find("y.png") != std::string::npos);
  }

  TEST_CASE("image_io: resize kernels") {
    SUBCASE("a constant image stays constant, both ways") {
      Image flat(50, 30, 3, 77);
      for (auto in : {data::Interp::linear, data::Interp::area, data::Interp::automatic}) {
        for (auto [w, h] : {std::pair{25, 15}, std::pair{17, 11}, std::pair{130, 70}}) {
          Image r = data::resize(flat, w, h, in);
          CHECK(r.w == w);
          CHECK(r.h == h);
          bool all = true;
          for (auto v : r.px) all &= v == 77;
          CHECK(all);
        }
      }
    }
    SUBCASE("area halving averages 2x2 blocks") {
      Image img = gradient(8, 6, 1);
      Image r = data::resize(img, 4, 3, data::Interp::area);
      for (int y = 0; y < 3; ++y)
        for (int x = 0; x < 4; ++x) {
          double m = (img.at(2 * x, 2 * y)[0] + img.at(2 * x + 1, 2 * y)[0] + img.at(2 * x, 2 * y + 1)[0] +
                      img.at(2 * x + 1, 2 * y + 1)[0]) / 4.0;
          CHECK(std::abs(r.at(x, y)[0] - m) <= 0.5 + 1e-9);
        }
    }
    SUBCASE("linear doubling interpolates between neighbours") {
      Image img(2, 1, 1);
      img.px = {0, 200};
      Image r = data::resize(img, 4, 1, data::Interp::linear);
      // centres of output pixels map to source x = -0.25, 0.25, 0.75, 1.25
      CHECK(r.px == std::vector<uint8_t>{0, 50, 150, 200});
    }
    SUBCASE("the row-wise kernel equals the per-pixel reference bit for bit") {
      // Reference: per output pixel and channel, taps in order, std::lround -- the plain loops
      // the vectorised passes of data::resize replace (same sums, same rounding).
      Rng rng(9);
      for (int c : {1, 3, 4}) {
        for (int t = 0; t < 6; ++t) {
          const int W = 7 + int(rng.uniform(0, 90)), H = 5 + int(rng.uniform(0, 90));
          const int w = 3 + int(rng.uniform(0, 120)), h = 3 + int(rng.uniform(0, 120));
          Image img(W, H, c);
          for (auto& v : img.px) v = t % 2 ? uint8_t(rng.uniform(0, 256)) : uint8_t(rng.uniform(0, 2) < 1 ? 0 : 255);
          for (auto in : {data::Interp::linear, data::Interp::area}) {
            CAPTURE(c);
            CAPTURE(W);
            CAPTURE(w);
            const bool area = in == data::Interp::area;
            auto tx = area && w < W ? data::detail::area_taps(W, w) : data::detail::linear_taps(W, w);
            auto ty = area && h < H ? data::detail::area_taps(H, h) : data::detail::linear_taps(H, h);
            std::vector<float> mid(size_t(H) * w * c);
            for (int y = 0; y < H; ++y)
              for (int x = 0; x < w; ++x)
                for (int ch = 0; ch < c; ++ch) {
                  float acc = 0;
                  for (int k = 0; k < tx.count[x]; ++k)
                    acc += tx.wt[tx.first[x] + k] * img.row(y)[size_t(tx.idx[tx.first[x] + k]) * c + ch];
                  mid[(size_t(y) * w + x) * c + ch] = acc;
                }
            Image r = data::resize(img, w, h, in);
            int bad = 0;
            for (int y = 0; y < h; ++y)
              for (int i = 0; i < w * c; ++i) {
                float acc = 0;
                for (int k = 0; k < ty.count[y]; ++k)
                  acc += ty.wt[ty.first[y] + k] * mid[size_t(ty.idx[ty.first[y] + k]) * w * c + i];
                bad += r.row(y)[i] != uint8_t(std::clamp(std::lround(acc), 0l, 255l));
              }
            CHECK(bad == 0);
          }
        }
      }
    }
    CHECK_THROWS_AS(data::resize(Image(4, 4, 3), 0, 4), Error);
  }

  TEST_CASE("fs: atomic writes and staging folders") {
    auto dir = fresh_dir("fs_staging");
    data::write_file_atomic(dir / "sub/a.txt", "hello");
    CHECK(data::read_file(dir / "sub/a.txt") == "hello");
    data::write_file_atomic(dir / "sub/a.txt", "bye");
    CHECK(data::read_file(dir / "sub/a.txt") == "bye");
    auto msg = error_of([&] { data::read_file(dir / "none.txt"); });
    CHECK(msg.find("none.txt") != std::string::npos);

    fs::path out = dir / "out";
    {
      data::StagingDir stage(out);
      data::write_file_atomic(stage.path() / "x/1.txt", "1");
      CHECK(!fs::exists(out));  // nothing visible before commit
      stage.commit();
    }
    CHECK(data::read_file(out / "x/1.txt") == "1");
    try {
      data::StagingDir stage(out);
      data::write_file_atomic(stage.path() / "x/2.txt", "2");
      throw Error("boom");
    } catch (const Error&) {
    }
    CHECK(!fs::exists(out / "x/2.txt"));  // an aborted stage leaves the output as it was
    {
      data::StagingDir stage(out);  // merging into an existing folder
      data::write_file_atomic(stage.path() / "x/3.txt", "3");
      stage.commit();
    }
    CHECK(fs::exists(out / "x/1.txt"));
    CHECK(fs::exists(out / "x/3.txt"));
    int leftovers = 0;
    for (auto& e : fs::directory_iterator(dir)) leftovers += e.path().filename().string().find(".tmp.") != std::string::npos;
    CHECK(leftovers == 0);
  }
}
