// Tests for data/convert.hpp: COCO -> YOLO -> COCO round trips on real data, output refusal
// and nothing-partial guarantees.
#include <doctest/doctest.h>

#include "../test_util.hpp"

#include <cmath>
#include <filesystem>
#include <map>
#include <string>

#include <yolite/data/convert.hpp>

namespace fs = std::filesystem;
using namespace yolite;
using namespace yolite::testing;

namespace {
size_t count_files(const fs::path& d) {
  size_t n = 0;
  if (fs::exists(d))
    for (auto& e : fs::recursive_directory_iterator(d)) n += e.is_regular_file();
  return n;
}

// COCO (file in `images_dir`) -> YOLO labels -> COCO again; checks every box within 1e-6 relative.
void round_trip(const fs::path& json, const fs::path& images_dir, const std::string& name) {
  auto dir = fresh_dir(name);
  auto c = data::read_coco(json, {.images_dir = images_dir});
  // YOLOv5 layout: <root>/images/test/* (links to the real images) and <root>/labels/test/*
  for (auto& im : c.images) {
    fs::create_directories((dir / "images/test" / im.file_name).parent_path());
    fs::create_symlink(fs::absolute(images_dir / im.file_name), dir / "images/test" / im.file_name);
  }
  auto sum = data::coco_to_yolo(c, dir / "labels/test");
  auto cls = data::coco_classes(c);
  CHECK(sum.images == c.images.size());
  CHECK(fs::exists(dir / "labels/test/classes.txt"));
  data::DatasetYaml dy;
  dy.root = dir;
  dy.test = {"images/test"};
  dy.names = data::read_class_names(dir / "labels/test/classes.txt");
  CHECK(dy.names == cls.names);
  auto back = data::yolo_to_coco(dy, "test");
  data::write_coco(dir / "back.json", back);
  auto b = data::read_coco(dir / "back.json");  // what we write reads back (and validates)

  // ids from 1 everywhere
  for (auto& im : b.images) CHECK(im.id >= 1);
  for (auto& a : b.annotations) CHECK(a.id >= 1);
  for (auto& k : b.categories) CHECK(k.id >= 1);

  std::map<std::string, const data::CocoImage*> orig_img;
  for (auto& im : c.images) orig_img[im.file_name] = &im;
  std::map<int64_t, std::vector<const data::CocoAnnotation*>> orig_anns, back_anns;
  for (auto& a : c.annotations) orig_anns[a.image_id].push_back(&a);
  for (auto& a : b.annotations) back_anns[a.image_id].push_back(&a);
  REQUIRE(b.images.size() == c.images.size());
  size_t compared = 0;
  double worst = 0;
  for (auto& im : b.images) {
    auto* o = orig_img.at(im.file_name);
    CHECK(im.width == o->width);
    CHECK(im.height == o->height);
    auto& oa = orig_anns[o->id];
    auto& ba = back_anns[im.id];
    REQUIRE(oa.size() == ba.size());
    for (size_t k = 0; k < oa.size(); ++k) {
      CHECK(b.categories[size_t(ba[k]->category_id - 1)].name == cls.names[size_t(cls.index.at(oa[k]->category_id))]);
      for (int j = 0; j < 4; ++j) {
        double x = oa[k]->bbox[size_t(j)], y = ba[k]->bbox[size_t(j)];
        double rel = std::abs(x - y) / std::max(1.0, std::abs(x));
        worst = std::max(worst, rel);
        ++compared;
      }
      CHECK(ba[k]->area == doctest::Approx(ba[k]->bbox[2] * ba[k]->bbox[3]));
      CHECK(ba[k]->iscrowd == 0);
    }
  }
  CHECK(compared == 4 * c.annotations.size());
  CHECK(worst <= 1e-6);
}
}  // namespace

TEST_SUITE("data") {
  TEST_CASE("convert: BCCD COCO -> YOLO -> COCO keeps every box within 1e-6 relative") {
    fs::path bccd = fs::path(YOLITE_SHARED_DIR) / "datasets/bccd";
    round_trip(bccd / "annotations/instances_test.json", bccd / "images", "convert_bccd");
    // the label text itself
    auto c = data::read_coco(bccd / "annotations/instances_test.json");
    auto labels = fs::path(YOLITE_BINARY_DIR) / "tmp_tests_data/convert_bccd/labels/test";
    CHECK(count_files(labels) == c.images.size() + 1);  // + classes.txt
    auto rows = data::read_yolo_rows(labels / "BloodImage_00007.txt", 3);
    size_t n7 = 0;
    for (auto& a : c.annotations) n7 += a.image_id == 7;
    CHECK(rows.size() == n7);
    CHECK(data::read_class_names(labels / "classes.txt") == std::vector<std::string>{"RBC", "WBC", "Platelets"});
  }

  TEST_CASE("convert: Roboflow chess export (ids from 0) round trips") {
    fs::path d = fs::path(YOLITE_SHARED_DIR) / "datasets/chess-pieces-roboflow/test";
    round_trip(d / "_annotations.coco.json", d, "convert_chess");
  }

  TEST_CASE("convert: refuses a non-empty output and writes nothing partial") {
    auto dir = fresh_dir("convert_refuse");
    data::Coco c;
    c.images = {{0, "a.jpg", 10, 10}, {1, "sub/a.png", 10, 10}, {2, "b.jpg", 20, 10}};
    c.categories = {{3, "x", ""}};
    c.annotations = {{0, 0, 3, {1, 1, 2, 2}, 4, 0}, {1, 2, 3, {0, 0, 20, 10}, 200, 0}};
    data::write_file_atomic(dir / "out/keep.txt", "mine");
    auto msg = error_of([&] { data::coco_to_yolo(c, dir / "out"); });
    CHECK(contains(msg, "not empty"));
    CHECK(count_files(dir / "out") == 1);
    auto sum = data::coco_to_yolo(c, dir / "out", true);
    CHECK(sum.images == 3);
    CHECK(sum.empty_images == 1);
    CHECK(data::read_file(dir / "out/keep.txt") == "mine");
    CHECK(fs::file_size(dir / "out/sub/a.txt") == 0);  // an image without boxes: empty label file
    auto r = data::read_yolo_rows(dir / "out/b.txt");
    REQUIRE(r.size() == 1);
    CHECK(r[0].cls == 0);
    CHECK(r[0].w == 1.0);

    // two images that would share a label file: an error, and nothing is written
    c.images.push_back({3, "a.png", 10, 10});
    msg = error_of([&] { data::coco_to_yolo(c, dir / "out2"); });
    CHECK(contains(msg, "a.png"));
    CHECK(!fs::exists(dir / "out2"));
    for (auto& e : fs::directory_iterator(dir)) CHECK(!contains(e.path().filename().string(), ".tmp."));
  }
}
