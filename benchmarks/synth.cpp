// bench_synth -- how fast the bottle renderer makes a data set.
//
// Renders N images at 300x300 and at 512x512 (random built-in classes, 1..3 bottles each,
// everything the data set writer does per image: scene, background, rasterisation, effects,
// annotations and JPEG encoding) over all OpenMP threads, and reports images/s (wall clock)
// and the CPU time per image -- with `yolite synth`'s defaults (every realism knob on, printed
// labels in the system's DejaVu fonts) and with the plain renderer (`--plain`). Targets on the
// 2-core reference machine, defaults: >= 100 images/s at 300x300 and >= 40 images/s at 512x512.
// Then the whole writer (files + json) for a small set, defaults.
//
//   bench_synth [images per size, default 200]
#include <malloc.h>
#include <stb_image_write.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <string>
#include <unistd.h>

#include <yolite/core/parallel.hpp>
#include <yolite/synth/dataset_writer.hpp>

using namespace yolite;

static double cpu_seconds() { return double(std::clock()) / CLOCKS_PER_SEC; }

static void append(void* ctx, void* data, int size) {
  static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), size_t(size));
}

int main(int argc, char** argv) {
  // as `yolite synth` does: frame buffers stay in the heap instead of being mapped per image
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  int n = argc > 1 ? std::atoi(argv[1]) : 200;
  if (n < 1) n = 200;
  auto classes = synth::builtin_classes();
  std::printf("bench_synth: %d images per size, %d threads\n", n, max_threads());
  synth::SceneOptions realistic = synth::realistic_scene_options();
  if (auto dir = synth::default_font_dir(); !dir.empty()) {
    realistic.fonts = synth::load_fonts(dir);
  } else {
    std::printf("  (no system fonts: printed labels off; install fonts-dejavu-core)\n");
    realistic.text_label_probability = 0;
  }
  for (const bool plain : {false, true})
  for (int side : {300, 512}) {
    synth::SceneOptions so = plain ? synth::SceneOptions{} : realistic;
    std::vector<size_t> bytes(static_cast<size_t>(n));
    auto t0 = std::chrono::steady_clock::now();
    double c0 = cpu_seconds();
    parallel_for(0, n, [&](int64_t i) {
      Rng rng = Rng(123).split(uint64_t(i));
      int cls = int(i % 5);
      std::vector<int> objs(size_t(rng.randint(1, 3)), cls);
      synth::Scene s = synth::sample_scene(classes, objs, side, side, so, rng);
      synth::Rendered r = synth::render_scene(s);
      std::string jpg;
      stbi_write_jpg_to_func(append, &jpg, r.image.w, r.image.h, 3, r.image.px.data(), r.jpeg_quality);
      bytes[size_t(i)] = jpg.size();
    });
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double cpu = cpu_seconds() - c0;
    size_t total = 0;
    for (auto b : bytes) total += b;
    std::printf("  %-8s %dx%d: %7.1f images/s wall, %6.2f ms CPU per image, %.0f KB per JPEG", plain ? "plain" : "defaults",
                side, side, n / wall, 1e3 * cpu / n, double(total) / n / 1024.0);
    if (plain) std::printf("\n");
    else std::printf(" (target %d images/s)\n", side == 300 ? 100 : 40);
  }
  // The writer end to end (files on disk + json), 5 classes x n/5 images at their default sizes.
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("yolite_bench_synth_" + std::to_string(::getpid()));
  synth::SynthOptions o;
  o.out = dir;
  o.per_class = std::max(1, n / 5);
  o.test_image = false;
  o.scene = realistic;
  auto sum = synth::write_dataset(classes, o);
  std::printf("  write_dataset: %d images (mixed 512/300) + json in %.2f s = %.1f images/s\n", sum.images,
              sum.seconds, sum.images / sum.seconds);
  std::error_code ec;
  fs::remove_all(dir, ec);
  return 0;
}
