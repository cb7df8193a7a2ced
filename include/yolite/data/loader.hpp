// data/loader.hpp -- the batch loader: Dataset -> (images [B,3,S,S], targets [nt,6]) batches,
// augmented on background threads, in the exact format YOLOv5's collate_fn gives.
//
//   data::LoaderOptions o;
//   o.imgsz = 320; o.batch = 16; o.augment = true; o.shuffle = true; o.seed = 0;
//   o.workers = 2; o.cache_ram = true;                 // decode + resize every image once
//   data::Loader loader(train_set, o);
//   for (int epoch = 0; epoch < epochs; ++epoch) {
//     loader.start_epoch(epoch);                          // reshuffles, starts prefetching
//     data::Batch b;
//     while (loader.next(b)) {
//       b.images;   // Tensor<float> [B, 3, S, S], RGB in 0..1
//       b.targets;  // Tensor<float> [nt, 6]: (index in batch, class, cx, cy, w, h), cx.. in 0..1
//     }
//   }
//   loader.failed_count();                                // images that could not be read
//
// Per image (utils/dataloaders.py LoadImagesAndLabels.__getitem__):
//   load     decode, resize so the long side is imgsz (load_image; bilinear when augmenting or
//            enlarging, area otherwise), optionally kept in the RAM cache;
//   train    with probability hyp.mosaic: mosaic4 of the image and 3 random others, then
//            random_perspective with border -imgsz/2 (and, with probability hyp.mixup, mixup
//            with a second mosaic); otherwise letterbox to imgsz then random_perspective;
//            then HSV, flip up-down, flip left-right;
//   val      letterbox to imgsz (or, with rect, to the batch's shape), no augmentation.
//
// Determinism: the epoch order comes from Rng(seed) split by the epoch, and every sample
// draws from its own Rng split from (seed, epoch, dataset index), so batches are bitwise the
// same whatever the number of workers. Images that cannot be read are skipped, never fatal:
// those found unreadable up front (a header check, or the decode when caching) are left out
// of the epochs; one that fails later is dropped from its batch. failures() lists them all.
#pragma once
#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../core/error.hpp"
#include "../core/image.hpp"
#include "../core/parallel.hpp"
#include "../core/rng.hpp"
#include "../core/tensor.hpp"
#include "augment.hpp"
#include "dataset.hpp"
#include "image_io.hpp"
#include "letterbox.hpp"

namespace yolite::data {

struct LoaderOptions {
  int imgsz = 320;           // network input size (a multiple of stride)
  int batch = 16;
  bool augment = false;      // training augmentation (mosaic, perspective, HSV, flips, mixup)
  AugmentHyp hyp;            // augmentation strengths (hyp.scratch-low defaults)
  int workers = 2;           // background threads (0: build batches in next())
  bool shuffle = false;      // new random order every epoch
  uint64_t seed = 0;
  bool cache_ram = false;    // decode + resize every image once, at construction
  bool rect = false;         // rectangular batches (val): each batch padded to its own shape
  float rect_pad = 0.5f;     // YOLOv5: 0.5 for val, 0 for train
  int stride = 32;
  int prefetch = 0;          // batches built ahead of next(); 0 = 2 per worker
  bool drop_last = false;    // skip a final incomplete batch
  int shard = 0, shards = 1; // build and give only batches number % shards == shard (the
                             // share of one of several processes validating together)
  int slice = 0, slices = 1; // give only images [slice*n/slices, (slice+1)*n/slices) of each
                             // batch of n (one process's part of a data-parallel training
                             // batch; the images are the same as in the whole batch)
  std::filesystem::path root;  // prefix for relative Sample::image_path ("" = as written)
};

struct Batch {
  Tensor<float> images;   // [B, 3, H, W] RGB 0..1 (H = W = imgsz unless rect)
  Tensor<float> targets;  // [nt, 6]: batch index, class, cx, cy, w, h (normalised to H, W)
  std::vector<std::string> paths;
  std::vector<std::array<int, 2>> orig_hw;   // original (height, width)
  std::vector<LetterboxInfo> letterbox;      // original <-> batch image (val; mosaic: identity)
  std::vector<int> indices;                  // dataset sample indices
  int epoch = 0;
  int64_t number = 0;  // batch number in the epoch
  int size() const { return int(paths.size()); }
};

// Runs the enclosing scope's OpenMP regions (e.g. resize()) on the calling thread only.
struct OneOmpThread {
  int saved = max_threads();
  OneOmpThread() { set_threads(1); }
  ~OneOmpThread() { set_threads(saved); }
  OneOmpThread(const OneOmpThread&) = delete;
  OneOmpThread& operator=(const OneOmpThread&) = delete;
};

class Loader {
 public:
  Loader(const Dataset& ds, LoaderOptions o) : opt_(std::move(o)), samples_(ds.samples) {
    YOLITE_CHECK(opt_.imgsz > 0 && opt_.imgsz % opt_.stride == 0, "loader: imgsz ", opt_.imgsz,
                 " must be a positive multiple of the stride ", opt_.stride);
    YOLITE_CHECK(opt_.batch > 0, "loader: batch must be positive, got ", opt_.batch);
    YOLITE_CHECK(opt_.shards >= 1 && opt_.shard >= 0 && opt_.shard < opt_.shards, "loader: shard ", opt_.shard,
                 " of ", opt_.shards, " is not one of them");
    YOLITE_CHECK(opt_.slices >= 1 && opt_.slice >= 0 && opt_.slice < opt_.slices, "loader: slice ", opt_.slice,
                 " of ", opt_.slices, " is not one of them");
    YOLITE_CHECK(opt_.workers >= 0, "loader: workers must be >= 0, got ", opt_.workers);
    YOLITE_CHECK(opt_.rect_pad >= 0, "loader: rect_pad must be >= 0, got ", opt_.rect_pad);
    if (opt_.rect) opt_.shuffle = false;  // rect batches group similar shapes; order is fixed
    mosaic_ok_ = opt_.augment && !opt_.rect;
    const int n = int(samples_.size());
    paths_.resize(size_t(n));
    for (int i = 0; i < n; ++i) {
      std::filesystem::path p(samples_[size_t(i)].image_path);
      if (!opt_.root.empty() && p.is_relative()) p = opt_.root / p;
      paths_[size_t(i)] = p.string();
    }
    YOLITE_CHECK(n > 0, "loader: the data set has no images");
    scan();
    if (valid_.empty()) fail("loader: none of the ", n, " images could be read (first: ", failed_.begin()->second, ")");
    if (opt_.rect) make_rect_shapes();
    const int prefetch = opt_.prefetch > 0 ? opt_.prefetch : 2 * std::max(1, opt_.workers);
    prefetch_ = prefetch;
    for (int w = 0; w < opt_.workers; ++w) threads_.emplace_back([this] { worker_loop(); });
  }

  ~Loader() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_work_.notify_all();
    for (auto& t : threads_) t.join();
  }
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  const LoaderOptions& options() const { return opt_; }
  int64_t size() const { return int64_t(valid_.size()); }  // usable images
  int64_t num_batches() const {
    int64_t n = size();
    return opt_.drop_last ? n / opt_.batch : (n + opt_.batch - 1) / opt_.batch;
  }
  // The batches this loader gives per epoch (num_batches() unless sharded) and the epoch-wide
  // number of the k-th of them.
  int64_t shard_batches() const {
    const int64_t nb = num_batches();
    return nb > opt_.shard ? (nb - opt_.shard + opt_.shards - 1) / opt_.shards : 0;
  }
  int64_t batch_number(int64_t k) const { return opt_.shard + k * opt_.shards; }
  // Images that could not be read so far (each counted once) and why.
  int failed_count() const {
    std::lock_guard<std::mutex> lk(fail_mu_);
    return int(failed_.size());
  }
  std::vector<std::string> failures() const {
    std::lock_guard<std::mutex> lk(fail_mu_);
    std::vector<std::string> out;
    for (auto& [i, why] : failed_) out.push_back(why);
    return out;
  }

  // The dataset indices of an epoch, in batch order.
  std::vector<int> epoch_order(int epoch) const {
    std::vector<int> order = valid_;
    if (opt_.shuffle) {
      Rng r = Rng(opt_.seed).split(0x0e0c000000000000ull + uint64_t(epoch));
      r.shuffle(order.begin(), order.end());
    }
    return order;
  }

  // Begins an epoch: the workers start building its batches (abandoning any unfinished epoch).
  void start_epoch(int epoch) {
    std::lock_guard<std::mutex> lk(mu_);
    ++generation_;
    epoch_ = epoch;
    order_ = epoch_order(epoch);
    next_build_ = 0;
    next_give_ = 0;
    ready_.clear();
    worker_error_ = nullptr;
    started_ = true;
    cv_work_.notify_all();
  }

  // The next batch of the current epoch; false when the epoch is over.
  bool next(Batch& out) {
    std::unique_lock<std::mutex> lk(mu_);
    YOLITE_CHECK(started_, "loader: call start_epoch() before next()");
    if (next_give_ >= shard_batches()) return false;
    const int64_t want = batch_number(next_give_);
    if (threads_.empty()) {
      const int epoch = epoch_;
      std::vector<int> ids = batch_ids(want);
      ++next_give_;
      lk.unlock();
      out = build_batch(epoch, want, ids);
      return true;
    }
    cv_done_.wait(lk, [&] { return ready_.count(want) || worker_error_; });
    if (worker_error_) std::rethrow_exception(worker_error_);  // again on every call: its batch never comes
    out = std::move(ready_[want]);
    ready_.erase(want);
    ++next_give_;
    cv_work_.notify_all();
    return true;
  }

  // Builds batch `number` of `epoch` synchronously (what the workers run). Deterministic.
  Batch batch(int epoch, int64_t number) const {
    YOLITE_CHECK(number >= 0 && number < num_batches(), "loader: batch ", number, " out of range [0, ",
                 num_batches(), ")");
    return build_batch(epoch, number, ids_in(epoch_order(epoch), number));
  }

  // One sample as uint8 HWC + normalised boxes (after all augmentation), for inspection and
  // plotting (YOLOv5's train_batch*.jpg). nullopt when an image could not be read.
  struct Item {
    Image image;
    std::vector<Box> boxes;
    LetterboxInfo info;
    std::array<int, 2> orig_hw{0, 0};
  };
  std::optional<Item> item(int epoch, int index, int out_w, int out_h) const {
    OneOmpThread one;
    Rng rng = Rng(opt_.seed).split(uint64_t(epoch)).split(uint64_t(index));
    return make_item(index, rng, out_w, out_h);
  }

 private:
  struct Loaded {
    Image image;    // resized so the long side is imgsz
    int h0 = 0, w0 = 0;
  };

  // ---- set-up: which images are readable; the RAM cache ----
  void scan() {
    const int n = int(samples_.size());
    std::vector<std::string> err(static_cast<size_t>(n));
    if (opt_.cache_ram) cache_.resize(size_t(n));
    auto check = [&](int64_t i) {
      try {
        if (opt_.cache_ram) {
          cache_[size_t(i)] = decode(int(i));
        } else {
          ImageSize s = image_size(paths_[size_t(i)]);
          if (samples_[size_t(i)].width <= 0 || samples_[size_t(i)].height <= 0)
            samples_[size_t(i)].width = s.w, samples_[size_t(i)].height = s.h;
        }
      } catch (const std::exception& e) {
        err[size_t(i)] = e.what();
      }
    };
    // Spread over the worker count with plain threads (one OpenMP thread each): OpenMP
    // teams inside OpenMP teams crawl when the cores are busy.
    const int nthreads = std::max(1, std::min(opt_.workers, n));
    std::vector<std::thread> pool;
    for (int t = 0; t < nthreads; ++t)
      pool.emplace_back([&, t] {
        OneOmpThread one;
        for (int i = t; i < n; i += nthreads) check(i);
      });
    for (auto& th : pool) th.join();
    for (int i = 0; i < n; ++i) {
      if (err[size_t(i)].empty()) {
        valid_.push_back(i);
        if (opt_.cache_ram) {
          samples_[size_t(i)].width = cache_[size_t(i)].w0;
          samples_[size_t(i)].height = cache_[size_t(i)].h0;
        }
      } else {
        failed_[i] = err[size_t(i)];
      }
    }
  }

  // YOLOv5's rect batches: sort by aspect ratio h/w, each batch shaped to its extreme ratio.
  void make_rect_shapes() {
    std::stable_sort(valid_.begin(), valid_.end(), [&](int a, int b) {
      return aspect(a) < aspect(b);
    });
    const int64_t nb = num_batches();
    rect_shapes_.assign(size_t(nb), {opt_.imgsz, opt_.imgsz});
    for (int64_t bi = 0; bi < nb; ++bi) {
      int64_t lo = bi * opt_.batch, hi = std::min<int64_t>(int64_t(valid_.size()), lo + opt_.batch);
      double mini = 1e30, maxi = 0;
      for (int64_t k = lo; k < hi; ++k) mini = std::min(mini, aspect(valid_[size_t(k)])), maxi = std::max(maxi, aspect(valid_[size_t(k)]));
      double sh = 1, sw = 1;  // shape as fractions of imgsz: (h, w)
      if (maxi < 1) sh = maxi;
      else if (mini > 1) sw = 1 / mini;
      auto side = [&](double f) {
        return int(std::ceil(f * opt_.imgsz / opt_.stride + opt_.rect_pad)) * opt_.stride;
      };
      rect_shapes_[size_t(bi)] = {side(sh), side(sw)};
    }
  }
  double aspect(int i) const {
    const Sample& s = samples_[size_t(i)];
    return s.width > 0 && s.height > 0 ? double(s.height) / s.width : 1.0;
  }

  // load_image: decode, then resize so the long side is imgsz.
  Loaded decode(int i) const {
    Loaded L;
    Image img = load_image(paths_[size_t(i)], 3);
    L.h0 = img.h, L.w0 = img.w;
    const double r = double(opt_.imgsz) / std::max(img.w, img.h);
    if (r != 1.0) {
      int w = std::clamp(int(std::ceil(img.w * r - 1e-6)), 1, opt_.imgsz);
      int h = std::clamp(int(std::ceil(img.h * r - 1e-6)), 1, opt_.imgsz);
      Interp in = (opt_.augment || r > 1) ? Interp::linear : Interp::area;
      img = resize(img, w, h, in);
    }
    L.image = std::move(img);
    return L;
  }

  // The resized image of sample i: from the cache, or decoded now. nullptr + a recorded
  // failure when it cannot be read.
  const Loaded* get(int i, Loaded& scratch) const {
    if (opt_.cache_ram) return &cache_[size_t(i)];
    try {
      scratch = decode(i);
      return &scratch;
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lk(fail_mu_);
      failed_.emplace(i, e.what());
      return nullptr;
    }
  }

  // load_mosaic: the image and 3 random others around a random centre, then
  // random_perspective cutting the 2s canvas back to s.
  bool load_mosaic(int index, Rng& rng, Image& out, std::vector<PixelBox>& boxes) const {
    const int s = opt_.imgsz;
    std::array<int, 4> ids{index, 0, 0, 0};
    for (int k = 1; k < 4; ++k) ids[size_t(k)] = valid_[rng.below(uint32_t(valid_.size()))];
    rng.shuffle(ids.begin(), ids.end());
    std::array<Loaded, 4> scratch;
    std::array<MosaicTile, 4> tiles;
    for (int k = 0; k < 4; ++k) {
      const Loaded* L = get(ids[size_t(k)], scratch[size_t(k)]);
      if (!L) return false;
      tiles[size_t(k)] = {&L->image, &samples_[size_t(ids[size_t(k)])].boxes, nullptr};
    }
    boxes.clear();
    Image canvas = mosaic4(tiles, s, rng, boxes);
    out = random_perspective(canvas, boxes, rng, opt_.hyp, -s / 2);
    return true;
  }

  std::optional<Item> make_item(int index, Rng& rng, int out_w, int out_h) const {
    Item it;
    const Sample& smp = samples_[size_t(index)];
    it.orig_hw = {smp.height, smp.width};
    std::vector<PixelBox> boxes;
    Image img;
    if (mosaic_ok_ && rng.bernoulli(opt_.hyp.mosaic)) {
      if (!load_mosaic(index, rng, img, boxes)) return std::nullopt;
      if (rng.bernoulli(opt_.hyp.mixup)) {
        Image img2;
        std::vector<PixelBox> boxes2;
        const int other = valid_[rng.below(uint32_t(valid_.size()))];
        if (!load_mosaic(other, rng, img2, boxes2)) return std::nullopt;
        mixup(img, boxes, img2, boxes2, rng);
      }
      // The mosaic has no single original: identity geometry of the output.
      it.info = letterbox_info(img.w, img.h, img.w, img.h);
    } else {
      Loaded scratch;
      const Loaded* L = get(index, scratch);
      if (!L) return std::nullopt;
      it.orig_hw = {L->h0, L->w0};
      LetterboxOptions lo;
      lo.scaleup = opt_.augment;
      Letterboxed lb = letterbox(L->image, out_w, out_h, lo);
      img = std::move(lb.image);
      // Boxes straight from the normalised labels onto the placed content.
      boxes = to_pixel_boxes(smp.boxes, float(lb.info.new_w), float(lb.info.new_h), float(lb.info.pad_x),
                             float(lb.info.pad_y));
      // Geometry relative to the original file: compose load_image's resize and the letterbox.
      it.info = lb.info;
      it.info.orig_w = L->w0, it.info.orig_h = L->h0;
      it.info.sx = double(lb.info.new_w) / L->w0, it.info.sy = double(lb.info.new_h) / L->h0;
      it.info.gain = float(lb.info.gain * double(L->image.w) / L->w0);
      if (opt_.augment) img = random_perspective(img, boxes, rng, opt_.hyp, 0);
    }
    it.boxes = to_normalized_boxes(boxes, img.w, img.h);
    if (opt_.augment) {
      augment_hsv(img, rng, opt_.hyp.hsv_h, opt_.hyp.hsv_s, opt_.hyp.hsv_v);
      if (rng.bernoulli(opt_.hyp.flipud)) flip_ud(img, it.boxes);
      if (rng.bernoulli(opt_.hyp.fliplr)) flip_lr(img, it.boxes);
    }
    it.image = std::move(img);
    return it;
  }

  std::vector<int> batch_ids(int64_t number) const { return ids_in(order_, number); }  // with mu_ held
  // The dataset indices of batch `number` in an epoch's order: this process's slice of them
  // (all of them by default).
  std::vector<int> ids_in(const std::vector<int>& order, int64_t number) const {
    int64_t lo = number * opt_.batch, hi = std::min<int64_t>(int64_t(order.size()), lo + opt_.batch);
    const int64_t n = hi - lo;
    hi = lo + n * (opt_.slice + 1) / opt_.slices;
    lo = lo + n * opt_.slice / opt_.slices;
    return std::vector<int>(order.begin() + lo, order.begin() + hi);
  }

  Batch build_batch(int epoch, int64_t number, const std::vector<int>& ids) const {
    OneOmpThread one;  // the parallelism is the workers; no OpenMP team per sample
    int H = opt_.imgsz, W = opt_.imgsz;
    if (opt_.rect) H = rect_shapes_[size_t(number)][0], W = rect_shapes_[size_t(number)][1];
    const Rng epoch_rng = Rng(opt_.seed).split(uint64_t(epoch));
    std::vector<Item> items;
    Batch b;
    b.epoch = epoch;
    b.number = number;
    for (int idx : ids) {
      Rng rng = epoch_rng.split(uint64_t(idx));
      std::optional<Item> it = make_item(idx, rng, W, H);
      if (!it) continue;  // unreadable: skipped, recorded in failures()
      b.paths.push_back(paths_[size_t(idx)]);
      b.orig_hw.push_back(it->orig_hw);
      b.letterbox.push_back(it->info);
      b.indices.push_back(idx);
      items.push_back(std::move(*it));
    }
    const int B = int(items.size());
    size_t nt = 0;
    for (auto& it : items) nt += it.boxes.size();
    b.images = Tensor<float>({B, 3, H, W});
    b.targets = Tensor<float>({int64_t(nt), 6});
    float* t = b.targets.data();
    const size_t plane = size_t(H) * W;
    for (int i = 0; i < B; ++i) {
      const Image& im = items[size_t(i)].image;
      YOLITE_CHECK(im.w == W && im.h == H && im.c == 3, "loader: internal size mismatch for ",
                   b.paths[size_t(i)]);
      float* dst = b.images.data() + size_t(i) * 3 * plane;
      const uint8_t* src = im.px.data();
      constexpr float k = 1.f / 255.f;
      for (size_t p = 0; p < plane; ++p) {
        dst[p] = src[3 * p] * k;
        dst[plane + p] = src[3 * p + 1] * k;
        dst[2 * plane + p] = src[3 * p + 2] * k;
      }
      for (const Box& bx : items[size_t(i)].boxes) {
        t[0] = float(i), t[1] = float(bx.cls), t[2] = bx.cx, t[3] = bx.cy, t[4] = bx.w, t[5] = bx.h;
        t += 6;
      }
    }
    return b;
  }

  // ---- the background workers ----
  void worker_loop() {
    for (;;) {
      int64_t number;
      int epoch;
      uint64_t gen;
      std::vector<int> ids;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_work_.wait(lk, [&] {
          return stop_ || (started_ && next_build_ < shard_batches() && next_build_ < next_give_ + prefetch_);
        });
        if (stop_) return;
        number = batch_number(next_build_++);
        epoch = epoch_;
        gen = generation_;
        ids = batch_ids(number);
      }
      Batch b;
      std::exception_ptr err;
      try {
        b = build_batch(epoch, number, ids);
      } catch (...) {
        err = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lk(mu_);
        if (gen != generation_) continue;  // an abandoned epoch
        if (err) worker_error_ = err;
        else ready_[number] = std::move(b);
      }
      cv_done_.notify_all();
    }
  }

  LoaderOptions opt_;
  std::vector<Sample> samples_;
  std::vector<std::string> paths_;
  std::vector<int> valid_;                      // readable sample indices (rect: sorted by aspect)
  std::vector<Loaded> cache_;                   // cache_ram: resized images
  std::vector<std::array<int, 2>> rect_shapes_; // rect: (H, W) per batch
  bool mosaic_ok_ = false;
  int prefetch_ = 2;

  mutable std::mutex fail_mu_;
  mutable std::map<int, std::string> failed_;

  std::mutex mu_;
  std::condition_variable cv_work_, cv_done_;
  std::vector<std::thread> threads_;
  bool stop_ = false, started_ = false;
  uint64_t generation_ = 0;
  int epoch_ = 0;
  std::vector<int> order_;
  int64_t next_build_ = 0, next_give_ = 0;
  std::map<int64_t, Batch> ready_;
  std::exception_ptr worker_error_;
};

}  // namespace yolite::data
