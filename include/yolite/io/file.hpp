// io/file.hpp -- reading files safely and writing them atomically (every reader and writer uses it).
//
//   io::BinaryFile f("model.pt");              // throws naming the file when missing
//   auto n = f.size();
//   std::string head = f.read(0, 64, "header"); // throws "model.pt: truncated ..." past the end
//
//   io::AtomicWriter w("out.safetensors");     // writes go to ".out.safetensors.tmp.<pid>..."
//   w.write(bytes);
//   w.commit();                                // flush + fsync + rename over the final name
//                                              // (without commit the temp file is removed)
//
// AtomicWriter is the one way yolite writes a file: checkpoints and tensors through it
// directly (durable: fsync before the rename), text and images through
// data::write_file_atomic (the same writer without the fsync, for the thousands of small files
// a data set has; a crash still never leaves half a file under the final name).
//
// Every read is checked against the file size first, so a corrupt length field can never make
// a reader allocate or seek past the file: it gets a yolite::Error naming the file instead.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <unistd.h>

#include "../core/error.hpp"

namespace yolite::io {

// Read-only random access to a file. Keeps one FILE* open; not copyable.
class BinaryFile {
 public:
  explicit BinaryFile(std::string path) : path_(std::move(path)) {
    std::error_code ec;
    if (!std::filesystem::exists(path_, ec)) fail(path_, ": file not found");
    if (std::filesystem::is_directory(path_, ec)) fail(path_, ": is a folder, expected a file");
    f_ = std::fopen(path_.c_str(), "rb");
    if (!f_) fail(path_, ": cannot open for reading");
    if (std::fseek(f_, 0, SEEK_END) != 0) fail(path_, ": cannot seek");
    long n = std::ftell(f_);
    if (n < 0) fail(path_, ": cannot tell the file size");
    size_ = uint64_t(n);
  }
  BinaryFile(const BinaryFile&) = delete;
  BinaryFile& operator=(const BinaryFile&) = delete;
  ~BinaryFile() {
    if (f_) std::fclose(f_);
  }

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }

  // `n` bytes at `offset` into `dst`; `what` names the part for the error message.
  void read_into(uint64_t offset, uint64_t n, void* dst, std::string_view what) const {
    if (offset > size_ || n > size_ - offset)
      fail(path_, ": truncated or corrupt file: ", what, " needs bytes ", offset, "..", offset + n,
           " but the file has only ", size_, " bytes");
    if (n == 0) return;
    if (std::fseek(f_, long(offset), SEEK_SET) != 0) fail(path_, ": cannot seek to ", offset);
    if (std::fread(dst, 1, size_t(n), f_) != size_t(n))
      fail(path_, ": read error at offset ", offset, " (", what, ")");
  }
  std::string read(uint64_t offset, uint64_t n, std::string_view what) const {
    if (offset > size_ || n > size_ - offset) read_into(offset, n, nullptr, what);  // throws
    std::string s(size_t(n), '\0');
    read_into(offset, n, s.data(), what);
    return s;
  }
  std::string read_all() const { return read(0, size_, "whole file"); }

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
  uint64_t size_ = 0;
};

// Whole file into a string (throws naming the file).
inline std::string read_file_bytes(const std::string& path) { return BinaryFile(path).read_all(); }

// A name for a temporary sibling of `p` that no other process uses at the same moment:
// ".<name>.tmp.<pid>.<clock ticks>" in the same folder (same file system, so rename is atomic).
inline std::filesystem::path temp_sibling(const std::filesystem::path& p) {
  auto ticks = std::chrono::steady_clock::now().time_since_epoch().count();
  return p.parent_path() / str(".", p.filename().string(), ".tmp.", ::getpid(), ".", ticks);
}

// Writes a file through a temporary sibling: nothing appears under the final name until
// commit() has flushed (and, when durable, fsync-ed) and renamed it. Destroyed without
// commit() (an exception on the way), it removes the temporary file. Missing parent folders
// are created.
class AtomicWriter {
 public:
  enum class Sync { fsync, none };
  explicit AtomicWriter(std::string path, Sync sync = Sync::fsync) : path_(std::move(path)), sync_(sync) {
    namespace fs = std::filesystem;
    fs::path p(path_);
    std::error_code ec;
    if (p.has_parent_path()) {
      fs::create_directories(p.parent_path(), ec);
      if (!fs::is_directory(p.parent_path(), ec))
        fail(path_, ": cannot create folder ", p.parent_path().string());
    }
    tmp_ = temp_sibling(p).string();
    f_ = std::fopen(tmp_.c_str(), "wb");
    if (!f_) fail(path_, ": cannot open for writing");
  }
  AtomicWriter(const AtomicWriter&) = delete;
  AtomicWriter& operator=(const AtomicWriter&) = delete;
  ~AtomicWriter() {
    if (f_) {
      std::fclose(f_);
      std::error_code ec;
      std::filesystem::remove(tmp_, ec);
    }
  }

  const std::string& path() const { return path_; }
  uint64_t position() const { return pos_; }

  void write(const void* data, uint64_t n) {
    YOLITE_CHECK(f_, path_, ": write after commit");
    if (n && std::fwrite(data, 1, size_t(n), f_) != size_t(n))
      fail(path_, ": write error after ", pos_, " bytes (disk full?)");
    pos_ += n;
  }
  void write(std::string_view s) { write(s.data(), s.size()); }

  // Flush, fsync, close and rename over the final name.
  void commit() {
    YOLITE_CHECK(f_, path_, ": commit called twice");
    bool ok = std::fflush(f_) == 0 && (sync_ == Sync::none || ::fsync(::fileno(f_)) == 0);
    ok = (std::fclose(f_) == 0) && ok;
    f_ = nullptr;
    std::error_code ec;
    if (!ok) {
      std::filesystem::remove(tmp_, ec);
      fail(path_, ": write error while flushing (disk full?)");
    }
    std::filesystem::rename(tmp_, path_, ec);
    if (ec) {
      std::error_code ec2;
      std::filesystem::remove(tmp_, ec2);
      fail(path_, ": cannot rename temporary file into place (", ec.message(), ")");
    }
  }

 private:
  std::string path_, tmp_;
  Sync sync_ = Sync::fsync;
  std::FILE* f_ = nullptr;
  uint64_t pos_ = 0;
};

// Little-endian integer helpers over raw bytes (the formats here are all little-endian).
inline uint16_t le16(const unsigned char* p) { return uint16_t(p[0] | (p[1] << 8)); }
inline uint32_t le32(const unsigned char* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
inline uint64_t le64(const unsigned char* p) { return uint64_t(le32(p)) | (uint64_t(le32(p + 4)) << 32); }
inline void put_le16(std::string& s, uint16_t v) {
  s += char(v & 0xff);
  s += char(v >> 8);
}
inline void put_le32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s += char((v >> (8 * i)) & 0xff);
}
inline void put_le64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s += char((v >> (8 * i)) & 0xff);
}

}  // namespace yolite::io
