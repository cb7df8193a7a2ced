// io/safetensors.hpp -- read and write the safetensors format (Hugging Face), readable by
// Python's `safetensors.numpy.load_file` / `safetensors.torch.load_file`.
//
//   io::Safetensors st;
//   st.add("conv.weight", io::Array::from(w));          // any io::Array (F32, F16, I64, ...)
//   st.metadata["epoch"] = "12";                        // string -> string
//   io::save_safetensors("model.safetensors", st);      // temp file, fsync, rename
//
//   io::Safetensors r = io::load_safetensors("model.safetensors");
//   Tensor<float> w2 = r.f32("conv.weight");            // throws naming file + tensor if absent
//
// Layout: 8-byte little-endian N, then N bytes of JSON (padded with spaces to a multiple of 8),
// then the raw little-endian data. The JSON maps each name to {"dtype", "shape",
// "data_offsets": [begin, end]} (relative to the data section) and may hold "__metadata__",
// a map of strings. The reader enforces the spec: the header must be JSON starting with '{',
// every tensor's byte range must match its dtype and shape, and the ranges must cover the data
// section exactly, without gaps or overlaps. The writer orders tensors by element size
// (largest first), so every tensor is naturally aligned for memory-mapping readers.
#pragma once
#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/error.hpp"
#include "array.hpp"
#include "file.hpp"

namespace yolite::io {

inline const char* safetensors_dtype(DType d) {
  switch (d) {
    case DType::f16: return "F16";
    case DType::bf16: return "BF16";
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i8: return "I8";
    case DType::i16: return "I16";
    case DType::i32: return "I32";
    case DType::i64: return "I64";
    case DType::u8: return "U8";
    case DType::b1: return "BOOL";
  }
  return "?";
}

struct Safetensors {
  std::vector<std::pair<std::string, Array>> tensors;  // in data order when read
  std::map<std::string, std::string> metadata;          // "__metadata__"
  std::string path;                                     // set by load (error messages)

  void add(const std::string& name, Array a) {
    YOLITE_CHECK(!has(name), "safetensors: duplicate tensor name '", name, "'");
    if (a.name.empty()) a.name = name;
    tensors.emplace_back(name, std::move(a));
  }
  bool has(const std::string& name) const {
    for (auto& [n, a] : tensors)
      if (n == name) return true;
    return false;
  }
  const Array& get(const std::string& name) const {
    for (auto& [n, a] : tensors)
      if (n == name) return a;
    fail(path.empty() ? "safetensors" : path, ": no tensor named '", name, "'");
  }
  Tensor<float> f32(const std::string& name) const { return get(name).f32(); }
  Tensor<double> f64(const std::string& name) const { return get(name).f64(); }
  std::vector<int64_t> i64(const std::string& name) const { return get(name).i64(); }
};

// A tensor to write, by reference: no copy of the data is made (checkpoints of large models
// are written straight from the tensors' memory).
struct TensorView {
  std::string name;
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  uint64_t nbytes = 0;
};
inline TensorView view_of(const std::string& name, const Array& a) {
  a.check_size();
  return {name, a.dtype, a.shape, a.bytes.data(), a.bytes.size()};
}

// Where one tensor lies in a safetensors file (absolute byte offsets).
struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
};
// The validated header of a safetensors file: entries in data order, and the metadata.
struct SafetensorsIndex {
  std::vector<SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata;
};

// Writes tensors (in the order given after a stable sort by element size, largest first)
// through a temporary file + fsync + rename.
inline void save_safetensors(const std::string& path, std::vector<TensorView> views,
                             const std::map<std::string, std::string>& metadata) {
  std::stable_sort(views.begin(), views.end(),
                   [](const TensorView& a, const TensorView& b) { return dtype_size(a.dtype) > dtype_size(b.dtype); });
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (auto& [k, v] : metadata) m[k] = v;
    h["__metadata__"] = m;
  }
  uint64_t off = 0;
  for (const auto& v : views) {
    YOLITE_CHECK(v.name != "__metadata__" && !v.name.empty(), path, ": invalid tensor name '", v.name, "'");
    YOLITE_CHECK(!h.contains(v.name), path, ": duplicate tensor name '", v.name, "'");
    uint64_t want = uint64_t(checked_numel(v.shape, v.name)) * uint64_t(dtype_size(v.dtype));
    YOLITE_CHECK(v.nbytes == want, path, ": tensor '", v.name, "' ", shape_str(v.shape), " has ", v.nbytes,
                 " bytes, expected ", want);
    h[v.name] = {{"dtype", safetensors_dtype(v.dtype)}, {"shape", v.shape}, {"data_offsets", {off, off + v.nbytes}}};
    off += v.nbytes;
  }
  std::string header = h.dump();
  header.append((8 - header.size() % 8) % 8, ' ');  // data starts 8-byte aligned
  std::string len;
  put_le64(len, header.size());
  AtomicWriter w(path);
  w.write(len);
  w.write(header);
  for (const auto& v : views) w.write(v.data, v.nbytes);
  w.commit();
}

inline void save_safetensors(const std::string& path, const Safetensors& st) {
  std::vector<TensorView> views;
  for (auto& [n, a] : st.tensors) views.push_back(view_of(n, a));
  save_safetensors(path, std::move(views), st.metadata);
}

// Limits: the spec caps the header at 100 MB.
inline constexpr uint64_t kMaxSafetensorsHeader = 100u << 20;

// Reads and validates the header of an open file; no tensor data is read.
inline SafetensorsIndex read_safetensors_index(const BinaryFile& f) {
  const std::string& path = f.path();
  if (f.size() < 8) fail(path, ": not a safetensors file (only ", f.size(), " bytes)");
  std::string lenb = f.read(0, 8, "header length");
  uint64_t n = le64(reinterpret_cast<const unsigned char*>(lenb.data()));
  if (n > kMaxSafetensorsHeader)
    fail(path, ": not a safetensors file (header length field says ", n, " bytes)");
  if (n > f.size() - 8)
    fail(path, ": truncated or not a safetensors file: header of ", n, " bytes, but only ",
         f.size() - 8, " bytes follow");
  std::string htext = f.read(8, n, "header");
  if (htext.empty() || htext[0] != '{')
    fail(path, ": not a safetensors file (header does not start with '{')");
  nlohmann::json h = nlohmann::json::parse(htext, nullptr, /*allow_exceptions=*/false);
  if (h.is_discarded() || !h.is_object()) fail(path, ": safetensors header is not a valid JSON object");
  const uint64_t data_start = 8 + n, data_size = f.size() - data_start;
  SafetensorsIndex idx;
  for (auto it = h.begin(); it != h.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail(path, ": __metadata__ must be an object of strings");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) fail(path, ": __metadata__ value '", m.key(), "' is not a string");
        idx.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto bad = [&](const std::string& what) { fail(path, ": tensor '", name, "': ", what); };
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      bad("expected an object with dtype, shape and data_offsets");
    if (!v["dtype"].is_string()) bad("dtype is not a string");
    std::string dt = v["dtype"].get<std::string>();
    SafetensorsEntry e;
    e.name = name;
    bool ok = false;
    for (DType d : {DType::f16, DType::bf16, DType::f32, DType::f64, DType::i8, DType::i16,
                    DType::i32, DType::i64, DType::u8, DType::b1})
      if (dt == safetensors_dtype(d)) e.dtype = d, ok = true;
    if (!ok) bad(str("unsupported dtype '", dt, "'"));
    if (!v["shape"].is_array()) bad("shape is not a list");
    for (auto& d : v["shape"]) {
      if (!d.is_number_unsigned()) bad("shape holds something other than non-negative integers");
      e.shape.push_back(int64_t(std::min<uint64_t>(d.get<uint64_t>(), uint64_t(1) << 62)));
    }
    const auto& o = v["data_offsets"];
    if (!o.is_array() || o.size() != 2 || !o[0].is_number_unsigned() || !o[1].is_number_unsigned())
      bad("data_offsets must be [begin, end]");
    uint64_t b = o[0].get<uint64_t>(), en = o[1].get<uint64_t>();
    if (en < b) bad(str("data_offsets [", b, ", ", en, "] end before begin"));
    uint64_t want = uint64_t(checked_numel(e.shape, str(path, ": tensor '", name, "'"))) * uint64_t(dtype_size(e.dtype));
    if (en - b != want)
      bad(str(dt, " ", shape_str(e.shape), " needs ", want, " bytes, data_offsets give ", en - b));
    if (en > data_size)
      bad(str("data ends at byte ", en, " of the data section, but the file holds only ", data_size,
              " (truncated)"));
    e.begin = b;
    e.end = en;
    idx.entries.push_back(std::move(e));
  }
  std::sort(idx.entries.begin(), idx.entries.end(), [](const SafetensorsEntry& x, const SafetensorsEntry& y) {
    return x.begin != y.begin ? x.begin < y.begin : x.end < y.end;
  });
  uint64_t at = 0;
  for (auto& e : idx.entries) {
    if (e.begin != at)
      fail(path, ": tensor '", e.name, "' starts at data byte ", e.begin, " but the previous one ends at ",
           at, e.begin < at ? " (overlap)" : " (gap)");
    at = e.end;
    e.begin += data_start;  // make absolute
    e.end += data_start;
  }
  if (at != data_size)
    fail(path, ": the tensors cover ", at, " bytes of data, but the file holds ", data_size,
         " (trailing bytes)");
  return idx;
}

inline Safetensors load_safetensors(const std::string& path) {
  BinaryFile f(path);
  SafetensorsIndex idx = read_safetensors_index(f);
  Safetensors st;
  st.path = path;
  st.metadata = idx.metadata;
  for (auto& e : idx.entries) {
    Array a;
    a.name = str(path, ": tensor '", e.name, "'");
    a.dtype = e.dtype;
    a.shape = e.shape;
    a.bytes = f.read(e.begin, e.end - e.begin, str("tensor '", e.name, "'"));
    st.tensors.emplace_back(e.name, std::move(a));
  }
  return st;
}

}  // namespace yolite::io
