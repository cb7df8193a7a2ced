// data/fs.hpp -- small file-system helpers that never leave a half-written file behind.
//
//   std::string text = data::read_file("labels/a.txt");          // throws naming the file
//   data::write_file_atomic("out/a.txt", text);                   // temp name, then rename
//   data::StagingDir stage("runs/split");                        // build a tree beside "out"...
//   data::write_file_atomic(stage.path() / "x.txt", "...");
//   stage.commit();                                               // ...then move it into place
//
// Every file yolite writes goes to a temporary name in the same folder and is renamed over
// the final name only once it is complete: a reader (or a crash) never sees half a file.
// StagingDir extends that to a whole folder tree (split, coco2yolo): nothing appears in the
// output until everything has been written; if the work throws, the staging folder is removed.
#pragma once
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "../core/error.hpp"
#include "../io/file.hpp"

namespace yolite::data {

namespace stdfs = std::filesystem;

using io::temp_sibling;

// Whole file as a string; throws naming the file when it is missing or unreadable.
inline std::string read_file(const stdfs::path& p) { return io::read_file_bytes(p.string()); }

// Creates `dir` and its parents; throws naming the folder on failure.
inline void make_dirs(const stdfs::path& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  stdfs::create_directories(dir, ec);
  if (ec || !stdfs::is_directory(dir)) fail(dir.string(), ": cannot create folder (", ec.message(), ")");
}

// Writes `bytes` to `p` through a temporary sibling + rename (io::AtomicWriter, without the
// fsync: data sets are thousands of small files). Creates missing parent folders.
inline void write_file_atomic(const stdfs::path& p, std::string_view bytes) {
  io::AtomicWriter w(p.string(), io::AtomicWriter::Sync::none);
  w.write(bytes);
  w.commit();
}

// How a file reaches its new place: a fresh copy, a hard link (same bytes, no extra space;
// falls back to a copy across file systems) or a move (the source disappears).
enum class TransferMode { copy, link, move };

inline TransferMode parse_transfer_mode(std::string_view s) {
  if (s == "copy") return TransferMode::copy;
  if (s == "link") return TransferMode::link;
  if (s == "move") return TransferMode::move;
  fail("--mode: expected copy, link or move, got '", s, "'");
}

// Places `src` at `dst` (through a temporary name). For `move` this only links/copies: the
// caller removes the sources once everything has been placed (see split.hpp), so a failure
// halfway never loses a file.
inline void place_file(const stdfs::path& src, const stdfs::path& dst, TransferMode mode) {
  make_dirs(dst.parent_path());
  auto tmp = temp_sibling(dst);
  std::error_code ec;
  bool done = false;
  if (mode != TransferMode::copy) {
    stdfs::create_hard_link(src, tmp, ec);
    done = !ec;
  }
  if (!done) {
    ec.clear();
    stdfs::copy_file(src, tmp, stdfs::copy_options::overwrite_existing, ec);
    if (ec) {
      std::error_code ec2;
      stdfs::remove(tmp, ec2);
      fail(src.string(), ": cannot copy to ", dst.string(), " (", ec.message(), ")");
    }
  }
  stdfs::rename(tmp, dst, ec);
  if (ec) {
    std::error_code ec2;
    stdfs::remove(tmp, ec2);
    fail(dst.string(), ": cannot rename temporary file into place (", ec.message(), ")");
  }
}

// True when `dir` does not exist or is an empty folder.
inline bool empty_or_missing(const stdfs::path& dir) {
  std::error_code ec;
  if (!stdfs::exists(dir, ec)) return true;
  if (!stdfs::is_directory(dir, ec)) return false;
  return stdfs::directory_iterator(dir, ec) == stdfs::directory_iterator();
}

// A temporary folder beside `final_dir` in which a whole output tree is built. commit() moves
// every file of it to the same relative place under final_dir (creating folders, replacing
// files of the same name) and removes the staging folder; without commit() (an exception) the
// destructor removes it, so the output is left as it was.
class StagingDir {
 public:
  explicit StagingDir(const stdfs::path& final_dir) : final_(final_dir) {
    auto abs = stdfs::absolute(final_dir).lexically_normal();
    if (abs.filename().empty()) abs = abs.parent_path();
    final_ = abs;
    make_dirs(abs.parent_path());
    stage_ = temp_sibling(abs);
    make_dirs(stage_);
  }
  StagingDir(const StagingDir&) = delete;
  StagingDir& operator=(const StagingDir&) = delete;
  ~StagingDir() {
    std::error_code ec;
    if (!stage_.empty()) stdfs::remove_all(stage_, ec);
  }
  const stdfs::path& path() const { return stage_; }
  const stdfs::path& final_path() const { return final_; }

  void commit() {
    std::error_code ec;
    if (!stdfs::exists(final_, ec)) {  // the common case: one rename publishes everything
      stdfs::rename(stage_, final_, ec);
      if (!ec) {
        stage_.clear();
        return;
      }
    }
    make_dirs(final_);
    std::vector<stdfs::path> entries;  // listed first: the loop below empties the folders
    for (auto& e : stdfs::recursive_directory_iterator(stage_)) entries.push_back(e.path());
    for (auto& src : entries) {
      auto dst = final_ / stdfs::relative(src, stage_);
      if (stdfs::is_directory(src)) {
        make_dirs(dst);
      } else {
        stdfs::rename(src, dst, ec);
        if (ec) fail(dst.string(), ": cannot move into place (", ec.message(), ")");
      }
    }
    stdfs::remove_all(stage_, ec);
    stage_.clear();
  }

 private:
  stdfs::path final_, stage_;
};

}  // namespace yolite::data
