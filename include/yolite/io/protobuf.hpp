// io/protobuf.hpp -- the protocol-buffers wire format, by hand: enough to write an ONNX model
// (export/onnx.hpp) or a TensorBoard event (io/tfevents.hpp), and to read them back in tests.
// No schema compiler, no libprotobuf.
//
//   io::ProtoWriter node;                      // a message is a byte string of fields
//   node.string(1, "x");                       // field 1, length-delimited (string/bytes)
//   node.varint(3, 42);                        // field 3, varint (int32/int64/enum/bool)
//   node.fixed32(2, 1.5f); node.fixed64(1, t); // float, double
//   node.message(5, attribute);                // field 5, an embedded message (another writer)
//   node.packed_varints(8, {1, 2, 3});         // repeated int64, packed
//   std::string bytes = node.bytes();
//
//   io::ProtoReader r(bytes, "model.onnx");    // walks the fields of one message
//   while (r.next()) { r.field(); r.wire(); r.as_varint(); r.as_bytes(); ... }
//
// The wire format (developers.google.com/protocol-buffers/docs/encoding): each field is a key
// varint (field_number << 3 | wire_type) then the value: wire type 0 varint (7 bits a byte,
// low group first, high bit = more follows; negative int64 take 10 bytes), 1 fixed 64-bit,
// 2 length-delimited (a varint length, then the bytes: strings, bytes, embedded messages and
// packed repeated scalars), 5 fixed 32-bit (float). Little-endian throughout.
#pragma once
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "../core/error.hpp"

namespace yolite::io {

enum class WireType : uint8_t { varint = 0, fixed64 = 1, bytes = 2, fixed32 = 5 };

class ProtoWriter {
 public:
  void varint(int field, uint64_t v) {
    key(field, WireType::varint);
    raw_varint(v);
  }
  // int64 / int32 / enum fields: negative values are written as 10-byte two's complement.
  void int64(int field, int64_t v) { varint(field, uint64_t(v)); }
  void fixed32(int field, float f) {
    key(field, WireType::fixed32);
    uint32_t u;
    std::memcpy(&u, &f, 4);
    for (int i = 0; i < 4; ++i) buf_.push_back(char((u >> (8 * i)) & 0xFF));
  }
  void fixed64(int field, double d) {
    key(field, WireType::fixed64);
    uint64_t u;
    std::memcpy(&u, &d, 8);
    for (int i = 0; i < 8; ++i) buf_.push_back(char((u >> (8 * i)) & 0xFF));
  }
  void string(int field, std::string_view s) {
    key(field, WireType::bytes);
    raw_varint(s.size());
    buf_.append(s);
  }
  void message(int field, const ProtoWriter& m) { string(field, m.buf_); }
  void packed_varints(int field, const std::vector<int64_t>& v) {
    ProtoWriter body;
    for (int64_t x : v) body.raw_varint(uint64_t(x));
    string(field, body.buf_);
  }
  void packed_floats(int field, const std::vector<float>& v) {
    std::string body(v.size() * 4, '\0');
    if (!v.empty()) std::memcpy(body.data(), v.data(), body.size());  // x86-64: little-endian
    string(field, body);
  }

  const std::string& bytes() const { return buf_; }
  size_t size() const { return buf_.size(); }

 private:
  void key(int field, WireType w) {
    YOLITE_CHECK(field >= 1 && field < (1 << 29), "protobuf: bad field number ", field);
    raw_varint((uint64_t(field) << 3) | uint64_t(w));
  }
  void raw_varint(uint64_t v) {
    while (v >= 0x80) {
      buf_.push_back(char((v & 0x7F) | 0x80));
      v >>= 7;
    }
    buf_.push_back(char(v));
  }
  std::string buf_;
};

// Reads the fields of one message in order. Every length is checked against what is left, so
// a truncated or corrupt buffer gives an error naming `what`, never a read past the end.
class ProtoReader {
 public:
  ProtoReader(std::string_view data, std::string what) : d_(data), what_(std::move(what)) {}

  // Advances to the next field; false at the end of the message.
  bool next() {
    if (pos_ >= d_.size()) return false;
    const uint64_t k = raw_varint();
    field_ = int(k >> 3);
    wire_ = WireType(k & 7);
    if (field_ < 1) error("field number 0");
    switch (wire_) {
      case WireType::varint: value_ = raw_varint(); break;
      case WireType::fixed64: value_ = fixed(8); break;
      case WireType::fixed32: value_ = fixed(4); break;
      case WireType::bytes: {
        const uint64_t n = raw_varint();
        if (n > d_.size() - pos_) error("a length of ", n, " bytes runs past the end");
        bytes_ = d_.substr(pos_, size_t(n));
        pos_ += size_t(n);
        break;
      }
      default: error("unsupported wire type ", int(wire_));
    }
    return true;
  }
  int field() const { return field_; }
  WireType wire() const { return wire_; }
  uint64_t as_varint() const {
    expect(WireType::varint);
    return value_;
  }
  int64_t as_int64() const { return int64_t(as_varint()); }
  double as_double() const {
    expect(WireType::fixed64);
    double d;
    std::memcpy(&d, &value_, 8);
    return d;
  }
  float as_float() const {
    expect(WireType::fixed32);
    uint32_t u = uint32_t(value_);
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  std::string_view as_bytes() const {
    expect(WireType::bytes);
    return bytes_;
  }
  // A repeated varint field, packed or not: appends this occurrence's values.
  void append_varints(std::vector<int64_t>& out) const {
    if (wire_ == WireType::varint) {
      out.push_back(int64_t(value_));
      return;
    }
    ProtoReader p(as_bytes(), what_);
    while (p.pos_ < p.d_.size()) out.push_back(int64_t(p.raw_varint()));
  }
  const std::string& what() const { return what_; }

 private:
  template <class... A>
  [[noreturn]] void error(const A&... a) const {
    fail(what_, ": malformed protobuf at byte ", pos_, ": ", a...);
  }
  void expect(WireType w) const {
    if (wire_ != w) error("field ", field_, " has wire type ", int(wire_), ", expected ", int(w));
  }
  uint64_t raw_varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= d_.size()) error("a varint runs past the end");
      const uint8_t b = uint8_t(d_[pos_++]);
      v |= uint64_t(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    error("a varint longer than 10 bytes");
  }
  uint64_t fixed(int n) {
    if (size_t(n) > d_.size() - pos_) error("a fixed", 8 * n, " field runs past the end");
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= uint64_t(uint8_t(d_[pos_ + size_t(i)])) << (8 * i);
    pos_ += size_t(n);
    return v;
  }

  std::string_view d_;
  std::string what_;
  size_t pos_ = 0;
  int field_ = 0;
  WireType wire_ = WireType::varint;
  uint64_t value_ = 0;
  std::string_view bytes_;
};

}  // namespace yolite::io
