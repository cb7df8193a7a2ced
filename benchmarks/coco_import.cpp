// bench_coco_import -- how fast the streaming COCO reader imports a large instances json.
//
//   bench_coco_import [images=25000] [runs=7]
//
// Generates a COCO file of N images (640x480, ~2 random boxes each, 80 categories, with
// segmentation polygons and an info block to skip, like real exports) in a temporary folder,
// then times data::read_coco (parse + validation) and data::coco_to_dataset, printing the
// median of several runs. Target: well under 0.5 s for 25,000 images in Release.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <yolite/core/rng.hpp>
#include <yolite/data/coco.hpp>
#include <yolite/data/fs.hpp>

namespace fs = std::filesystem;
using namespace yolite;

int main(int argc, char** argv) {
  int n_images = argc > 1 ? std::atoi(argv[1]) : 25000;
  int runs = argc > 2 ? std::atoi(argv[2]) : 7;
  if (n_images <= 0 || runs <= 0) {
    std::fprintf(stderr, "usage: bench_coco_import [images>0] [runs>0]\n");
    return 2;
  }
  fs::path dir = fs::temp_directory_path() / "yolite_bench_coco_import";
  fs::create_directories(dir);
  fs::path file = dir / "instances.json";

  // Written by hand (not through a DOM) so generation stays quick; shortest-exact numbers.
  Rng rng(12345);
  std::string s = R"({"info": {"description": "bench", "year": 2024}, "licenses": [{"id": 1, "name": "x"}], "images": [)";
  for (int i = 0; i < n_images; ++i)
    s += str(i ? "," : "", "\n{\"id\": ", i, ", \"file_name\": \"", 100000000 + i,
             ".jpg\", \"width\": 640, \"height\": 480, \"license\": 1}");
  s += "],\n\"annotations\": [";
  int ann = 0;
  for (int i = 0; i < n_images; ++i) {
    int k = 1 + int(rng.below(3));  // 1..3 boxes, ~2 on average
    for (int j = 0; j < k; ++j) {
      double w = 10 + rng.uniform() * 200, h = 10 + rng.uniform() * 200;
      double x = rng.uniform() * (640 - w), y = rng.uniform() * (480 - h);
      s += str(ann ? "," : "", "\n{\"id\": ", ann + 1, ", \"image_id\": ", i, ", \"category_id\": ", 1 + rng.below(80),
               ", \"bbox\": [", x, ", ", y, ", ", w, ", ", h, "], \"area\": ", w * h,
               ", \"iscrowd\": 0, \"segmentation\": [[", x, ", ", y, ", ", x + w, ", ", y, ", ", x + w, ", ", y + h,
               ", ", x, ", ", y + h, "]]}");
      ++ann;
    }
  }
  s += "],\n\"categories\": [";
  for (int c = 1; c <= 80; ++c) s += str(c > 1 ? "," : "", "{\"id\": ", c, ", \"name\": \"class", c, "\", \"supercategory\": \"thing\"}");
  s += "]}\n";
  data::write_file_atomic(file, s);
  std::printf("COCO file: %d images, %d annotations, %.1f MB\n", n_images, ann, double(s.size()) / 1e6);

  // Wall time and this process's CPU time: on a busy machine the CPU time is the fair number.
  auto cpu_now = [] {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
  };
  std::vector<double> t_read, t_conv, c_read;
  size_t boxes = 0;
  for (int r = 0; r < runs; ++r) {
    double c0 = cpu_now();
    auto t0 = std::chrono::steady_clock::now();
    data::Coco c = data::read_coco(file);
    auto t1 = std::chrono::steady_clock::now();
    c_read.push_back(cpu_now() - c0);
    data::Dataset ds = data::coco_to_dataset(c);
    auto t2 = std::chrono::steady_clock::now();
    t_read.push_back(std::chrono::duration<double>(t1 - t0).count());
    t_conv.push_back(std::chrono::duration<double>(t2 - t1).count());
    boxes = 0;
    for (auto& smp : ds.samples) boxes += smp.boxes.size();
    if (c.images.size() != size_t(n_images) || boxes != size_t(ann)) {
      std::fprintf(stderr, "wrong counts: %zu images, %zu boxes\n", c.images.size(), boxes);
      return 1;
    }
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  double mr = median(t_read), mc = median(t_conv), cr = median(c_read);
  std::printf("read_coco (parse + validate): median %.3f s over %d runs (%.0f MB/s), CPU time %.3f s\n", mr, runs,
              double(s.size()) / 1e6 / mr, cr);
  std::printf("coco_to_dataset:              median %.3f s\n", mc);
  std::printf("total:                        median %.3f s  (target < 0.5 s) %s\n", mr + mc,
              mr + mc < 0.5 ? "OK" : "SLOW");
  fs::remove_all(dir);
  return 0;
}
