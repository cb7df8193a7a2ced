// Helpers shared by the io tests: a private scratch folder and small file utilities.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <yolite/core/error.hpp>

namespace iotest {

inline std::string shared(const std::string& rel) { return std::string(YOLITE_SHARED_DIR) + "/" + rel; }

// A fresh folder under the build tree, removed when the test ends.
struct TempDir {
  std::filesystem::path dir;
  explicit TempDir(const std::string& tag) {
    dir = std::filesystem::path(YOLITE_BINARY_DIR) / "tests_io_tmp" /
          (tag + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::string operator/(const std::string& name) const { return (dir / name).string(); }
};

inline std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
inline void spit(const std::string& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

// Runs f() and returns the yolite::Error message ("" when nothing was thrown).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const yolite::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace iotest
