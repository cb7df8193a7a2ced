// yolite -- one program, one subcommand per pipeline step:
//   yolite synth | stats | coco2yolo | split | show | train | val | detect | forward ...
// `yolite` alone, `yolite help` or `yolite --help` lists them; `yolite CMD --help` explains one;
// `yolite --version` prints the version and how this binary was built.
#include <omp.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include <yolite/core/cpu.hpp>
#include <yolite/core/error.hpp>
#include <yolite/version.hpp>

#include "command.hpp"
#include "ranks.hpp"

// Before any other static initialiser (the command table's among them): a binary compiled for
// AVX-512 on a CPU without it says so instead of dying with SIGILL.
[[gnu::constructor(101)]] YOLITE_CPU_BASELINE static void yolite_check_cpu() { yolite::cpu::check_or_exit("yolite"); }

static void version() {
  std::printf("yolite %s\n", YOLITE_VERSION);
#if defined(__clang__)
  std::printf("compiler: clang %d.%d.%d, C++ %ld\n", __clang_major__, __clang_minor__, __clang_patchlevel__, long(__cplusplus));
#elif defined(__GNUC__)
  std::printf("compiler: GCC %d.%d.%d, C++ %ld\n", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__, long(__cplusplus));
#endif
  std::printf("SIMD: %s (compiled for; this CPU has it)\n", yolite::cpu::simd_level());
  std::printf("OpenMP: %d threads (OMP_NUM_THREADS to change)\n", omp_get_max_threads());
#if defined(YOLITE_HAVE_VIDEO)
  std::printf("Video: on (FFmpeg's libraries)\n");
#else
  std::printf("Video: off (install libavformat-dev libavcodec-dev libswscale-dev libavdevice-dev and rebuild)\n");
#endif
#if defined(YOLITE_HAVE_MPI)
  std::printf("MPI: on (mpirun -np N yolite synth|val)\n");
#else
  std::printf("MPI: off (install libopenmpi-dev openmpi-bin and rebuild)\n");
#endif
#if defined(YOLITE_CUDA)
  std::printf("CUDA: on\n");
#else
  std::printf("CUDA: off (configure with -DYOLITE_CUDA=ON)\n");
#endif
}

static void usage() {
  std::printf("usage: yolite <command> [options]   (yolite <command> --help for its flags)\n\n");
  for (auto& [name, cmd] : yolite::cli::commands())
    std::printf("  %-11s %s\n", name.c_str(), cmd.help.c_str());
}

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "help") || !std::strcmp(argv[1], "--help") ||
      !std::strcmp(argv[1], "-h")) {
    usage();
    std::printf("\n  yolite --version   the version, compiler, SIMD level, threads, CUDA\n");
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version") || !std::strcmp(argv[1], "version")) {
    version();
    return 0;
  }
  auto& table = yolite::cli::commands();
  auto it = table.find(argv[1]);
  if (it == table.end()) {
    std::fprintf(stderr, "yolite: unknown command '%s'\n", argv[1]);
    usage();
    return 2;
  }
  // An error ends this process with one line; as one of several MPI ranks, the whole job.
  auto fail = [&](const std::string& what) {
    const std::string line = std::string("yolite ") + argv[1] + ": error: " + what;
    yolite::cli::stop_job_on_error(line);
    std::fprintf(stderr, "%s\n", line.c_str());
    return 1;
  };
  try {
    if (auto* world = yolite::cli::ranks(); world && world->size() > 1 && !it->second.ranked)
      return fail(std::string("runs as one process; of the commands only ") +
                  "synth, val and train share their work over MPI ranks (start it without mpirun)");
    return it->second.run(argc - 1, argv + 1);
  } catch (const std::bad_alloc&) {
    return fail("out of memory");
  } catch (const std::exception& e) {
    return fail(e.what());
  }
}
