// Tests for data/coco.hpp: the streaming COCO reader on real exports (BCCD, a Roboflow chess
// export), its validation (every documented defect), clipping, and class mapping.
#include <doctest/doctest.h>

#include "../test_util.hpp"

#include <filesystem>
#include <map>
#include <string>

#include <yolite/data/coco.hpp>
#include <yolite/data/fs.hpp>

namespace fs = std::filesystem;
using namespace yolite;
using namespace yolite::testing;

namespace {
fs::path bccd() { return fs::path(YOLITE_SHARED_DIR) / "datasets/bccd"; }

// A small COCO file; `images`, `anns`, `cats` replace the default arrays' contents.
std::string coco_text(const std::string& images, const std::string& anns,
                      const std::string& cats = R"({"id": 1, "name": "a"}, {"id": 2, "name": "b"})") {
  return R"({"info": {"x": [1, {"y": null}]}, "images": [)" + images + R"(], "annotations": [)" + anns +
         R"(], "categories": [)" + cats + "]}";
}
const std::string kImgs =
    R"({"id": 0, "file_name": "a.jpg", "width": 100, "height": 50},
       {"id": 1, "file_name": "b.jpg", "width": 200, "height": 100, "license": 3})";
}  // namespace

TEST_SUITE("data") {
  TEST_CASE("coco: BCCD counts per class equal the json's (SOURCE.md)") {
    data::CocoReport rep;
    auto c = data::read_coco(bccd() / "annotations/instances_all.json", {.images_dir = bccd() / "images"}, &rep);
    CHECK(c.images.size() == 364);
    CHECK(c.annotations.size() == 4886);
    CHECK(c.categories.size() == 3);
    CHECK(rep.defects == 0);
    std::map<int64_t, int> per_cat;
    for (auto& a : c.annotations) ++per_cat[a.category_id];
    CHECK(per_cat[1] == 4153);
    CHECK(per_cat[2] == 372);
    CHECK(per_cat[3] == 361);
    bool has_id0 = false;
    for (auto& im : c.images) has_id0 |= im.id == 0;
    CHECK(has_id0);  // ids kept as given, 0 included

    auto ds = data::coco_to_dataset(c, bccd() / "images");
    REQUIRE(ds.nc() == 3);
    CHECK(ds.names == std::vector<std::string>{"RBC", "WBC", "Platelets"});
    std::vector<int> per_class(3, 0);
    size_t boxes = 0;
    for (auto& s : ds.samples) {
      CHECK(s.width == 640);
      for (auto& b : s.boxes) {
        ++per_class[size_t(b.cls)], ++boxes;
        CHECK(b.cx - b.w / 2 >= -1e-6f);
        CHECK(b.cx + b.w / 2 <= 1 + 1e-6f);
      }
    }
    CHECK(boxes == 4886);
    CHECK(per_class == std::vector<int>{4153, 372, 361});

    // the splits add up
    size_t n = 0, m = 0;
    for (auto split : {"train", "val", "test"}) {
      auto s = data::read_coco(bccd() / str("annotations/instances_", split, ".json"));
      n += s.images.size(), m += s.annotations.size();
    }
    CHECK(n == 364);
    CHECK(m == 4886);
  }

  TEST_CASE("coco: Roboflow export -- ids from 0, category 0 as a supercategory only") {
    fs::path f = fs::path(YOLITE_SHARED_DIR) / "datasets/chess-pieces-roboflow/test/_annotations.coco.json";
    data::CocoReport rep;
    auto c = data::read_coco(f, {.images_dir = f.parent_path()}, &rep);
    CHECK(c.images.size() == 29);
    CHECK(c.annotations.size() == 376);
    CHECK(c.categories.size() == 14);
    auto cls = data::coco_classes(c);
    CHECK(cls.nc() == 13);  // "pieces" (id 0) left out, "bishop" (id 1, unused here) kept
    CHECK(cls.names.front() == "bishop");
    CHECK(cls.names.back() == "white-rook");
    CHECK(cls.index.count(0) == 0);
    CHECK(cls.index.at(2) == 1);
    REQUIRE(!rep.notes.empty());
    CHECK(contains(rep.notes[0], "'pieces'"));
    CHECK(contains(rep.summary(), "supercategory"));
    auto ds = data::coco_to_dataset(c, f.parent_path());
    size_t boxes = 0;
    for (auto& s : ds.samples) boxes += s.boxes.size();
    CHECK(boxes == 376);
    // the valid split of the same export maps classes the same way
    auto v = data::read_coco(f.parent_path().parent_path() / "valid/_annotations.coco.json");
    CHECK(data::coco_classes(v).names == cls.names);
  }

  TEST_CASE("coco: corrupt json names the file and the byte") {
    auto dir = fresh_dir("coco_corrupt");
    std::string text = data::read_file(bccd() / "annotations/instances_test.json");
    data::write_file_atomic(dir / "trunc.json", text.substr(0, text.size() / 2));
    auto msg = error_of([&] { data::read_coco(dir / "trunc.json"); });
    CHECK(contains(msg, "trunc.json"));
    CHECK(contains(msg, "byte"));
    data::write_file_atomic(dir / "empty.json", "");
    CHECK(contains(error_of([&] { data::read_coco(dir / "empty.json"); }), "empty.json"));
    data::write_file_atomic(dir / "array.json", "[1, 2]");
    CHECK(contains(error_of([&] { data::read_coco(dir / "array.json"); }), "top level"));
    data::write_file_atomic(dir / "imgobj.json", R"({"images": {"id": 1}, "categories": []})");
    CHECK(contains(error_of([&] { data::read_coco(dir / "imgobj.json"); }), "'images' must be an array"));
    data::write_file_atomic(dir / "noimages.json", R"({"categories": []})");
    CHECK(contains(error_of([&] { data::read_coco(dir / "noimages.json"); }), "no 'images'"));
    CHECK(contains(error_of([&] { data::read_coco(dir / "missing.json"); }), "missing.json"));

    // wrong types: a string width, a 3-value bbox, a string id
    data::write_file_atomic(dir / "types.json",
                            coco_text(R"({"id": 0, "file_name": "a.jpg", "width": "100", "height": 50})",
                                      R"({"id": 5, "image_id": 0, "category_id": 1, "bbox": [1, 2, 3]},
                                         {"id": "6", "image_id": 0, "category_id": 1, "bbox": [1, 2, 3, 4]})"));
    msg = error_of([&] { data::read_coco(dir / "types.json"); });
    CHECK(contains(msg, "types.json"));
    CHECK(contains(msg, "images[0] (id 0)"));
    CHECK(contains(msg, "'width' has the wrong type"));
    CHECK(contains(msg, "annotations[0] (id 5)"));
    CHECK(contains(msg, "bbox has 3 values"));
    CHECK(contains(msg, "annotations[1]"));
    CHECK(contains(msg, "'id' has the wrong type"));
    CHECK(contains(msg, "3 defective entries"));
  }

  TEST_CASE("coco: each defect gives the documented error; skip_invalid drops and counts") {
    auto dir = fresh_dir("coco_defects");
    struct Case {
      const char* name;
      std::string json;
      const char* expect;
    };
    const std::string ok_ann = R"({"id": 1, "image_id": 0, "category_id": 1, "bbox": [10, 10, 20, 20]})";
    std::vector<Case> cases = {
        {"bad_box", coco_text(kImgs, ok_ann + R"(, {"id": 2, "image_id": 1, "category_id": 2, "bbox": [5, 5, 0, 3]})"),
         "annotations[1] (id 2): bbox [5, 5, 0, 3] needs finite values and w, h > 0"},
        {"neg_box", coco_text(kImgs, ok_ann + R"(, {"id": 2, "image_id": 1, "category_id": 2, "bbox": [5, 5, 4, -3]})"),
         "annotations[1] (id 2)"},
        {"unknown_image", coco_text(kImgs, ok_ann + R"(, {"id": 2, "image_id": 7, "category_id": 2, "bbox": [5, 5, 4, 3]})"),
         "image_id 7 is not in 'images'"},
        {"unknown_category",
         coco_text(kImgs, ok_ann + R"(, {"id": 2, "image_id": 1, "category_id": 9, "bbox": [5, 5, 4, 3]})"),
         "category_id 9 is not in 'categories'"},
        {"dup_ann", coco_text(kImgs, ok_ann + R"(, {"id": 1, "image_id": 1, "category_id": 2, "bbox": [5, 5, 4, 3]})"),
         "annotations[1] (id 1): duplicate annotation id"},
        {"dup_image", coco_text(kImgs + R"(, {"id": 1, "file_name": "c.jpg", "width": 10, "height": 10})", ok_ann),
         "images[2] (id 1): duplicate image id (also images[1])"},
        {"dup_category", coco_text(kImgs, ok_ann, R"({"id": 1, "name": "a"}, {"id": 1, "name": "b"})"),
         "categories[1] (id 1): duplicate category id"},
        {"missing_key", coco_text(kImgs, ok_ann + R"(, {"id": 2, "image_id": 1, "bbox": [5, 5, 4, 3]})"),
         "annotations[1] (id 2) at byte"},
        {"zero_size", coco_text(kImgs + R"(, {"id": 3, "file_name": "c.jpg", "width": 0, "height": 10})", ok_ann),
         "images[2] (id 3): 'c.jpg' has size 0x10"},
        {"outside", coco_text(kImgs, ok_ann + R"(, {"id": 2, "image_id": 0, "category_id": 2, "bbox": [150, 5, 4, 3]})"),
         "lies outside its image"},
    };
    for (auto& cs : cases) {
      CAPTURE(cs.name);
      fs::path f = dir / (std::string(cs.name) + ".json");
      data::write_file_atomic(f, cs.json);
      auto msg = error_of([&] { data::read_coco(f); });
      CHECK(contains(msg, f.string()));
      CHECK(contains(msg, cs.expect));
      CHECK(contains(msg, "1 defective entry"));
      data::CocoReport rep;
      auto c = data::read_coco(f, {.images_dir = {}, .skip_invalid = true}, &rep);
      CHECK(rep.defects == 1);
      CHECK(rep.dropped_images + rep.dropped_annotations + rep.dropped_categories >= 1);
      CHECK(rep.first_defects.size() == 1);
      CHECK(contains(rep.summary(), "1 defective entries skipped"));
      CHECK(c.annotations.size() == rep.annotations);
    }
    {  // missing_key names the key
      auto msg = error_of([&] { data::read_coco(dir / "missing_key.json"); });
      CHECK(contains(msg, "missing required key(s): category_id"));
    }
    {  // dropping an image drops its annotations too
      data::write_file_atomic(dir / "drop_img.json",
                              coco_text(kImgs + R"(, {"id": 3, "file_name": "c.jpg", "width": -5, "height": 10})",
                                        ok_ann + R"(, {"id": 2, "image_id": 3, "category_id": 2, "bbox": [1, 1, 2, 2]})"));
      data::CocoReport rep;
      auto c = data::read_coco(dir / "drop_img.json", {.images_dir = {}, .skip_invalid = true}, &rep);
      CHECK(rep.dropped_images == 1);
      CHECK(rep.dropped_annotations == 1);
      CHECK(c.images.size() == 2);
      CHECK(c.annotations.size() == 1);
    }
    {  // images missing on disk, only when an images dir is given
      fs::path f = dir / "files.json";
      data::write_file_atomic(f, coco_text(kImgs, ok_ann));
      data::write_file_atomic(dir / "imgs/a.jpg", "x");
      CHECK_NOTHROW(data::read_coco(f));
      auto msg = error_of([&] { data::read_coco(f, {.images_dir = dir / "imgs"}); });
      CHECK(contains(msg, "images[1] (id 1): image file not found"));
      CHECK(contains(msg, "b.jpg"));
      data::CocoReport rep;
      auto c = data::read_coco(f, {.images_dir = dir / "imgs", .skip_invalid = true}, &rep);
      CHECK(c.images.size() == 1);
      CHECK(rep.dropped_images == 1);
    }
    {  // more than 10 defects: the first 10 are listed, the count is exact
      std::string anns;
      for (int i = 0; i < 15; ++i)
        anns += (i ? ", " : "") + str(R"({"id": )", i, R"(, "image_id": 0, "category_id": 1, "bbox": [1, 1, 0, 1]})");
      data::write_file_atomic(dir / "many.json", coco_text(kImgs, anns));
      auto msg = error_of([&] { data::read_coco(dir / "many.json"); });
      CHECK(contains(msg, "15 defective entries (first 10)"));
      CHECK(contains(msg, "annotations[9]"));
      CHECK(!contains(msg, "annotations[10]"));
    }
  }

  TEST_CASE("coco: boxes past the edge are clipped and counted; area defaults to w*h") {
    auto dir = fresh_dir("coco_clip");
    data::write_file_atomic(
        dir / "clip.json",
        coco_text(kImgs, R"({"id": 0, "image_id": 0, "category_id": 1, "bbox": [-1.0, -1.0, 11, 21], "area": 3.5},
                            {"id": 1, "image_id": 0, "category_id": 2, "bbox": [90, 40, 20, 20], "iscrowd": 0},
                            {"id": 2, "image_id": 1, "category_id": 2, "bbox": [0, 0, 200, 100]},
                            {"id": 3, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], "iscrowd": 1})"));
    data::CocoReport rep;
    auto c = data::read_coco(dir / "clip.json", {}, &rep);
    CHECK(rep.clipped == 2);
    CHECK(rep.crowd == 1);
    CHECK(contains(rep.summary(), "2 boxes reached past the image edge"));
    REQUIRE(c.annotations.size() == 4);
    CHECK(c.annotations[0].bbox == std::array<double, 4>{0, 0, 10, 20});
    CHECK(c.annotations[0].area == 3.5);  // area kept as given
    CHECK(c.annotations[1].bbox == std::array<double, 4>{90, 40, 10, 10});
    CHECK(c.annotations[2].bbox == std::array<double, 4>{0, 0, 200, 100});  // exactly the image: not clipped
    CHECK(c.annotations[2].area == 200 * 100);
    auto ds = data::coco_to_dataset(c);
    REQUIRE(ds.samples.size() == 2);
    CHECK(ds.samples[1].boxes.size() == 1);  // the crowd annotation is not a box
    CHECK(ds.samples[0].boxes[0].cx == doctest::Approx(0.05));
    CHECK(ds.samples[0].boxes[0].h == doctest::Approx(0.4));
  }

  TEST_CASE("coco: write then read keeps everything") {
    auto dir = fresh_dir("coco_write");
    data::Coco c;
    c.images = {{0, "x/a b.jpg", 640, 480}, {10, "q\"uote.png", 3, 4}};
    c.categories = {{0, "zero", "group"}, {5, "five", ""}};
    c.annotations = {{0, 0, 5, {0.1, 1.0 / 3, 7.25, 2}, 14.5, 0}, {1, 10, 0, {0, 0, 3, 4}, 12, 1}};
    data::write_coco(dir / "c.json", c);
    auto b = data::read_coco(dir / "c.json");
    REQUIRE(b.images.size() == 2);
    CHECK(b.images[1].file_name == "q\"uote.png");
    CHECK(b.images[1].id == 10);
    CHECK(b.annotations[0].bbox == c.annotations[0].bbox);
    CHECK(b.annotations[1].iscrowd == 1);
    CHECK(b.categories[0].supercategory == "group");
    CHECK(data::coco_classes(b).category_ids == std::vector<int64_t>{0, 5});
  }
}
