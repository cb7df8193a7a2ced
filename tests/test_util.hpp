// tests/test_util.hpp -- small helpers shared by the test suites.
#pragma once
#include <filesystem>
#include <string>

#include <yolite/core/error.hpp>

namespace yolite::testing {

// An empty scratch folder under the build tree (removed and re-created on each call).
inline std::filesystem::path fresh_dir(const std::string& name) {
  std::filesystem::path d = std::filesystem::path(YOLITE_BINARY_DIR) / "tmp_tests_data" / name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

// The message of the yolite::Error that f() throws ("" when it throws none).
inline std::string error_of(auto&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

inline bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace yolite::testing
