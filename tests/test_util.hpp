// tests/test_util.hpp -- small helpers shared by the test suites.
#pragma once
#include <filesystem>
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include <yolite/core/error.hpp>
#include <yolite/core/parallel.hpp>

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

// Bitwise equality of two float arrays.
inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// f() run twice with the current thread count, then once with one thread (for determinism
// tests: all three results must be bitwise equal).
template <class F>
auto repeat_and_single_thread(F&& f) {
  auto a = f();
  auto b = f();
  const int saved = max_threads();
  set_threads(1);
  auto s = f();
  set_threads(saved);
  return std::array<decltype(a), 3>{std::move(a), std::move(b), std::move(s)};
}

inline bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace yolite::testing
