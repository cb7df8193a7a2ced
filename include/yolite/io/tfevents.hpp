// io/tfevents.hpp -- TensorBoard event files, written without TensorFlow.
//
//   io::EventWriter tb(run_dir);                  // run_dir/events.out.tfevents.<time>.<host>.<pid>.0
//   tb.scalar("train/box_loss", 0.05, epoch);
//   tb.image("train_batch0", jpeg_bytes, 640, 640, 0);   // encoded JPEG or PNG
//   tb.flush();                                   // after each epoch
//
// The file is a sequence of records (TFRecord framing):
//   uint64 length | uint32 masked_crc32c(length) | length bytes of data | uint32 masked_crc32c(data)
// little-endian, masked_crc = ((crc >> 15) | (crc << 17)) + 0xa282ead8 over CRC-32C. Each data
// is a serialized `Event` (tensorflow/core/util/event.proto): wall_time = 1 (double), step = 2,
// file_version = 3 ("brain.Event:2", the first record), summary = 5; a `Summary` holds
// repeated `Value` = 1 {tag = 1, simple_value = 2 (float), image = 4 {height = 1, width = 2,
// colorspace = 3, encoded_image_string = 4}}. TensorBoard reads every file in a folder and
// merges them by step, so a resumed run simply starts a new file.
// Records are appended and flushed whole: a killed run leaves every flushed record readable.
#pragma once
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "../core/error.hpp"
#include "crc32.hpp"
#include "file.hpp"
#include "protobuf.hpp"

namespace yolite::io {

inline uint32_t masked_crc32c(const void* data, size_t n) {
  const uint32_t c = crc32c(data, n);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

// One framed record (the bytes appended to the file).
inline std::string tf_record(std::string_view data) {
  std::string r, len;
  put_le64(len, data.size());
  r += len;
  put_le32(r, masked_crc32c(len.data(), len.size()));
  r += data;
  put_le32(r, masked_crc32c(data.data(), data.size()));
  return r;
}

class EventWriter {
 public:
  // Opens a new event file in `dir` (created if needed), named as TensorBoard's writers name
  // them, and writes the file_version record.
  explicit EventWriter(const std::filesystem::path& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    char host[256] = "localhost";
    if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = 0;
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
    for (int n = 0;; ++n) {
      path_ = (dir / str("events.out.tfevents.", secs, ".", host, ".", ::getpid(), ".", n)).string();
      if (!std::filesystem::exists(path_)) break;
    }
    f_ = std::fopen(path_.c_str(), "wb");
    YOLITE_CHECK(f_, path_, ": cannot create the TensorBoard event file");
    ProtoWriter e;
    e.fixed64(1, now());
    e.string(3, "brain.Event:2");
    append(e);
    flush();
  }
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;
  ~EventWriter() {
    if (f_) std::fclose(f_);
  }

  void scalar(const std::string& tag, double value, int64_t step) {
    ProtoWriter v;
    v.string(1, tag);
    v.fixed32(2, float(value));
    summary(v, step);
  }
  // An encoded image (JPEG or PNG bytes) of width x height with `channels` (3 = RGB).
  void image(const std::string& tag, std::string_view encoded, int width, int height, int64_t step,
             int channels = 3) {
    ProtoWriter img;
    img.int64(1, height);
    img.int64(2, width);
    img.int64(3, channels);
    img.string(4, encoded);
    ProtoWriter v;
    v.string(1, tag);
    v.message(4, img);
    summary(v, step);
  }
  void flush() {
    YOLITE_CHECK(std::fflush(f_) == 0, path_, ": cannot write the TensorBoard event file");
  }
  const std::string& path() const { return path_; }

 private:
  static double now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  }
  void summary(const ProtoWriter& value, int64_t step) {
    ProtoWriter s;
    s.message(1, value);
    ProtoWriter e;
    e.fixed64(1, now());
    e.int64(2, step);
    e.message(5, s);
    append(e);
  }
  void append(const ProtoWriter& event) {
    const std::string r = tf_record(event.bytes());
    YOLITE_CHECK(std::fwrite(r.data(), 1, r.size(), f_) == r.size(), path_,
                 ": cannot write the TensorBoard event file");
  }

  std::string path_;
  std::FILE* f_ = nullptr;
};

}  // namespace yolite::io
