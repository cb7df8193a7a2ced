// io/npy.hpp -- numpy .npy arrays and .npz archives (numpy.save / numpy.savez / numpy.load).
//
//   Tensor<float> x = io::load_npy_f32("x.npy");          // float32, or float16 widened
//   io::save_npy("y.npy", x);                              // float32, C order
//
//   io::Npz z = io::load_npz("state.npz");                 // key -> array; keys may contain '/'
//   for (auto& k : z.keys()) ...
//   Tensor<float> w = z.f32("model.0.conv.weight");        // throws naming file + key if absent
//   std::vector<int64_t> n = z.i64("model.0.bn.num_batches_tracked");
//   io::Npz out; out.set("a/b", io::NpyArray::from(w)); io::save_npz("out.npz", out);
//
// An NpyArray (= io::Array, array.hpp) is the raw form: dtype, shape, little-endian bytes.
// Readable dtypes: float16/32/64, int8/16/32/64, uint8, bool; C order only (a Fortran-order array is refused with a message).
// Conversions only widen (f16 -> f32 -> f64, int32 -> int64): a float64 array asked for as
// float32 is an error, so a precision loss is never silent. Every size in a header is
// checked against the bytes actually present before anything is allocated.
#pragma once
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "file.hpp"
#include "array.hpp"
#include "zip.hpp"

namespace yolite::io {

// The .npy name of the generic array type.
using NpyArray = Array;

namespace detail {

// Parses numpy's header dict, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
struct NpyHeader {
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
};

inline NpyHeader parse_npy_dict(std::string_view h, const std::string& what) {
  size_t i = 0;
  auto bad = [&](std::string_view msg) -> void {
    fail(what, ": bad .npy header at character ", i, " (", msg, "): ", std::string(h.substr(0, 200)));
  };
  auto ws = [&] {
    while (i < h.size() && (h[i] == ' ' || h[i] == '\t' || h[i] == '\n' || h[i] == '\r')) ++i;
  };
  auto expect = [&](char c) {
    ws();
    if (i >= h.size() || h[i] != c) bad(str("expected '", c, "'"));
    ++i;
  };
  auto string_lit = [&]() -> std::string {
    ws();
    if (i >= h.size() || (h[i] != '\'' && h[i] != '"')) bad("expected a quoted string");
    char q = h[i++];
    size_t b = i;
    while (i < h.size() && h[i] != q) ++i;
    if (i >= h.size()) bad("unterminated string");
    return std::string(h.substr(b, i++ - b));
  };
  NpyHeader r;
  bool have_descr = false, have_order = false, have_shape = false;
  expect('{');
  for (;;) {
    ws();
    if (i < h.size() && h[i] == '}') break;
    std::string key = string_lit();
    expect(':');
    ws();
    if (key == "descr") {
      if (i < h.size() && h[i] == '[')
        fail(what, ": structured numpy dtypes are not supported (descr is a list)");
      std::string d = string_lit();
      static const std::pair<const char*, DType> table[] = {
          {"<f2", DType::f16}, {"<f4", DType::f32}, {"<f8", DType::f64}, {"|i1", DType::i8},
          {"<i1", DType::i8},  {"<i2", DType::i16}, {"<i4", DType::i32}, {"<i8", DType::i64},
          {"|u1", DType::u8},  {"<u1", DType::u8},  {"|b1", DType::b1}};
      bool ok = false;
      for (auto& [s, t] : table)
        if (d == s) r.dtype = t, ok = true;
      if (!ok)
        fail(what, ": unsupported numpy dtype '", d,
             "' (supported: little-endian float16/32/64, int8/16/32/64, uint8, bool)");
      have_descr = true;
    } else if (key == "fortran_order") {
      if (h.substr(i, 5) == "False") {
        i += 5;
      } else if (h.substr(i, 4) == "True") {
        fail(what, ": array is stored in Fortran order; only C order is supported "
                   "(save numpy.ascontiguousarray(a))");
      } else {
        bad("fortran_order must be True or False");
      }
      have_order = true;
    } else if (key == "shape") {
      expect('(');
      for (;;) {
        ws();
        if (i < h.size() && h[i] == ')') {
          ++i;
          break;
        }
        size_t b = i;
        while (i < h.size() && h[i] >= '0' && h[i] <= '9') ++i;
        if (i == b || i - b > 18) bad("expected a dimension");
        r.shape.push_back(std::stoll(std::string(h.substr(b, i - b))));
        if (r.shape.size() > 32) bad("too many dimensions");
        ws();
        if (i < h.size() && h[i] == ',') ++i;
      }
      have_shape = true;
    } else {
      bad(str("unknown key '", key, "'"));
    }
    ws();
    if (i < h.size() && h[i] == ',') ++i;
  }
  if (!have_descr || !have_order || !have_shape)
    fail(what, ": .npy header lacks one of 'descr', 'fortran_order', 'shape'");
  return r;
}

// Size of the preamble (magic + version + header length field) and of the header text.
inline void npy_preamble(const unsigned char* p, size_t avail, const std::string& what,
                         size_t& preamble, size_t& header_len) {
  if (avail < 10 || std::memcmp(p, "\x93NUMPY", 6) != 0)
    fail(what, ": not a .npy array (missing the \\x93NUMPY magic)");
  int major = p[6];
  if (major == 1) {
    preamble = 10;
    header_len = le16(p + 8);
  } else if (major == 2 || major == 3) {
    if (avail < 12) fail(what, ": truncated .npy header");
    preamble = 12;
    header_len = le32(p + 8);
  } else {
    fail(what, ": unsupported .npy format version ", major, ".", int(p[7]));
  }
}

}  // namespace detail

// Parses a whole .npy file held in memory (e.g. a member of an .npz).
inline NpyArray parse_npy(std::string bytes, const std::string& what) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t pre = 0, hl = 0;
  detail::npy_preamble(p, bytes.size(), what, pre, hl);
  if (hl > bytes.size() - pre) fail(what, ": truncated .npy header (", hl, " bytes announced)");
  auto hdr = detail::parse_npy_dict(std::string_view(bytes).substr(pre, hl), what);
  NpyArray a;
  a.name = what;
  a.dtype = hdr.dtype;
  a.shape = hdr.shape;
  uint64_t want = uint64_t(a.numel()) * uint64_t(dtype_size(a.dtype));
  uint64_t have = bytes.size() - pre - hl;
  if (have != want)
    fail(what, ": ", dtype_name(a.dtype), " ", shape_str(a.shape), " needs ", want,
         " bytes of data, the file has ", have, have < want ? " (truncated)" : "");
  bytes.erase(0, pre + hl);
  a.bytes = std::move(bytes);
  return a;
}

inline NpyArray read_npy(const std::string& path) {
  BinaryFile f(path);
  uint64_t n = std::min<uint64_t>(f.size(), 12);
  std::string head = f.read(0, n, ".npy preamble");
  size_t pre = 0, hl = 0;
  detail::npy_preamble(reinterpret_cast<const unsigned char*>(head.data()), head.size(), path, pre, hl);
  std::string h = f.read(pre, hl, ".npy header");
  auto hdr = detail::parse_npy_dict(h, path);
  NpyArray a;
  a.name = path;
  a.dtype = hdr.dtype;
  a.shape = hdr.shape;
  uint64_t want = uint64_t(a.numel()) * uint64_t(dtype_size(a.dtype));
  uint64_t have = f.size() - pre - hl;
  if (have != want)
    fail(path, ": ", dtype_name(a.dtype), " ", shape_str(a.shape), " needs ", want,
         " bytes of data, the file has ", have, have < want ? " (truncated)" : "");
  a.bytes = f.read(pre + hl, want, "array data");
  return a;
}

inline Tensor<float> load_npy_f32(const std::string& path) { return read_npy(path).f32(); }
inline Tensor<double> load_npy_f64(const std::string& path) { return read_npy(path).f64(); }

// The header of a version-1.0 .npy file (padded so the data starts at a multiple of 64).
inline std::string npy_header(DType dtype, const std::vector<int64_t>& shape) {
  std::string d = str("{'descr': '", dtype_descr(dtype), "', 'fortran_order': False, 'shape': ",
                      shape_str(shape), ", }");
  size_t total = 10 + d.size() + 1;
  size_t padded = (total + 63) / 64 * 64;
  d.append(padded - total, ' ');
  d += '\n';
  std::string h("\x93NUMPY\x01\x00", 8);
  YOLITE_CHECK(d.size() < 65536, "npy header too long for shape ", shape_str(shape));
  put_le16(h, uint16_t(d.size()));
  return h + d;
}

inline void save_npy(const std::string& path, const NpyArray& a) {
  YOLITE_CHECK(a.dtype != DType::bf16, path, ": numpy has no bfloat16; widen to float32 first");
  a.check_size();
  AtomicWriter w(path);
  w.write(npy_header(a.dtype, a.shape));
  w.write(a.bytes);
  w.commit();
}
template <class T>
void save_npy(const std::string& path, const Tensor<T>& t) {
  save_npy(path, NpyArray::from(t, path));
}

// An .npz archive in memory: arrays by key (the member name without ".npy"), in file order.
class Npz {
 public:
  std::string path;  // where it was loaded from (error messages)

  bool has(const std::string& key) const { return arrays_.count(key) != 0; }
  const std::vector<std::string>& keys() const { return order_; }
  size_t size() const { return order_.size(); }
  const NpyArray& get(const std::string& key) const {
    auto it = arrays_.find(key);
    if (it == arrays_.end()) fail(path.empty() ? "npz" : path, ": no array named '", key, "'");
    return it->second;
  }
  const std::vector<int64_t>& shape(const std::string& key) const { return get(key).shape; }
  Tensor<float> f32(const std::string& key) const { return get(key).f32(); }
  Tensor<double> f64(const std::string& key) const { return get(key).f64(); }
  std::vector<int64_t> i64(const std::string& key) const { return get(key).i64(); }
  Tensor<int64_t> i64_tensor(const std::string& key) const { return get(key).i64_tensor(); }

  void set(const std::string& key, NpyArray a) {
    if (a.name.empty()) a.name = key;
    if (!has(key)) order_.push_back(key);
    arrays_[key] = std::move(a);
  }
  template <class T>
  void set(const std::string& key, const Tensor<T>& t) {
    set(key, NpyArray::from(t, key));
  }

 private:
  std::vector<std::string> order_;
  std::map<std::string, NpyArray> arrays_;
};

inline Npz load_npz(const std::string& path) {
  ZipReader z(path);
  Npz out;
  out.path = path;
  for (const auto& e : z.entries()) {
    std::string key = e.name;
    if (key.size() > 4 && key.compare(key.size() - 4, 4, ".npy") == 0) key.resize(key.size() - 4);
    out.set(key, parse_npy(z.read(e.name), str(path, ": array '", key, "'")));
  }
  return out;
}

inline void save_npz(const std::string& path, const Npz& npz) {
  ZipWriter w(path);
  for (const auto& k : npz.keys()) {
    const NpyArray& a = npz.get(k);
    YOLITE_CHECK(a.dtype != DType::bf16, path, ": array '", k, "': numpy has no bfloat16");
    a.check_size();
    std::string h = npy_header(a.dtype, a.shape);
    w.add(k + ".npy", {h, a.bytes});
  }
  w.finish();
}

}  // namespace yolite::io
