// Tests for data/split.hpp: part sizes, seeded determinism, stratification, the YOLOv5 layout
// on BCCD, copy / link / move modes, refusal of existing output, nothing partial on error.
// Also data/stats.hpp on the same data.
#include <doctest/doctest.h>

#include "../test_util.hpp"

#include <filesystem>
#include <map>
#include <set>
#include <string>

#include <yolite/data/convert.hpp>
#include <yolite/data/split.hpp>
#include <yolite/data/stats.hpp>

namespace fs = std::filesystem;
using namespace yolite;
using namespace yolite::testing;

namespace {

// part -> set of image file names (relative) under out/images/<part>
std::map<std::string, std::set<std::string>> listing(const fs::path& out) {
  std::map<std::string, std::set<std::string>> m;
  for (auto p : data::kPartNames) {
    fs::path d = out / "images" / p;
    if (!fs::exists(d)) continue;
    for (auto& e : fs::recursive_directory_iterator(d))
      if (e.is_regular_file()) m[p].insert(e.path().lexically_relative(d).string());
  }
  return m;
}

// n tiny PNG images with labels; image i has class (i % 10 == 0 ? 2 : i % 2) -- class 2 is rare.
void make_small_set(const fs::path& dir, int n) {
  Image img(8, 6, 3, 50);
  for (int i = 0; i < n; ++i) {
    std::string stem = str("im", i < 10 ? "0" : "", i);
    data::save_image(dir / "images" / (stem + ".png"), img);
    int cls = i % 10 == 0 ? 2 : i % 2;
    if (i != 7) data::write_file_atomic(dir / "labels" / (stem + ".txt"), str(cls, " 0.5 0.5 0.25 0.5\n"));
  }
  data::write_file_atomic(dir / "labels/orphan.txt", "0 0.5 0.5 0.1 0.1\n");
  data::write_class_names(dir / "labels/classes.txt", {"a", "b", "rare"});
}
}  // namespace

TEST_SUITE("data") {
  TEST_CASE("split: part sizes add up and follow the ratios") {
    for (size_t n : {0, 1, 2, 3, 7, 10, 99, 364, 1001}) {
      auto s = data::part_sizes(n, {0.8, 0.1, 0.1});
      CHECK(s[0] + s[1] + s[2] == n);
      CHECK(std::abs(double(s[0]) - 0.8 * double(n)) < 1.0);
      CHECK(std::abs(double(s[1]) - 0.1 * double(n)) < 1.0);
    }
    auto s = data::part_sizes(364, {0.8, 0.1, 0.1});
    CHECK(s == std::array<size_t, 3>{291, 37, 36});
    CHECK(data::part_sizes(10, {0.7, 0.3, 0.0})[2] == 0);
    CHECK(contains(error_of([] { data::part_sizes(10, {0.8, 0.1, 0.2}); }), "sum to 1"));
    CHECK(contains(error_of([] { data::part_sizes(10, {1.2, -0.1, -0.1}); }), ">= 0"));
  }

  TEST_CASE("split: assignment is seeded; stratified parts keep exact sizes and class shares") {
    auto a = data::assign_parts(500, {0.8, 0.1, 0.1}, 1);
    CHECK(a == data::assign_parts(500, {0.8, 0.1, 0.1}, 1));
    CHECK(a != data::assign_parts(500, {0.8, 0.1, 0.1}, 2));
    std::vector<int> strata(500);
    for (int i = 0; i < 500; ++i) strata[size_t(i)] = i % 25 == 0 ? 3 : i % 5 == 0 ? 2 : i % 2;  // 20 rare items
    auto b = data::assign_parts(500, {0.8, 0.1, 0.1}, 7, &strata);
    CHECK(b == data::assign_parts(500, {0.8, 0.1, 0.1}, 7, &strata));
    std::array<size_t, 3> sizes{};
    std::map<int, std::array<int, 3>> per;
    for (size_t i = 0; i < 500; ++i) ++sizes[size_t(b[i])], ++per[strata[i]][size_t(b[i])];
    CHECK(sizes == data::part_sizes(500, {0.8, 0.1, 0.1}));
    for (auto& [k, c] : per) {  // every stratum split ~80/10/10 (within 1.5 items)
      double n = c[0] + c[1] + c[2];
      for (int p = 0; p < 3; ++p) CHECK(std::abs(c[size_t(p)] - n * (p == 0 ? 0.8 : 0.1)) <= 1.5);
    }
  }

  TEST_CASE("split: BCCD into the YOLOv5 layout; deterministic by seed; stats agree") {
    auto dir = fresh_dir("split_bccd");
    fs::path bccd = fs::path(YOLITE_SHARED_DIR) / "datasets/bccd";
    auto coco = data::read_coco(bccd / "annotations/instances_all.json", {.images_dir = bccd / "images"});
    data::coco_to_yolo(coco, dir / "labels");
    data::SplitOptions opt;
    opt.mode = data::TransferMode::link;  // hard links (a copy when /work/shared is another file system)
    auto r1 = data::split_dataset(bccd / "images", dir / "labels", dir / "out1", opt);
    CHECK(r1.images == std::array<size_t, 3>{291, 37, 36});
    CHECK(r1.boxes[0] + r1.boxes[1] + r1.boxes[2] == 4886);
    CHECK(r1.names == std::vector<std::string>{"RBC", "WBC", "Platelets"});
    CHECK(r1.unlabeled_images == 0);
    auto l1 = listing(dir / "out1");
    std::set<std::string> all;
    for (auto& [p, s] : l1) all.insert(s.begin(), s.end());
    CHECK(all.size() == 364);  // no image in two parts, none lost
    CHECK(l1["train"].size() + l1["val"].size() + l1["test"].size() == 364);
    for (auto& [p, s] : l1)  // every image's label sits in the same part, unchanged
      for (auto& f : s) {
        fs::path lab = dir / "out1/labels" / p / fs::path(f).replace_extension(".txt");
        REQUIRE(fs::exists(lab));
        CHECK(data::read_file(lab) == data::read_file(dir / "labels" / fs::path(f).replace_extension(".txt")));
      }
    // the dataset yaml reads back and its splits load
    auto dy = data::read_dataset_yaml(r1.yaml);
    CHECK(dy.root == fs::absolute(dir / "out1").lexically_normal());
    auto val = data::load_yolo_split(dy, "val");
    CHECK(val.samples.size() == 37);
    CHECK(val.nc() == 3);

    // same seed -> same split; another seed -> another split
    opt.mode = data::TransferMode::copy;
    data::split_dataset(bccd / "images", dir / "labels", dir / "out2", opt);
    CHECK(listing(dir / "out2") == l1);
    opt.seed = 2;
    data::split_dataset(bccd / "images", dir / "labels", dir / "out3", opt);
    CHECK(listing(dir / "out3") != l1);

    // stats of the whole set: counts per class equal the json's
    auto st = data::compute_stats(data::coco_to_dataset(coco, bccd / "images"));
    CHECK(st.images == 364);
    CHECK(st.boxes == 4886);
    CHECK(st.boxes_per_class == std::vector<size_t>{4153, 372, 361});
    CHECK(st.images_without_boxes == 0);
    CHECK(st.boxes_per_image.min == 1);
    CHECK(st.boxes_per_image.max == 30);
    CHECK(st.image_sizes.size() == 1);
    CHECK(st.image_sizes.begin()->first == std::pair<int, int>{640, 480});
    CHECK(st.pixels);
    CHECK(st.small + st.medium + st.large == 4886);
    auto text = data::format_stats(st, "bccd");
    CHECK(contains(text, "Platelets"));
    CHECK(contains(text, "4153"));
    CHECK(contains(text, "640 x 480: 364"));
    // the split's parts add up to the same per-class counts
    std::vector<size_t> sum(3, 0);
    for (auto p : data::kPartNames) {
      auto s = data::compute_stats(data::load_yolo_split(dy, p, false));
      CHECK(!s.pixels);
      for (int c = 0; c < 3; ++c) sum[size_t(c)] += s.boxes_per_class[size_t(c)];
    }
    CHECK(sum == std::vector<size_t>{4153, 372, 361});
  }

  TEST_CASE("split: link and move modes, stratify, refusal, nothing partial") {
    auto dir = fresh_dir("split_modes");
    make_small_set(dir / "src", 40);
    data::SplitOptions opt;
    opt.stratify = true;
    opt.mode = data::TransferMode::link;
    auto r = data::split_dataset(dir / "src/images", dir / "src/labels", dir / "linked", opt);
    CHECK(r.images == std::array<size_t, 3>{32, 4, 4});
    CHECK(r.orphan_labels == 1);
    CHECK(r.unlabeled_images == 1);
    CHECK(r.names == std::vector<std::string>{"a", "b", "rare"});
    CHECK(contains(r.text(), "1 label files have no image"));
    auto l = listing(dir / "linked");
    // the 4 rare-class images (im00, im10, im20, im30) are dealt 80/10/10, not all into train
    int rare_train = 0, rare_other = 0;
    for (auto& [p, s] : l)
      for (auto& f : s)
        if (f == "im00.png" || f == "im10.png" || f == "im20.png" || f == "im30.png") (p == "train" ? rare_train : rare_other)++;
    CHECK(rare_train >= 2);
    CHECK(rare_other >= 1);  // stratified: the rare class reaches val/test too
    for (auto& [p, s] : l)
      for (auto& f : s) CHECK(fs::hard_link_count(dir / "linked/images" / p / f) >= 2);

    // refuse a non-empty output; exist_ok adds to it
    auto msg = error_of([&] { data::split_dataset(dir / "src/images", dir / "src/labels", dir / "linked", opt); });
    CHECK(contains(msg, "not empty"));
    opt.exist_ok = true;
    CHECK_NOTHROW(data::split_dataset(dir / "src/images", dir / "src/labels", dir / "linked", opt));
    opt.exist_ok = false;

    // move: sources disappear, outputs hold the same bytes
    fs::copy(dir / "src", dir / "src2", fs::copy_options::recursive);
    opt.mode = data::TransferMode::move;
    opt.stratify = false;
    auto rm = data::split_dataset(dir / "src2/images", dir / "src2/labels", dir / "moved", opt);
    CHECK(rm.images[0] + rm.images[1] + rm.images[2] == 40);
    size_t left = 0;
    for (auto& e : fs::recursive_directory_iterator(dir / "src2")) left += e.is_regular_file();
    CHECK(left == 2);  // only orphan.txt and classes.txt stay
    CHECK(listing(dir / "moved").size() == 3);

    // a malformed label: error naming file:line, nothing written
    data::write_file_atomic(dir / "src/labels/im05.txt", "1 0.5 0.5 0.25 0.5\n1 0.5 0.5 0.25\n");
    msg = error_of([&] { data::split_dataset(dir / "src/images", dir / "src/labels", dir / "bad", opt); });
    CHECK(contains(msg, "im05.txt:2"));
    CHECK(!fs::exists(dir / "bad"));
    data::write_file_atomic(dir / "src/labels/im05.txt", "3 0.5 0.5 0.25 0.5\n");  // class >= nc (3 names)
    msg = error_of([&] { data::split_dataset(dir / "src/images", dir / "src/labels", dir / "bad", opt); });
    CHECK(contains(msg, "im05.txt:1"));
    CHECK(!fs::exists(dir / "bad"));
    for (auto& e : fs::directory_iterator(dir)) CHECK(!contains(e.path().filename().string(), ".tmp."));
    CHECK(contains(error_of([&] { data::split_dataset(dir / "nope", dir / "src/labels", dir / "bad", opt); }), "nope"));
  }
}
