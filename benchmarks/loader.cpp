// bench_loader -- images/s of the training loader (mosaic + perspective + HSV + flips at 320,
// RAM cache) with 1 and 2 workers, plus the cost of each augmentation step on its own.
//
//   bench_loader [batches=40] [imgsz=320]
//
// Builds a synthetic data set in a temporary folder: 64 JPEGs, half 512x512 and half 300x300
// (the tutorial's two sizes), each with a few coloured boxes, then removes it.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <unistd.h>

#include <yolite/core/rng.hpp>
#include <yolite/data/augment.hpp>
#include <yolite/data/image_io.hpp>
#include <yolite/data/loader.hpp>

using namespace yolite;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

static double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// CPU seconds used by the whole process (all threads): on a shared, busy machine the wall
// clock says little, CPU time says what the code costs.
static double process_cpu() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}
static double thread_cpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

int main(int argc, char** argv) {
  const int batches = argc > 1 ? std::atoi(argv[1]) : 40;
  const int imgsz = argc > 2 ? std::atoi(argv[2]) : 320;
  const fs::path dir = fs::temp_directory_path() / str("yolite_bench_loader_", ::getpid());
  fs::create_directories(dir);
  data::Dataset ds;
  ds.names = {"a", "b", "c", "d", "e"};
  Rng rng(0);
  for (int i = 0; i < 64; ++i) {
    const int s = i % 2 ? 512 : 300;
    Image img(s, s, 3);
    for (int y = 0; y < s; ++y)  // a smooth background (like a photo, unlike noise)
      for (int x = 0; x < s; ++x) {
        uint8_t* p = img.at(x, y);
        p[0] = uint8_t((x * 255) / s), p[1] = uint8_t((y * 255) / s), p[2] = uint8_t(((x + y) * 127) / s);
      }
    data::Sample smp;
    smp.image_path = (dir / str("img", i, ".jpg")).string();
    const int nb = rng.randint(1, 4);
    for (int k = 0; k < nb; ++k) {
      int w = rng.randint(s / 8, s / 2), h = rng.randint(s / 8, s / 2);
      int x1 = rng.randint(0, s - w), y1 = rng.randint(0, s - h);
      uint8_t col[3] = {uint8_t(rng.below(256)), uint8_t(rng.below(256)), uint8_t(rng.below(256))};
      for (int y = y1; y < y1 + h; ++y)
        for (int x = x1; x < x1 + w; ++x)
          for (int c = 0; c < 3; ++c) img.at(x, y)[c] = col[c];
      smp.boxes.push_back({int(rng.below(5)), (x1 + w / 2.f) / s, (y1 + h / 2.f) / s, float(w) / s, float(h) / s});
    }
    data::save_image(smp.image_path, img, 90);
    ds.samples.push_back(smp);
  }
  std::printf("synthetic set: 64 JPEGs (512x512 and 300x300) in %s\n", dir.string().c_str());

  // ---- each step alone, on one thread ----
  {
    data::AugmentHyp hyp;
    std::vector<Image> tiles;
    std::vector<std::vector<data::Box>> boxes;
    for (int i = 0; i < 4; ++i) {
      tiles.push_back(data::resize(data::load_image(ds.samples[size_t(i)].image_path), imgsz, imgsz));
      boxes.push_back(ds.samples[size_t(i)].boxes);
    }
    const int reps = 50;
    double t_mosaic = 0, t_warp = 0, t_hsv = 0, t_flip = 0;
    for (int r = 0; r < reps; ++r) {
      Rng g(static_cast<uint64_t>(r));
      std::vector<data::PixelBox> pb;
      double t0 = thread_cpu();
      Image m = data::mosaic4({data::MosaicTile{&tiles[0], &boxes[0]}, {&tiles[1], &boxes[1]},
                               {&tiles[2], &boxes[2]}, {&tiles[3], &boxes[3]}},
                              imgsz, g, pb);
      t_mosaic += thread_cpu() - t0;
      t0 = thread_cpu();
      Image a = data::random_perspective(m, pb, g, hyp, -imgsz / 2);
      t_warp += thread_cpu() - t0;
      t0 = thread_cpu();
      data::augment_hsv(a, g, hyp.hsv_h, hyp.hsv_s, hyp.hsv_v);
      t_hsv += thread_cpu() - t0;
      auto nb = data::to_normalized_boxes(pb, a.w, a.h);
      t0 = thread_cpu();
      data::flip_lr(a, nb);
      t_flip += thread_cpu() - t0;
    }
    std::printf("CPU per sample at %d: mosaic4 %.2f ms, random_perspective %.2f ms, augment_hsv %.2f ms, flip_lr %.2f ms\n",
                imgsz, 1e3 * t_mosaic / reps, 1e3 * t_warp / reps, 1e3 * t_hsv / reps, 1e3 * t_flip / reps);
  }

  // ---- the loader ----
  for (int workers : {1, 2}) {
    data::LoaderOptions o;
    o.imgsz = imgsz, o.batch = 16, o.augment = true, o.shuffle = true, o.seed = 1;
    o.workers = workers, o.cache_ram = true;
    auto t0 = Clock::now();
    data::Loader loader(ds, o);
    const double t_cache = seconds_since(t0);
    int images = 0, done = 0, epoch = 0;
    t0 = Clock::now();
    const double c0 = process_cpu();
    while (done < batches) {
      loader.start_epoch(epoch++);
      data::Batch b;
      while (done < batches && loader.next(b)) images += b.size(), ++done;
    }
    const double t = seconds_since(t0), cpu = process_cpu() - c0;
    std::printf("loader mosaic %d, batch 16, workers %d: %d images in %.2f s = %.0f images/s; "
                "%.2f CPU s = %.0f images per CPU second (cache fill %.2f s)\n",
                imgsz, workers, images, t, images / t, cpu, images / cpu, t_cache);
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}
