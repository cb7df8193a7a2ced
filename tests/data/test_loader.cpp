// Loader: the (images, targets) format of YOLOv5's collate_fn, bitwise-identical batches for
// any worker count, every sample once per epoch, unreadable images skipped and reported,
// rect batch shapes.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <yolite/core/rng.hpp>
#include <yolite/data/image_io.hpp>
#include <yolite/data/loader.hpp>

using namespace yolite;
using namespace yolite::data;
namespace fs = std::filesystem;

namespace {

// A scratch folder of small images, removed at the end of the test.
struct TempSet {
  fs::path dir;
  Dataset ds;
  explicit TempSet(const std::string& tag) {
    dir = fs::temp_directory_path() / str("yolite_test_loader_", tag, "_", ::getpid());
    fs::remove_all(dir);
    fs::create_directories(dir);
    ds.names = {"a", "b", "c"};
  }
  ~TempSet() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  // A noisy image with one solid block, and that block as its only box.
  void add(const std::string& name, int w, int h, Rng& rng) {
    Image img(w, h, 3);
    for (auto& p : img.px) p = uint8_t(rng.below(256));
    int x1 = rng.randint(0, w / 2), y1 = rng.randint(0, h / 2);
    int x2 = rng.randint(x1 + 4, w), y2 = rng.randint(y1 + 4, h);
    for (int y = y1; y < y2; ++y)
      for (int x = x1; x < x2; ++x) img.at(x, y)[0] = 250, img.at(x, y)[1] = 20, img.at(x, y)[2] = 20;
    save_image(dir / name, img);
    Sample s;
    s.image_path = name;  // relative: LoaderOptions::root supplies the folder
    s.boxes.push_back({int(rng.below(3)), (x1 + x2) / 2.f / w, (y1 + y2) / 2.f / h, float(x2 - x1) / w,
                       float(y2 - y1) / h});
    ds.samples.push_back(s);
  }
};

bool same(const Tensor<float>& a, const Tensor<float>& b) {
  if (a.shape() != b.shape()) return false;
  return a.numel() == 0 || std::memcmp(a.data(), b.data(), sizeof(float) * size_t(a.numel())) == 0;
}

std::vector<Batch> run_epoch(Loader& L, int epoch) {
  std::vector<Batch> out;
  L.start_epoch(epoch);
  Batch b;
  while (L.next(b)) out.push_back(b);
  return out;
}

}  // namespace

TEST_SUITE("data") {
  TEST_CASE("loader: val batches are letterboxed images + targets in collate_fn format") {
    TempSet t("val");
    Rng rng(1);
    t.add("a.png", 64, 48, rng);   // letterboxed: 8 rows of grey top and bottom
    t.add("b.png", 64, 64, rng);
    t.add("c.png", 128, 128, rng); // shrunk to 64
    LoaderOptions o;
    o.imgsz = 64, o.batch = 2, o.workers = 1, o.root = t.dir;
    Loader L(t.ds, o);
    CHECK(L.size() == 3);
    CHECK(L.num_batches() == 2);
    auto batches = run_epoch(L, 0);
    REQUIRE(batches.size() == 2);
    const Batch& b = batches[0];
    CHECK(b.images.shape() == Shape({2, 3, 64, 64}));
    CHECK(b.targets.shape() == Shape({2, 6}));
    CHECK(batches[1].images.shape() == Shape({1, 3, 64, 64}));
    CHECK(b.paths[0] == (t.dir / "a.png").string());
    CHECK(b.orig_hw[0] == std::array<int, 2>{48, 64});
    CHECK(b.indices == std::vector<int>{0, 1});
    // Row 0: (batch index 0, class, cx, cy, w, h) with cy moved into the letterbox.
    const Box& a = t.ds.samples[0].boxes[0];
    CHECK(b.targets.at(0, 0) == 0.f);
    CHECK(b.targets.at(0, 1) == float(a.cls));
    CHECK(b.targets.at(0, 2) == doctest::Approx(a.cx));
    CHECK(b.targets.at(0, 3) == doctest::Approx((a.cy * 48 + 8) / 64));
    CHECK(b.targets.at(0, 4) == doctest::Approx(a.w));
    CHECK(b.targets.at(0, 5) == doctest::Approx(a.h * 48 / 64));
    CHECK(b.targets.at(1, 0) == 1.f);
    // Pixels: RGB / 255, grey 114 padding, unchanged content (PNG, no resize).
    Image src = load_image(t.dir / "a.png");
    CHECK(b.images.at(0, 0, 3, 10) == doctest::Approx(114.f / 255));
    CHECK(b.images.at(0, 0, 8, 10) == doctest::Approx(src.at(10, 0)[0] / 255.f));
    CHECK(b.images.at(0, 1, 30, 40) == doctest::Approx(src.at(40, 22)[1] / 255.f));
    CHECK(b.images.at(0, 2, 55, 63) == doctest::Approx(src.at(63, 47)[2] / 255.f));
    CHECK(b.images.at(0, 2, 56, 63) == doctest::Approx(114.f / 255));
    // The letterbox info maps the batch image back to the original file.
    CHECK(b.letterbox[0].pad_y == 8);
    CHECK(b.letterbox[0].to_original_y(8.f) == doctest::Approx(0.f));
    const LetterboxInfo& c = batches[1].letterbox[0];
    CHECK(c.orig_w == 128);
    CHECK(c.to_original_x(32.f) == doctest::Approx(64.f));
    CHECK(batches[1].orig_hw[0] == std::array<int, 2>{128, 128});
    CHECK(L.failed_count() == 0);
    Batch extra;
    CHECK_FALSE(L.next(extra));  // the epoch is over
  }

  TEST_CASE("loader: same seed -> bitwise identical augmented batches with 0, 1 or 2 workers") {
    TempSet t("det");
    Rng rng(2);
    for (int i = 0; i < 14; ++i) t.add(str("im", i, ".jpg"), i % 2 ? 96 : 64, i % 3 ? 64 : 80, rng);
    LoaderOptions o;
    o.imgsz = 64, o.batch = 4, o.augment = true, o.shuffle = true, o.seed = 42, o.root = t.dir;
    o.hyp.mixup = 0.3f, o.hyp.degrees = 5, o.hyp.flipud = 0.2f, o.hyp.mosaic = 0.8f;
    std::vector<std::vector<Batch>> runs;
    for (int workers : {0, 1, 2})
      for (bool cache : {false, true}) {
        o.workers = workers, o.cache_ram = cache;
        Loader L(t.ds, o);
        auto e0 = run_epoch(L, 0);
        auto e1 = run_epoch(L, 1);
        e0.insert(e0.end(), e1.begin(), e1.end());
        runs.push_back(e0);
      }
    REQUIRE(runs[0].size() == 8);  // 4 batches per epoch (14 = 4 + 4 + 4 + 2), 2 epochs
    for (size_t r = 1; r < runs.size(); ++r)
      for (size_t k = 0; k < runs[0].size(); ++k) {
        CAPTURE(r);
        CAPTURE(k);
        CHECK(same(runs[r][k].images, runs[0][k].images));
        CHECK(same(runs[r][k].targets, runs[0][k].targets));
        CHECK(runs[r][k].indices == runs[0][k].indices);
      }
    // Epochs differ (order and augmentation) and targets are well formed.
    CHECK_FALSE(same(runs[0][0].images, runs[0][4].images));
    for (const Batch& b : runs[0]) {
      CHECK(b.images.size(2) == 64);
      for (int64_t i = 0; i < b.targets.size(0); ++i) {
        CHECK(b.targets.at(i, 0) >= 0.f);
        CHECK(b.targets.at(i, 0) < float(b.size()));
        CHECK(b.targets.at(i, 1) >= 0.f);
        CHECK(b.targets.at(i, 1) <= 2.f);
        for (int c = 2; c < 6; ++c) {
          CHECK(b.targets.at(i, c) >= 0.f);
          CHECK(b.targets.at(i, c) <= 1.f);
        }
      }
      for (int64_t i = 1; i < b.targets.size(0); ++i) CHECK(b.targets.at(i, 0) >= b.targets.at(i - 1, 0));
    }
    // A fresh loader with another seed gives other batches.
    o.seed = 43, o.workers = 0;
    Loader other(t.ds, o);
    CHECK_FALSE(same(run_epoch(other, 0)[0].images, runs[0][0].images));
  }

  TEST_CASE("loader: augmented samples (mosaic, scale, flips) keep their boxes on their objects") {
    // White blocks on black: after the whole training pipeline (HSV off) every box must touch
    // white pixels near each of its four edges, and the boxes cover the white pixels.
    TempSet t("geo");
    Rng rng(6);
    for (int i = 0; i < 8; ++i) {
      const int w = i % 2 ? 64 : 48, h = i % 3 ? 64 : 40;
      Image img(w, h, 3, 0);
      int x1 = rng.randint(0, w / 2), y1 = rng.randint(0, h / 2);
      int x2 = rng.randint(x1 + 8, w), y2 = rng.randint(y1 + 8, h);
      for (int y = y1; y < y2; ++y)
        for (int x = x1; x < x2; ++x) img.at(x, y)[0] = img.at(x, y)[1] = img.at(x, y)[2] = 255;
      save_image(t.dir / str("g", i, ".png"), img);
      Sample s;
      s.image_path = str("g", i, ".png");
      s.boxes.push_back({0, (x1 + x2) / 2.f / w, (y1 + y2) / 2.f / h, float(x2 - x1) / w, float(y2 - y1) / h});
      t.ds.samples.push_back(s);
    }
    LoaderOptions o;
    o.imgsz = 64, o.augment = true, o.workers = 0, o.root = t.dir, o.seed = 9;
    o.hyp.hsv_h = o.hyp.hsv_s = o.hyp.hsv_v = 0;
    o.hyp.flipud = 0.5f, o.hyp.fliplr = 0.5f, o.hyp.mosaic = 0.7f;
    Loader L(t.ds, o);
    int boxes_seen = 0;
    for (int epoch = 0; epoch < 3; ++epoch)
      for (int idx = 0; idx < 8; ++idx) {
        auto it = L.item(epoch, idx, 64, 64);
        REQUIRE(it.has_value());
        const Image& im = it->image;
        REQUIRE(im.w == 64);
        auto white = [&](int x, int y) {
          return x >= 0 && y >= 0 && x < im.w && y < im.h && im.at(x, y)[0] > 128 && im.at(x, y)[1] > 128;
        };
        long total = 0, covered = 0;
        std::vector<std::array<float, 4>> px;
        for (const Box& b : it->boxes)
          px.push_back({(b.cx - b.w / 2) * 64, (b.cy - b.h / 2) * 64, (b.cx + b.w / 2) * 64, (b.cy + b.h / 2) * 64});
        for (int y = 0; y < 64; ++y)
          for (int x = 0; x < 64; ++x)
            if (white(x, y)) {
              ++total;
              for (auto& b : px)
                if (x + 0.5f >= b[0] - 1.5f && x + 0.5f <= b[2] + 1.5f && y + 0.5f >= b[1] - 1.5f && y + 0.5f <= b[3] + 1.5f) {
                  ++covered;
                  break;
                }
            }
        CAPTURE(epoch);
        CAPTURE(idx);
        CHECK(covered >= total * 9 / 10);  // slivers dropped by box_candidates may stay bare
        for (auto& b : px) {
          ++boxes_seen;
          // White pixels within 2 px inside each edge (the box is tight, not just covering).
          auto any_white = [&](int xa, int xb, int ya, int yb) {
            for (int y = ya; y <= yb; ++y)
              for (int x = xa; x <= xb; ++x)
                if (white(x, y)) return true;
            return false;
          };
          const int X1 = int(std::floor(b[0])), Y1 = int(std::floor(b[1]));
          const int X2 = int(std::ceil(b[2])) - 1, Y2 = int(std::ceil(b[3])) - 1;
          CHECK(any_white(X1 - 1, X1 + 2, Y1, Y2));
          CHECK(any_white(X2 - 2, X2 + 1, Y1, Y2));
          CHECK(any_white(X1, X2, Y1 - 1, Y1 + 2));
          CHECK(any_white(X1, X2, Y2 - 2, Y2 + 1));
        }
      }
    CHECK(boxes_seen > 24);
  }

  TEST_CASE("loader: every sample exactly once per epoch, reshuffled each epoch") {
    TempSet t("perm");
    Rng rng(3);
    for (int i = 0; i < 23; ++i) t.add(str("p", i, ".png"), 32, 32, rng);
    LoaderOptions o;
    o.imgsz = 32, o.batch = 5, o.augment = true, o.shuffle = true, o.seed = 7, o.workers = 2, o.root = t.dir;
    Loader L(t.ds, o);
    std::vector<std::vector<int>> orders;
    for (int e = 0; e < 3; ++e) {
      std::vector<int> seen;
      for (const Batch& b : run_epoch(L, e)) seen.insert(seen.end(), b.indices.begin(), b.indices.end());
      orders.push_back(seen);
      std::vector<int> sorted = seen;
      std::sort(sorted.begin(), sorted.end());
      std::vector<int> all(23);
      std::iota(all.begin(), all.end(), 0);
      CHECK(sorted == all);
      CHECK(seen == L.epoch_order(e));
    }
    CHECK(orders[0] != orders[1]);
    CHECK(orders[1] != orders[2]);
    // Restarting an epoch midway abandons the old one cleanly.
    L.start_epoch(5);
    Batch b;
    REQUIRE(L.next(b));
    auto again = run_epoch(L, 5);
    CHECK(again.size() == 5);
    CHECK(same(again[0].images, b.images));
    // drop_last
    o.drop_last = true, o.workers = 0;
    Loader D(t.ds, o);
    CHECK(D.num_batches() == 4);
    CHECK(run_epoch(D, 0).size() == 4);
  }

  TEST_CASE("loader: missing and corrupt images are skipped and reported, never fatal") {
    TempSet t("bad");
    Rng rng(4);
    for (int i = 0; i < 6; ++i) t.add(str("ok", i, ".jpg"), 48, 48, rng);
    // Missing file.
    Sample missing;
    missing.image_path = "nope.jpg";
    t.ds.samples.insert(t.ds.samples.begin() + 2, missing);
    // Garbage bytes with an image extension.
    {
      std::ofstream f(t.dir / "garbage.jpg", std::ios::binary);
      f << "this is not a jpeg at all";
    }
    Sample garbage;
    garbage.image_path = "garbage.jpg";
    t.ds.samples.push_back(garbage);
    // A JPEG cut after its header: stbi_info accepts it, decoding fails later.
    {
      std::string bytes = read_file(t.dir / "ok0.jpg");
      std::ofstream f(t.dir / "cut.jpg", std::ios::binary);
      f.write(bytes.data(), std::streamsize(bytes.size() / 5));
    }
    Sample cut;
    cut.image_path = "cut.jpg";
    cut.boxes.push_back({0, 0.5f, 0.5f, 0.2f, 0.2f});
    t.ds.samples.push_back(cut);

    for (bool cache : {false, true})
      for (bool augment : {false, true}) {
        CAPTURE(cache);
        CAPTURE(augment);
        LoaderOptions o;
        o.imgsz = 64, o.batch = 4, o.workers = 2, o.cache_ram = cache, o.augment = augment, o.root = t.dir;
        o.hyp.mosaic = 0.5f;
        Loader L(t.ds, o);
        int images = 0;
        std::set<int> seen;
        for (const Batch& b : run_epoch(L, 0)) {
          images += b.size();
          CHECK(b.images.size(0) == b.size());
          seen.insert(b.indices.begin(), b.indices.end());
        }
        CHECK_FALSE(seen.count(2));  // the missing one
        CHECK_FALSE(seen.count(7));  // garbage
        CHECK_FALSE(seen.count(8));  // cut
        CHECK(images >= 1);
        CHECK(images <= 6);
        CHECK(L.failed_count() == 3);  // the cut JPEG fails at decode (up front when caching)
        auto why = L.failures();
        bool names_missing = false, names_garbage = false;
        for (auto& w : why) {
          names_missing |= w.find("nope.jpg") != std::string::npos;
          names_garbage |= w.find("garbage.jpg") != std::string::npos;
        }
        CHECK(names_missing);
        CHECK(names_garbage);
        if (!augment) {
          CHECK(images == 6);  // every readable image delivered
        }
      }
    // Nothing readable at all is an error that says so.
    Dataset bad;
    bad.samples = {missing};
    LoaderOptions o;
    o.root = t.dir;
    CHECK_THROWS_WITH_AS(Loader(bad, o), doctest::Contains("nope.jpg"), Error);
    CHECK_THROWS_AS(Loader(Dataset{}, o), Error);
    o.imgsz = 300;  // not a multiple of 32
    CHECK_THROWS_WITH_AS(Loader(t.ds, o), doctest::Contains("imgsz"), Error);
  }

  TEST_CASE("loader: rect batches are shaped to their images (multiples of 32)") {
    TempSet t("rect");
    Rng rng(5);
    for (int i = 0; i < 4; ++i) t.add(str("w", i, ".png"), 128, 64, rng);  // wide
    for (int i = 0; i < 4; ++i) t.add(str("t", i, ".png"), 60, 120, rng);  // tall
    LoaderOptions o;
    o.imgsz = 64, o.batch = 4, o.rect = true, o.workers = 0, o.root = t.dir;
    Loader L(t.ds, o);
    auto bs = run_epoch(L, 0);
    REQUIRE(bs.size() == 2);
    // Wide first (sorted by h/w): 64 x 32 content -> ceil(0.5*64/32 + 0.5)*32 = 64 tall? h/w = 0.5:
    // shape (0.5, 1) * 64 / 32 + 0.5 = (1.5, 2.5) -> ceil (2, 3) * 32 = (64, 96).
    CHECK(bs[0].images.shape() == Shape({4, 3, 64, 96}));
    CHECK(bs[0].indices == std::vector<int>{0, 1, 2, 3});
    // Tall: h/w = 2 -> (1, 0.5) -> (2.5, 1.5) -> (96, 64).
    CHECK(bs[1].images.shape() == Shape({4, 3, 96, 64}));
    for (const Batch& b : bs)
      for (int64_t i = 0; i < b.targets.size(0); ++i)
        for (int c = 2; c < 6; ++c) CHECK(b.targets.at(i, c) <= 1.f);
    // The content sits centred: a 128x64 image -> 64x32 in a 96x64 canvas: pad (16, 16).
    CHECK(bs[0].letterbox[0].pad_x == 16);
    CHECK(bs[0].letterbox[0].pad_y == 16);
  }

  TEST_CASE("loader: shards give every batch once, the same bits as one loader, with workers") {
    TempSet t("shards");
    Rng rng(9);
    for (int i = 0; i < 11; ++i) t.add(str("s", i, ".png"), 40 + 8 * i, 90 - 4 * i, rng);
    LoaderOptions o;
    o.imgsz = 64, o.batch = 2, o.rect = true, o.workers = 0, o.root = t.dir;
    Loader whole(t.ds, o);
    auto all = run_epoch(whole, 0);
    REQUIRE(all.size() == 6);
    for (int shards : {2, 4, 7}) {
      std::vector<int> seen(all.size(), 0);
      for (int k = 0; k < shards; ++k) {
        LoaderOptions so = o;
        so.shard = k, so.shards = shards, so.workers = k % 2 + 1;
        Loader part(t.ds, so);
        auto mine = run_epoch(part, 0);
        REQUIRE(int64_t(mine.size()) == part.shard_batches());
        for (size_t j = 0; j < mine.size(); ++j) {
          const int64_t n = part.batch_number(int64_t(j));
          REQUIRE(n % shards == k);
          ++seen[size_t(n)];
          CHECK(mine[j].indices == all[size_t(n)].indices);
          CHECK(mine[j].images.shape() == all[size_t(n)].images.shape());
          CHECK(std::memcmp(mine[j].images.data(), all[size_t(n)].images.data(),
                            size_t(mine[j].images.numel()) * sizeof(float)) == 0);
        }
      }
      CHECK(seen == std::vector<int>(all.size(), 1));
    }
    LoaderOptions bad = o;
    bad.shard = 2, bad.shards = 2;
    CHECK_THROWS_AS(Loader(t.ds, bad), Error);
  }

  TEST_CASE("loader: slices of augmented batches are the whole batch's images, split in order") {
    TempSet t("slices");
    Rng rng(4);
    for (int i = 0; i < 11; ++i) t.add(str("s", i, ".png"), 48 + 4 * i, 64, rng);
    LoaderOptions o;
    o.imgsz = 64, o.batch = 5, o.augment = true, o.shuffle = true, o.seed = 3, o.workers = 0, o.root = t.dir;
    Loader whole(t.ds, o);
    auto all = run_epoch(whole, 1);
    REQUIRE(all.size() == 3);  // 5, 5, 1 images
    for (int slices : {2, 3}) {
      std::vector<std::vector<Batch>> parts;
      for (int k = 0; k < slices; ++k) {
        LoaderOptions so = o;
        so.slice = k, so.slices = slices, so.workers = k % 2;
        Loader part(t.ds, so);
        CHECK(part.num_batches() == whole.num_batches());
        parts.push_back(run_epoch(part, 1));
        REQUIRE(parts.back().size() == all.size());
      }
      for (size_t n = 0; n < all.size(); ++n) {
        CAPTURE(slices);
        CAPTURE(n);
        // the slices, in order, are the whole batch: indices, pixels, and targets (image index
        // shifted to the slice)
        std::vector<int> indices;
        int64_t offset = 0, rows = 0;
        for (int k = 0; k < slices; ++k) {
          const Batch& b = parts[size_t(k)][n];
          const int64_t B = b.images.size(0);
          const int64_t want = int64_t(all[n].size()) * (k + 1) / slices - int64_t(all[n].size()) * k / slices;
          CHECK(B == want);
          indices.insert(indices.end(), b.indices.begin(), b.indices.end());
          const size_t per = size_t(3 * 64 * 64);
          if (B > 0)
            CHECK(std::memcmp(b.images.data(), all[n].images.data() + size_t(offset) * per,
                              size_t(B) * per * sizeof(float)) == 0);
          for (int64_t r = 0; r < b.targets.size(0); ++r, ++rows) {
            CHECK(b.targets.at(r, 0) + float(offset) == all[n].targets.at(rows, 0));
            for (int c = 1; c < 6; ++c) CHECK(b.targets.at(r, c) == all[n].targets.at(rows, c));
          }
          offset += B;
        }
        CHECK(indices == all[n].indices);
        CHECK(rows == all[n].targets.size(0));
      }
    }
    LoaderOptions bad = o;
    bad.slice = 3, bad.slices = 3;
    CHECK_THROWS_AS(Loader(t.ds, bad), Error);
  }
}

#include <yolite/data/coco.hpp>

TEST_SUITE("data") {
  TEST_CASE("loader: real COCO images (BCCD): targets map back onto the COCO boxes") {
    const fs::path root = fs::path(YOLITE_SHARED_DIR) / "datasets" / "bccd";
    if (!fs::exists(root / "annotations" / "instances_val.json")) {
      MESSAGE("BCCD not found under ", root.string(), "; skipped");
      return;
    }
    Coco coco = read_coco(root / "annotations" / "instances_val.json");
    Dataset all = coco_to_dataset(coco, root / "images");
    Dataset ds;
    ds.names = all.names;
    ds.samples.assign(all.samples.begin(), all.samples.begin() + 8);
    LoaderOptions o;
    o.imgsz = 320, o.batch = 4, o.workers = 1;
    Loader L(ds, o);
    Batch b = L.batch(0, 0);
    REQUIRE(b.size() == 4);
    CHECK(b.images.shape() == Shape({4, 3, 320, 320}));
    for (int i = 0; i < 4; ++i) {
      const Sample& s = ds.samples[size_t(i)];
      CHECK(b.orig_hw[size_t(i)] == std::array<int, 2>{s.height, s.width});
      const LetterboxInfo& lb = b.letterbox[size_t(i)];
      std::vector<std::array<float, 4>> got;
      for (int64_t r = 0; r < b.targets.size(0); ++r) {
        if (int(b.targets.at(r, 0)) != i) continue;
        float cx = b.targets.at(r, 2) * 320, cy = b.targets.at(r, 3) * 320;
        float w = b.targets.at(r, 4) * 320, h = b.targets.at(r, 5) * 320;
        struct {
          float x1, y1, x2, y2;
        } box{cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2};
        auto o2 = lb.to_original(box);
        got.push_back({o2.x1, o2.y1, o2.x2, o2.y2});
      }
      REQUIRE(got.size() == s.boxes.size());
      for (size_t k = 0; k < got.size(); ++k) {
        const Box& e = s.boxes[k];
        float ex1 = std::clamp((e.cx - e.w / 2) * s.width, 0.f, float(s.width));
        float ex2 = std::clamp((e.cx + e.w / 2) * s.width, 0.f, float(s.width));
        float ey1 = std::clamp((e.cy - e.h / 2) * s.height, 0.f, float(s.height));
        CHECK(got[k][0] == doctest::Approx(ex1).epsilon(1e-4));
        CHECK(got[k][2] == doctest::Approx(ex2).epsilon(1e-4));
        CHECK(got[k][1] == doctest::Approx(ey1).epsilon(1e-4));
      }
    }
    // 640x480 -> 320x240 + 40 grey rows above and below.
    CHECK(b.letterbox[0].pad_y == 40);
    CHECK(b.images.at(0, 1, 39, 100) == doctest::Approx(114.f / 255));
    // Augmented batches of real JPEGs: right shape, boxes inside.
    o.augment = true, o.shuffle = true;
    Loader A(ds, o);
    Batch c = A.batch(0, 1);
    CHECK(c.images.shape() == Shape({4, 3, 320, 320}));
    CHECK(c.targets.size(0) > 0);
    for (int64_t r = 0; r < c.targets.size(0); ++r)
      for (int k = 2; k < 6; ++k) CHECK((c.targets.at(r, k) >= 0.f && c.targets.at(r, k) <= 1.f));
  }
}
