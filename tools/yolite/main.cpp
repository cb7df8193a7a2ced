// yolite -- one program, one subcommand per pipeline step:
//   yolite synth | stats | coco2yolo | split | show | train | val | detect | forward ...
// `yolite` alone, `yolite help` or `yolite --help` lists them; `yolite CMD --help` explains one.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include <yolite/core/error.hpp>

#include "command.hpp"

static void usage() {
  std::printf("usage: yolite <command> [options]   (yolite <command> --help for its flags)\n\n");
  for (auto& [name, cmd] : yolite::cli::commands())
    std::printf("  %-11s %s\n", name.c_str(), cmd.help.c_str());
}

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "help") || !std::strcmp(argv[1], "--help") ||
      !std::strcmp(argv[1], "-h")) {
    usage();
    return argc < 2 ? 2 : 0;
  }
  auto& table = yolite::cli::commands();
  auto it = table.find(argv[1]);
  if (it == table.end()) {
    std::fprintf(stderr, "yolite: unknown command '%s'\n", argv[1]);
    usage();
    return 2;
  }
  try {
    return it->second.run(argc - 1, argv + 1);
  } catch (const yolite::Error& e) {
    std::fprintf(stderr, "yolite %s: error: %s\n", argv[1], e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "yolite %s: error: out of memory\n", argv[1]);
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "yolite %s: error: %s\n", argv[1], e.what());
    return 1;
  }
}
