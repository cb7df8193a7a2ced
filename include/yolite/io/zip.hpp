// io/zip.hpp -- read zip archives (STORED and DEFLATE members) and write STORED ones.
//
//   io::ZipReader z("weights.npz");              // reads the central directory only
//   for (auto& e : z.entries()) std::cout << e.name << " " << e.size << "\n";
//   if (z.has("x.npy")) std::string bytes = z.read("x.npy");   // CRC-checked
//
//   io::ZipWriter w("out.npz");                  // temp file; nothing visible yet
//   w.add("x.npy", bytes);                       // or w.add(name, {header, data}) without copying
//   w.finish();                                  // central directory, fsync, rename into place
//
// This is the container of numpy's .npz and of PyTorch's .pt files. The reader follows the
// central directory (at the end of the file), understands zip64 (the extra field 0x0001 and the
// zip64 end-of-central-directory record) and validates every offset and size against the file
// size before it reads or allocates, so a truncated or corrupt archive gives a yolite::Error
// that names the file and what is wrong. STORED members are read as they are, DEFLATE members
// (numpy.savez_compressed, most zip tools) are decompressed by io/inflate.hpp; other methods and
// encrypted members are refused by name. The writer stores members uncompressed (what numpy.savez
// and torch.save do) with a fixed 1980-01-01 timestamp, so the same content gives the same bytes.
#pragma once
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "../core/error.hpp"
#include "crc32.hpp"
#include "file.hpp"
#include "inflate.hpp"

namespace yolite::io {

struct ZipEntry {
  std::string name;
  uint64_t size = 0;             // uncompressed size
  uint64_t compressed_size = 0;  // equals size for STORED members
  uint64_t local_offset = 0;     // offset of the local file header
  uint32_t crc = 0;
  uint16_t method = 0;           // 0 = STORED, 8 = DEFLATE
  uint16_t flags = 0;
};

class ZipReader {
 public:
  explicit ZipReader(const std::string& path) : file_(path) { read_central_directory(); }

  const std::string& path() const { return file_.path(); }
  const std::vector<ZipEntry>& entries() const { return entries_; }
  std::vector<std::string> names() const {
    std::vector<std::string> v;
    for (auto& e : entries_) v.push_back(e.name);
    return v;
  }
  bool has(const std::string& name) const { return index_.count(name) != 0; }
  const ZipEntry& entry(const std::string& name) const {
    auto it = index_.find(name);
    if (it == index_.end()) fail(path(), ": no member named '", name, "' in the zip archive");
    return entries_[it->second];
  }

  // The bytes of one member (decompressed if needed), checked against its CRC-32.
  std::string read(const std::string& name) const {
    const ZipEntry& e = entry(name);
    check_sizes(e);  // before allocating e.size bytes
    std::string s(size_t(e.size), '\0');
    read_member(e, s.data());
    return s;
  }
  // Same, into caller memory of exactly entry(name).size bytes (for large tensors).
  void read_into(const std::string& name, void* dst, uint64_t n) const {
    const ZipEntry& e = entry(name);
    YOLITE_CHECK(n == e.size, path(), ": member '", name, "' has ", e.size, " bytes, caller expected ",
                 n);
    read_member(e, dst);
  }

 private:
  static constexpr uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50,
                            kEocdSig = 0x06054b50, kZip64EocdSig = 0x06064b50,
                            kZip64LocatorSig = 0x07064b50;

  [[noreturn]] void corrupt(std::string_view what) const {
    fail(path(), ": not a valid zip archive (", what, ")");
  }

  void read_central_directory() {
    const uint64_t fsize = file_.size();
    if (fsize < 22) corrupt(str("file is only ", fsize, " bytes, too small for a zip archive"));
    // The end-of-central-directory record is the last 22 bytes plus a comment of <= 65535.
    uint64_t tail_len = std::min<uint64_t>(fsize, 22 + 65535);
    std::string tail = file_.read(fsize - tail_len, tail_len, "end of central directory");
    const auto* t = reinterpret_cast<const unsigned char*>(tail.data());
    int64_t pos = -1;
    for (int64_t i = int64_t(tail_len) - 22; i >= 0; --i) {
      if (le32(t + i) == kEocdSig) {
        uint16_t comment = le16(t + i + 20);
        if (uint64_t(i) + 22 + comment <= tail_len) {
          pos = i;
          break;
        }
      }
    }
    if (pos < 0) corrupt("no end-of-central-directory record: the file is truncated or not a zip");
    const uint64_t eocd_off = fsize - tail_len + uint64_t(pos);
    const unsigned char* e = t + pos;
    uint64_t count = le16(e + 10);
    uint64_t cd_size = le32(e + 12);
    uint64_t cd_off = le32(e + 16);
    uint64_t cd_end_limit = eocd_off;
    if (count == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_off == 0xFFFFFFFFu) {
      // zip64: a locator sits just before the classic record and points at the zip64 record.
      if (eocd_off < 20) corrupt("zip64 locator missing");
      std::string loc = file_.read(eocd_off - 20, 20, "zip64 locator");
      const auto* l = reinterpret_cast<const unsigned char*>(loc.data());
      if (le32(l) != kZip64LocatorSig) corrupt("zip64 locator missing before the end record");
      uint64_t z64 = le64(l + 8);
      if (z64 > eocd_off - 20 || eocd_off - 20 - z64 < 56) corrupt("zip64 end record offset out of range");
      std::string rec = file_.read(z64, 56, "zip64 end of central directory");
      const auto* r = reinterpret_cast<const unsigned char*>(rec.data());
      if (le32(r) != kZip64EocdSig) corrupt("bad zip64 end-of-central-directory signature");
      count = le64(r + 32);
      cd_size = le64(r + 40);
      cd_off = le64(r + 48);
      cd_end_limit = z64;
    }
    if (cd_off > cd_end_limit || cd_size > cd_end_limit - cd_off)
      corrupt(str("central directory (offset ", cd_off, ", ", cd_size, " bytes) lies outside the ",
                  fsize, "-byte file: truncated?"));
    if (count > cd_size / 46) corrupt(str("central directory claims ", count, " entries in ", cd_size, " bytes"));
    std::string cd = file_.read(cd_off, cd_size, "central directory");
    const auto* c = reinterpret_cast<const unsigned char*>(cd.data());
    uint64_t p = 0;
    entries_.reserve(size_t(count));
    for (uint64_t k = 0; k < count; ++k) {
      if (cd_size - p < 46) corrupt(str("central directory entry ", k, " is cut short"));
      const unsigned char* h = c + p;
      if (le32(h) != kCentralSig) corrupt(str("bad signature of central directory entry ", k));
      ZipEntry z;
      z.flags = le16(h + 8);
      z.method = le16(h + 10);
      z.crc = le32(h + 16);
      z.compressed_size = le32(h + 20);
      z.size = le32(h + 24);
      uint16_t nlen = le16(h + 28), xlen = le16(h + 30), clen = le16(h + 32);
      uint16_t disk = le16(h + 34);
      z.local_offset = le32(h + 42);
      if (cd_size - p - 46 < uint64_t(nlen) + xlen + clen)
        corrupt(str("central directory entry ", k, " runs past the directory"));
      z.name.assign(reinterpret_cast<const char*>(h + 46), nlen);
      // zip64 extra field: the 64-bit values of the fields that hold 0xFFFFFFFF, in order.
      const unsigned char* x = h + 46 + nlen;
      for (uint32_t q = 0; q + 4 <= xlen;) {
        uint16_t id = le16(x + q), len = le16(x + q + 2);
        if (q + 4 + len > xlen) corrupt(str("extra field of '", z.name, "' runs past its end"));
        if (id == 0x0001) {
          const unsigned char* v = x + q + 4;
          uint32_t left = len;
          auto take = [&](uint64_t& field) {
            if (left < 8) corrupt(str("zip64 extra field of '", z.name, "' is too short"));
            field = le64(v);
            v += 8;
            left -= 8;
          };
          if (z.size == 0xFFFFFFFFu) take(z.size);
          if (z.compressed_size == 0xFFFFFFFFu) take(z.compressed_size);
          if (z.local_offset == 0xFFFFFFFFu) take(z.local_offset);
          (void)disk;
        }
        q += 4 + len;
      }
      if (z.local_offset > cd_off || cd_off - z.local_offset < 30 + uint64_t(nlen))
        corrupt(str("member '", z.name, "' has local header offset ", z.local_offset,
                    " outside the data area"));
      if (z.compressed_size > cd_off - z.local_offset)
        corrupt(str("member '", z.name, "' claims ", z.compressed_size, " bytes, more than the file holds"));
      index_.emplace(z.name, entries_.size());
      entries_.push_back(std::move(z));
      p += 46 + uint64_t(nlen) + xlen + clen;
    }
  }

  // Reads and checks one member into dst (e.size bytes).
  void read_member(const ZipEntry& e, void* dst) const {
    check_sizes(e);
    uint64_t off = data_offset(e);
    std::string what = str(path(), ": member '", e.name, "'");
    if (e.method == 0) {
      file_.read_into(off, e.size, dst, str("member '", e.name, "'"));
    } else {
      std::string packed = file_.read(off, e.compressed_size, str("member '", e.name, "'"));
      inflate(packed.data(), packed.size(), dst, size_t(e.size), what);
    }
    check_crc(e, dst, e.size);
  }

  // Encryption and the method are checked, and the uncompressed size a member claims must be
  // possible for its compressed size (checked against the file when the directory was read),
  // so no reader allocates for a size field that lies.
  void check_sizes(const ZipEntry& e) const {
    if (e.flags & 1) fail(path(), ": member '", e.name, "' is encrypted; not supported");
    if (e.method != 0 && e.method != 8)
      fail(path(), ": member '", e.name, "' uses compression method ", e.method,
           "; only STORED (0) and DEFLATE (8) are supported");
    std::string what = str(path(), ": member '", e.name, "'");
    if (e.method == 0 && e.compressed_size != e.size)
      fail(what, ": STORED member with compressed size ", e.compressed_size, " != size ", e.size);
    // DEFLATE expands at most ~1032:1; a larger claim is a corrupt size field.
    if (e.method == 8 && e.size / 1032 > e.compressed_size + 1)
      fail(what, ": claims ", e.size, " bytes from ", e.compressed_size, " compressed bytes (corrupt size)");
  }

  // Offset of a member's data, from its local header.
  uint64_t data_offset(const ZipEntry& e) const {
    std::string h = file_.read(e.local_offset, 30, str("local header of '", e.name, "'"));
    const auto* u = reinterpret_cast<const unsigned char*>(h.data());
    if (le32(u) != kLocalSig)
      fail(path(), ": corrupt zip archive: bad local header signature for member '", e.name,
           "' at offset ", e.local_offset);
    uint64_t off = e.local_offset + 30 + le16(u + 26) + le16(u + 28);
    if (off > file_.size() || e.compressed_size > file_.size() - off)
      fail(path(), ": truncated or corrupt zip archive: member '", e.name, "' needs bytes ", off,
           "..", off + e.compressed_size, " but the file has ", file_.size());
    return off;
  }

  void check_crc(const ZipEntry& e, const void* data, uint64_t n) const {
    uint32_t c = crc32(data, size_t(n));
    if (c != e.crc)
      fail(path(), ": corrupt zip member '", e.name, "': CRC-32 is ", c, ", the directory says ",
           e.crc);
  }

  BinaryFile file_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, size_t> index_;
};

// Writes a zip archive of STORED members (zip64 records are added when sizes, offsets or the
// member count need them). Call finish(); without it the temporary file is discarded.
class ZipWriter {
 public:
  explicit ZipWriter(const std::string& path) : out_(path) {}

  void add(const std::string& name, std::string_view bytes) { add(name, {bytes}); }
  // One member made of several parts written back to back (no concatenated copy).
  void add(const std::string& name, std::initializer_list<std::string_view> parts) {
    YOLITE_CHECK(!name.empty() && name.size() < 0xFFFF, out_.path(), ": bad zip member name '", name, "'");
    YOLITE_CHECK(!names_.count(name), out_.path(), ": duplicate zip member '", name, "'");
    names_.emplace(name, 0);
    ZipEntry e;
    e.name = name;
    e.local_offset = out_.position();
    for (auto p : parts) {
      e.crc = crc32(p.data(), p.size(), e.crc);
      e.size += p.size();
    }
    e.compressed_size = e.size;
    bool z64 = e.size >= 0xFFFFFFFFu;
    std::string h;
    put_le32(h, 0x04034b50);
    put_le16(h, z64 ? 45 : 20);  // version needed
    put_le16(h, utf8_flag(name));
    put_le16(h, 0);              // STORED
    put_le16(h, 0);              // time 00:00:00
    put_le16(h, kDosDate1980);
    put_le32(h, e.crc);
    put_le32(h, z64 ? 0xFFFFFFFFu : uint32_t(e.size));
    put_le32(h, z64 ? 0xFFFFFFFFu : uint32_t(e.size));
    put_le16(h, uint16_t(name.size()));
    put_le16(h, z64 ? 20 : 0);
    h += name;
    if (z64) {
      put_le16(h, 0x0001);
      put_le16(h, 16);
      put_le64(h, e.size);
      put_le64(h, e.size);
    }
    out_.write(h);
    for (auto p : parts) out_.write(p);
    entries_.push_back(std::move(e));
  }

  void finish() {
    uint64_t cd_off = out_.position();
    std::string cd;
    for (const auto& e : entries_) {
      bool big = e.size >= 0xFFFFFFFFu, far = e.local_offset >= 0xFFFFFFFFu;
      std::string x;
      if (big || far) {
        put_le16(x, 0x0001);
        put_le16(x, uint16_t((big ? 16 : 0) + (far ? 8 : 0)));
        if (big) {
          put_le64(x, e.size);
          put_le64(x, e.size);
        }
        if (far) put_le64(x, e.local_offset);
      }
      put_le32(cd, 0x02014b50);
      put_le16(cd, 45);  // made by: version 4.5
      put_le16(cd, (big || far) ? 45 : 20);
      put_le16(cd, utf8_flag(e.name));
      put_le16(cd, 0);
      put_le16(cd, 0);
      put_le16(cd, kDosDate1980);
      put_le32(cd, e.crc);
      put_le32(cd, big ? 0xFFFFFFFFu : uint32_t(e.size));
      put_le32(cd, big ? 0xFFFFFFFFu : uint32_t(e.size));
      put_le16(cd, uint16_t(e.name.size()));
      put_le16(cd, uint16_t(x.size()));
      put_le16(cd, 0);  // comment
      put_le16(cd, 0);  // disk
      put_le16(cd, 0);  // internal attributes
      put_le32(cd, 0x81A40000u);  // external attributes: regular file, mode 0644
      put_le32(cd, far ? 0xFFFFFFFFu : uint32_t(e.local_offset));
      cd += e.name;
      cd += x;
    }
    out_.write(cd);
    uint64_t cd_size = cd.size(), n = entries_.size();
    std::string end;
    bool z64 = n >= 0xFFFF || cd_off >= 0xFFFFFFFFu || cd_size >= 0xFFFFFFFFu;
    if (z64) {
      uint64_t rec = out_.position();
      put_le32(end, 0x06064b50);
      put_le64(end, 44);
      put_le16(end, 45);
      put_le16(end, 45);
      put_le32(end, 0);
      put_le32(end, 0);
      put_le64(end, n);
      put_le64(end, n);
      put_le64(end, cd_size);
      put_le64(end, cd_off);
      put_le32(end, 0x07064b50);
      put_le32(end, 0);
      put_le64(end, rec);
      put_le32(end, 1);
    }
    put_le32(end, 0x06054b50);
    put_le16(end, 0);
    put_le16(end, 0);
    put_le16(end, z64 ? 0xFFFF : uint16_t(n));
    put_le16(end, z64 ? 0xFFFF : uint16_t(n));
    put_le32(end, z64 ? 0xFFFFFFFFu : uint32_t(cd_size));
    put_le32(end, z64 ? 0xFFFFFFFFu : uint32_t(cd_off));
    put_le16(end, 0);
    out_.write(end);
    out_.commit();
  }

 private:
  static constexpr uint16_t kDosDate1980 = (0 << 9) | (1 << 5) | 1;  // 1980-01-01
  static uint16_t utf8_flag(const std::string& s) {
    for (unsigned char ch : s)
      if (ch >= 0x80) return 0x0800;
    return 0;
  }
  AtomicWriter out_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, int> names_;
};

}  // namespace yolite::io
