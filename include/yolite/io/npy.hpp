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
// An NpyArray is the raw form: dtype, shape, little-endian bytes. Readable dtypes: float16/32/64,
// int8/16/32/64, uint8, bool; C order only (a Fortran-order array is refused with a message).
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
#include "half.hpp"
#include "zip.hpp"

namespace yolite::io {

enum class DType { f16, f32, f64, i8, i16, i32, i64, u8, b1 };

inline int dtype_size(DType d) {
  switch (d) {
    case DType::f16: case DType::i16: return 2;
    case DType::f32: case DType::i32: return 4;
    case DType::f64: case DType::i64: return 8;
    default: return 1;
  }
}
inline const char* dtype_name(DType d) {
  switch (d) {
    case DType::f16: return "float16";
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::i8: return "int8";
    case DType::i16: return "int16";
    case DType::i32: return "int32";
    case DType::i64: return "int64";
    case DType::u8: return "uint8";
    case DType::b1: return "bool";
  }
  return "?";
}
inline bool dtype_is_float(DType d) { return d == DType::f16 || d == DType::f32 || d == DType::f64; }
// numpy's descr string ('<f4', '|u1', ...).
inline const char* dtype_descr(DType d) {
  switch (d) {
    case DType::f16: return "<f2";
    case DType::f32: return "<f4";
    case DType::f64: return "<f8";
    case DType::i8: return "|i1";
    case DType::i16: return "<i2";
    case DType::i32: return "<i4";
    case DType::i64: return "<i8";
    case DType::u8: return "|u1";
    case DType::b1: return "|b1";
  }
  return "?";
}

// Product of the dimensions, refusing negative dims and anything above kMaxTensorElements.
inline int64_t checked_numel(const std::vector<int64_t>& shape, std::string_view what) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) fail(what, ": negative dimension ", d, " in shape");
    if (d != 0 && n > kMaxTensorElements / d)
      fail(what, ": shape claims more than ", kMaxTensorElements, " elements; refusing");
    n *= d;
  }
  if (n > kMaxTensorElements) fail(what, ": shape claims ", n, " elements; refusing");
  return n;
}

inline std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "(";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + (s.size() == 1 ? ",)" : ")");
}

// A dense little-endian array of any supported dtype. `name` is used in error messages.
struct NpyArray {
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  std::string bytes;  // numel * dtype_size bytes, C order, little-endian
  std::string name;

  int64_t numel() const { return checked_numel(shape, name); }

  template <class T>
  static NpyArray from(const Tensor<T>& t, std::string name = "") {
    NpyArray a;
    if constexpr (std::is_same_v<T, float>) a.dtype = DType::f32;
    else if constexpr (std::is_same_v<T, double>) a.dtype = DType::f64;
    else if constexpr (std::is_same_v<T, int64_t>) a.dtype = DType::i64;
    else if constexpr (std::is_same_v<T, int32_t>) a.dtype = DType::i32;
    else if constexpr (std::is_same_v<T, uint8_t>) a.dtype = DType::u8;
    else static_assert(sizeof(T) == 0, "NpyArray::from: unsupported element type");
    a.shape = t.shape().vec();
    a.bytes.assign(reinterpret_cast<const char*>(t.data()), size_t(t.numel()) * sizeof(T));
    a.name = std::move(name);
    return a;
  }
  static NpyArray from_i64(const std::vector<int64_t>& v, std::vector<int64_t> shape, std::string name = "") {
    NpyArray a;
    a.dtype = DType::i64;
    a.shape = std::move(shape);
    YOLITE_CHECK(a.numel() == int64_t(v.size()), "NpyArray::from_i64 '", name, "': shape ",
                 shape_str(a.shape), " needs ", a.numel(), " values, got ", v.size());
    a.bytes.assign(reinterpret_cast<const char*>(v.data()), v.size() * 8);
    a.name = std::move(name);
    return a;
  }

  // float32 tensor (float32 as is, float16 widened exactly).
  Tensor<float> f32() const {
    Tensor<float> t(tensor_shape());
    if (dtype == DType::f32) {
      copy_raw(t.data());
    } else if (dtype == DType::f16) {
      const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
      for (int64_t i = 0; i < t.numel(); ++i) t[i] = half_to_float(le16(p + 2 * i));
    } else {
      fail(label(), ": is ", dtype_name(dtype), ", expected float32 or float16");
    }
    return t;
  }
  // float64 tensor (float64 as is, float32/float16 widened).
  Tensor<double> f64() const {
    Tensor<double> t(tensor_shape());
    if (dtype == DType::f64) {
      copy_raw(t.data());
    } else if (dtype == DType::f32 || dtype == DType::f16) {
      Tensor<float> f = f32();
      for (int64_t i = 0; i < t.numel(); ++i) t[i] = f[i];
    } else {
      fail(label(), ": is ", dtype_name(dtype), ", expected a floating-point array");
    }
    return t;
  }
  // Integer values widened to int64 (int8/16/32/64, uint8, bool).
  std::vector<int64_t> i64() const {
    check_size();
    int64_t n = numel();
    std::vector<int64_t> v(static_cast<size_t>(n));
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    for (int64_t i = 0; i < n; ++i) {
      switch (dtype) {
        case DType::i64: v[i] = int64_t(le64(p + 8 * i)); break;
        case DType::i32: v[i] = int32_t(le32(p + 4 * i)); break;
        case DType::i16: v[i] = int16_t(le16(p + 2 * i)); break;
        case DType::i8: v[i] = int8_t(p[i]); break;
        case DType::u8: case DType::b1: v[i] = p[i]; break;
        default: fail(label(), ": is ", dtype_name(dtype), ", expected an integer array");
      }
    }
    return v;
  }
  Tensor<int64_t> i64_tensor() const {
    auto v = i64();
    Tensor<int64_t> t(tensor_shape());
    if (!v.empty()) std::memcpy(t.data(), v.data(), v.size() * 8);
    return t;
  }
  Shape tensor_shape() const {
    YOLITE_CHECK(int(shape.size()) <= Shape::kMaxDims, label(), ": shape ", shape_str(shape),
                 " has more than ", Shape::kMaxDims, " dimensions");
    return Shape(shape);
  }
  std::string label() const { return name.empty() ? std::string("array") : name; }
  void check_size() const {
    uint64_t want = uint64_t(numel()) * uint64_t(dtype_size(dtype));
    YOLITE_CHECK(bytes.size() == want, label(), ": ", dtype_name(dtype), " ", shape_str(shape),
                 " needs ", want, " bytes of data, found ", bytes.size());
  }

 private:
  void copy_raw(void* dst) const {
    check_size();
    if (!bytes.empty()) std::memcpy(dst, bytes.data(), bytes.size());
  }
};

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
    a.check_size();
    std::string h = npy_header(a.dtype, a.shape);
    w.add(k + ".npy", {h, a.bytes});
  }
  w.finish();
}

}  // namespace yolite::io
