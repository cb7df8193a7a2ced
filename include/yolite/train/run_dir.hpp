// train/run_dir.hpp -- where a run writes: runs/train/NAME, NAME2, NAME3, ... (YOLOv5's
// increment_path). With exist_ok the folder NAME is reused as it is.
#pragma once
#include <filesystem>
#include <string>

#include "../core/error.hpp"

namespace yolite::train {

inline std::filesystem::path increment_path(const std::filesystem::path& path, bool exist_ok) {
  namespace fs = std::filesystem;
  if (exist_ok || !fs::exists(path)) return path;
  for (int n = 2; n < 100000; ++n) {
    fs::path p = path.string() + std::to_string(n);
    if (!fs::exists(p)) return p;
  }
  fail("increment_path: no free name for ", path.string());
}

// Creates project/name (incremented unless exist_ok) and returns it.
inline std::filesystem::path make_run_dir(const std::string& project, const std::string& name,
                                          bool exist_ok) {
  namespace fs = std::filesystem;
  YOLITE_CHECK(!name.empty(), "--name must not be empty");
  fs::path dir = increment_path(fs::path(project) / name, exist_ok);
  std::error_code ec;
  fs::create_directories(dir, ec);
  YOLITE_CHECK(!ec, "cannot create run folder ", dir.string(), ": ", ec.message());
  return dir;
}

}  // namespace yolite::train
