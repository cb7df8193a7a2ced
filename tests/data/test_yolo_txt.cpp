// Tests for data/yolo_txt.hpp: reading/writing YOLO label files, errors naming file:line.
#include <doctest/doctest.h>

#include "../test_util.hpp"

#include <filesystem>
#include <string>

#include <yolite/data/fs.hpp>
#include <yolite/data/yolo_txt.hpp>

namespace fs = std::filesystem;
using namespace yolite;
using namespace yolite::testing;


TEST_SUITE("data") {
  TEST_CASE("yolo txt: read boxes, confidence column and polygons") {
    auto rows = data::parse_yolo_rows(
        "0 0.5 0.5 0.25 0.125\n"
        "\n"
        "3 0.1 0.2 0.05 0.06 0.875\r\n"
        "1 0.1 0.1 0.3 0.1 0.3 0.4\n",  // a triangle (polygon) -> its bounding box
        "a.txt", 4);
    REQUIRE(rows.size() == 3);
    CHECK(rows[0].cls == 0);
    CHECK(rows[0].w == 0.25);
    CHECK(rows[0].conf < 0);
    CHECK(rows[1].cls == 3);
    CHECK(rows[1].conf == 0.875);
    CHECK(rows[2].cls == 1);
    CHECK(rows[2].cx == doctest::Approx(0.2));
    CHECK(rows[2].cy == doctest::Approx(0.25));
    CHECK(rows[2].w == doctest::Approx(0.2));
    CHECK(rows[2].h == doctest::Approx(0.3));
  }

  TEST_CASE("yolo txt: malformed lines name file:line") {
    auto err = [](const std::string& text, int nc = -1) {
      return error_of([&] { data::parse_yolo_rows(text, "lab.txt", nc); });
    };
    CHECK(contains(err("0 0.5 0.5 0.1\n"), "lab.txt:1"));               // too few values
    CHECK(contains(err("0 0.5 0.5 0.1 0.1\n0 0.5 x 0.1 0.1\n"), "lab.txt:2"));  // not a number
    CHECK(contains(err("\n\n1.5 0.5 0.5 0.1 0.1\n"), "lab.txt:3"));     // fractional class
    CHECK(contains(err("-1 0.5 0.5 0.1 0.1\n"), "lab.txt:1"));          // negative class
    CHECK(contains(err("2 0.5 0.5 0.1 0.1\n", 2), "out of range"));    // class >= nc
    CHECK(contains(err("0 0.5 0.5 0 0.1\n"), "must be > 0"));          // zero width
    CHECK(contains(err("0 320 240 50 40\n"), "normalised"));            // pixel coordinates
    CHECK(contains(err("0 0.5 0.5 0.1 0.1 0.2 0.3 0.4\n"), "lab.txt:1"));  // 8 columns: odd polygon
    CHECK(contains(err("0 nan 0.5 0.1 0.1\n"), "lab.txt:1"));
    CHECK(contains(error_of([] { data::read_yolo_rows("/nonexistent/q.txt"); }), "q.txt"));
  }

  TEST_CASE("yolo txt: write then read is exact; empty file for no boxes") {
    auto dir = fresh_dir("yolo_txt");
    std::vector<data::Box> boxes = {{0, 0.5f, 0.25f, 0.1f, 0.2f}, {7, 0.123456789f, 0.9f, 0.013f, 0.0001f}};
    data::write_yolo_labels(dir / "a.txt", boxes);
    auto back = data::read_yolo_labels(dir / "a.txt");
    REQUIRE(back.size() == 2);
    for (size_t i = 0; i < 2; ++i) {
      CHECK(back[i].cls == boxes[i].cls);
      CHECK(back[i].cx == boxes[i].cx);
      CHECK(back[i].cy == boxes[i].cy);
      CHECK(back[i].w == boxes[i].w);
      CHECK(back[i].h == boxes[i].h);
    }
    std::vector<float> conf = {0.9f, 0.25f};
    data::write_yolo_labels(dir / "c.txt", boxes, &conf);
    std::vector<float> conf_back;
    data::read_yolo_labels(dir / "c.txt", -1, &conf_back);
    CHECK(conf_back == conf);
    data::write_yolo_labels(dir / "empty.txt", {});
    CHECK(fs::exists(dir / "empty.txt"));
    CHECK(fs::file_size(dir / "empty.txt") == 0);
    CHECK(data::read_yolo_labels(dir / "empty.txt").empty());

    std::vector<data::LabelRow> rows = {{2, 1.0 / 3, 2.0 / 3, 0.1, 1e-7}};
    data::write_yolo_rows(dir / "d.txt", rows);
    auto rb = data::read_yolo_rows(dir / "d.txt");
    CHECK(rb[0].cx == rows[0].cx);  // doubles written in their shortest exact form
    CHECK(rb[0].h == rows[0].h);

    data::write_class_names(dir / "classes.txt", {"a b", "c"});
    CHECK(data::read_class_names(dir / "classes.txt") == std::vector<std::string>{"a b", "c"});
    data::write_file_atomic(dir / "none.txt", "\n\n");
    CHECK(contains(error_of([&] { data::read_class_names(dir / "none.txt"); }), "none.txt"));
  }
}
