// io/checkpoint.hpp -- yolite's training checkpoint: named tensors + a JSON of everything else,
// in one safetensors file with an integrity checksum.
//
//   io::Checkpoint ck;
//   ck.add("model.0.conv.weight", w);                  // model state dict (Tensor<float>)
//   ck.add("ema.model.0.conv.weight", w_ema);          // EMA weights: "ema." prefix
//   ck.add("optim.model.0.conv.weight", momentum);     // optimizer buffers: "optim." prefix
//   ck.add_int("model.0.bn.num_batches_tracked", 4);   // int64 scalars (or Tensor<int64_t>)
//   ck.meta = {{"epoch", 12}, {"best_fitness", 0.41}, {"names", {"cat", "dog"}}, {"nc", 2}};
//   io::save_checkpoint("runs/train/exp/weights/last.safetensors", ck);
//
//   io::Checkpoint r = io::load_checkpoint(path);      // throws if truncated or corrupted
//   const Tensor<float>& w2 = r.get("model.0.conv.weight");
//   int epoch = r.meta["epoch"];
//
// The file is plain safetensors (Python can read the tensors): float tensors as F32, integer
// tensors as I64. "__metadata__" holds {"format": "yolite.checkpoint", "version": "1",
// "meta": <the caller's JSON, dumped>, "checksum": "crc32:<8 hex digits>"}. The checksum covers,
// in name order, every tensor's name, dtype, shape and bytes, then the meta JSON text: a flipped
// bit anywhere in the data is reported, and a truncated file fails the safetensors size checks.
// load_checkpoint also accepts a safetensors file from elsewhere (no checksum; F16/BF16 widened).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "array.hpp"
#include "crc32.hpp"
#include "file.hpp"
#include "safetensors.hpp"

namespace yolite::io {

struct Checkpoint {
  std::vector<std::pair<std::string, Tensor<float>>> tensors;
  std::vector<std::pair<std::string, Tensor<int64_t>>> int_tensors;
  nlohmann::json meta = nlohmann::json::object();

  void add(const std::string& name, const Tensor<float>& t) {
    YOLITE_CHECK(!has(name), "checkpoint: duplicate tensor name '", name, "'");
    tensors.emplace_back(name, t);
  }
  void add_int(const std::string& name, const Tensor<int64_t>& t) {
    YOLITE_CHECK(!has(name), "checkpoint: duplicate tensor name '", name, "'");
    int_tensors.emplace_back(name, t);
  }
  void add_int(const std::string& name, int64_t v) {
    Tensor<int64_t> t{Shape{}};
    t[0] = v;
    add_int(name, t);
  }
  bool has(const std::string& name) const { return find(name) || find_int(name); }
  const Tensor<float>* find(const std::string& name) const {
    for (auto& [n, t] : tensors)
      if (n == name) return &t;
    return nullptr;
  }
  const Tensor<int64_t>* find_int(const std::string& name) const {
    for (auto& [n, t] : int_tensors)
      if (n == name) return &t;
    return nullptr;
  }
  const Tensor<float>& get(const std::string& name) const {
    auto* t = find(name);
    if (!t) fail("checkpoint: no float tensor named '", name, "'");
    return *t;
  }
  int64_t get_int(const std::string& name) const {
    auto* t = find_int(name);
    if (!t) fail("checkpoint: no integer tensor named '", name, "'");
    YOLITE_CHECK(t->numel() == 1, "checkpoint: integer tensor '", name, "' has shape ",
                 t->shape().str(), ", expected a scalar");
    return (*t)[0];
  }
};

namespace detail {
// CRC-32 over (name, dtype, shape, bytes) of every tensor in name order, then the meta text.
inline uint32_t checkpoint_checksum(std::vector<const TensorView*> order, const std::string& meta_text) {
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->name < b->name; });
  uint32_t c = 0;
  for (auto* v : order) {
    std::string head = v->name + '\0' + safetensors_dtype(v->dtype) + '\0' + shape_str(v->shape) + '\0';
    c = crc32(head.data(), head.size(), c);
    c = crc32(v->data, size_t(v->nbytes), c);
  }
  return crc32(meta_text.data(), meta_text.size(), c);
}
inline std::string crc_text(uint32_t c) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", c);
  return std::string("crc32:") + buf;
}
template <class T>
TensorView tensor_view(const std::string& name, const Tensor<T>& t, DType d) {
  YOLITE_CHECK(t.defined() || t.numel() == 0, "checkpoint: tensor '", name, "' is undefined");
  return {name, d, t.shape().vec(), t.data(), uint64_t(t.numel()) * sizeof(T)};
}
}  // namespace detail

// Writes straight from the tensors' memory (no copy), through a temporary file.
inline void save_checkpoint(const std::string& path, const Checkpoint& ck) {
  std::vector<TensorView> views;
  for (auto& [n, t] : ck.tensors) views.push_back(detail::tensor_view(n, t, DType::f32));
  for (auto& [n, t] : ck.int_tensors) views.push_back(detail::tensor_view(n, t, DType::i64));
  std::vector<const TensorView*> order;
  for (auto& v : views) order.push_back(&v);
  std::string meta = ck.meta.dump();
  std::map<std::string, std::string> md;
  md["format"] = "yolite.checkpoint";
  md["version"] = "1";
  md["meta"] = meta;
  md["checksum"] = detail::crc_text(detail::checkpoint_checksum(order, meta));
  save_safetensors(path, std::move(views), md);
}

// Reads F32 / I64 tensors straight into their Tensor memory; F16 / BF16 are widened.
inline Checkpoint load_checkpoint(const std::string& path) {
  BinaryFile f(path);
  SafetensorsIndex idx = read_safetensors_index(f);
  Checkpoint ck;
  std::vector<TensorView> views;  // raw bytes as stored, for the checksum
  std::vector<Array> others;      // F16 / BF16 / small ints before conversion
  others.reserve(idx.entries.size());
  for (auto& e : idx.entries) {
    uint64_t nb = e.end - e.begin;
    std::string what = str("tensor '", e.name, "'");
    if (e.dtype == DType::f32 || e.dtype == DType::i64) {
      YOLITE_CHECK(int(e.shape.size()) <= Shape::kMaxDims, path, ": ", what, " has more than ",
                   Shape::kMaxDims, " dimensions");
      if (e.dtype == DType::f32) {
        Tensor<float> t{Shape(e.shape)};
        f.read_into(e.begin, nb, t.data(), what);
        views.push_back({e.name, e.dtype, e.shape, t.data(), nb});
        ck.tensors.emplace_back(e.name, t);
      } else {
        Tensor<int64_t> t{Shape(e.shape)};
        f.read_into(e.begin, nb, t.data(), what);
        views.push_back({e.name, e.dtype, e.shape, t.data(), nb});
        ck.int_tensors.emplace_back(e.name, t);
      }
    } else if (e.dtype == DType::f64) {
      fail(path, ": ", what, " is F64; checkpoints hold F32");
    } else {
      Array a;
      a.name = str(path, ": ", what);
      a.dtype = e.dtype;
      a.shape = e.shape;
      a.bytes = f.read(e.begin, nb, what);
      others.push_back(std::move(a));
      views.push_back(view_of(e.name, others.back()));
      if (dtype_is_float(e.dtype)) ck.tensors.emplace_back(e.name, others.back().f32());
      else ck.int_tensors.emplace_back(e.name, others.back().i64_tensor());
    }
  }
  auto meta_it = idx.metadata.find("meta");
  std::string meta_text = meta_it == idx.metadata.end() ? std::string() : meta_it->second;
  auto sum_it = idx.metadata.find("checksum");
  if (sum_it != idx.metadata.end()) {
    std::vector<const TensorView*> order;
    for (auto& v : views) order.push_back(&v);
    std::string got = detail::crc_text(detail::checkpoint_checksum(order, meta_text));
    if (got != sum_it->second)
      fail(path, ": checkpoint is corrupted: checksum of its contents is ", got, ", the file says ",
           sum_it->second);
  } else if (idx.metadata.count("format") && idx.metadata.at("format") == "yolite.checkpoint") {
    fail(path, ": yolite checkpoint without its checksum (corrupted header?)");
  }
  if (!meta_text.empty()) {
    ck.meta = nlohmann::json::parse(meta_text, nullptr, false);
    if (ck.meta.is_discarded()) fail(path, ": checkpoint metadata is not valid JSON");
  }
  return ck;
}

}  // namespace yolite::io
