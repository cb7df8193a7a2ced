// tests/fuzz/fuzz_util.hpp -- shared helpers of the libFuzzer targets (tests/fuzz/fuzz_*.cpp).
//
// Each target defines LLVMFuzzerTestOneInput and hands the fuzzer's bytes to one yolite parser.
// A clean rejection is a yolite::Error, which the target swallows (YOLITE_FUZZ_EXPECT_ERRORS);
// any other exception escapes and aborts, so libFuzzer reports it as a crash -- every failure a
// user can cause must be a yolite::Error. Readers that take a path get the bytes through a
// scratch file (one per process, in $TMPDIR or /tmp), so the real file-reading code is fuzzed.
//
//   extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
//     std::string path = yolite_fuzz::write_scratch(data, size, ".json");
//     YOLITE_FUZZ_EXPECT_ERRORS(yolite::data::read_coco(path));
//     return 0;
//   }
//
// Build and run all of them: tests/fuzz/run.sh SECONDS.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include <yolite/core/error.hpp>

namespace yolite_fuzz {

// Writes the input to this process's scratch file with the given extension; returns its path.
inline std::string write_scratch(const uint8_t* data, size_t size, const std::string& ext) {
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = tmp && *tmp ? tmp : "/tmp";
  std::string path = dir + "/yolite_fuzz_" + std::to_string(::getpid()) + ext;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace yolite_fuzz

// Runs the statement; a yolite::Error is the expected outcome for a bad input and is dropped.
#define YOLITE_FUZZ_EXPECT_ERRORS(...) \
  do {                                 \
    try {                              \
      __VA_ARGS__;                     \
    } catch (const ::yolite::Error&) { \
    }                                  \
  } while (0)
