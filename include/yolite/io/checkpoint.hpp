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
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "array.hpp"
#include "crc32.hpp"
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
inline uint32_t checkpoint_checksum(const Safetensors& st, const std::string& meta_text) {
  std::vector<const std::pair<std::string, Array>*> order;
  for (auto& e : st.tensors) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->first < b->first; });
  uint32_t c = 0;
  for (auto* e : order) {
    std::string head = e->first + '\0' + safetensors_dtype(e->second.dtype) + '\0' +
                       shape_str(e->second.shape) + '\0';
    c = crc32(head.data(), head.size(), c);
    c = crc32(e->second.bytes.data(), e->second.bytes.size(), c);
  }
  return crc32(meta_text.data(), meta_text.size(), c);
}
inline std::string crc_text(uint32_t c) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", c);
  return std::string("crc32:") + buf;
}
}  // namespace detail

inline void save_checkpoint(const std::string& path, const Checkpoint& ck) {
  Safetensors st;
  for (auto& [n, t] : ck.tensors) {
    YOLITE_CHECK(t.defined() || t.numel() == 0, path, ": tensor '", n, "' is undefined");
    st.add(n, Array::from(t, n));
  }
  for (auto& [n, t] : ck.int_tensors) st.add(n, Array::from(t, n));
  std::string meta = ck.meta.dump();
  st.metadata["format"] = "yolite.checkpoint";
  st.metadata["version"] = "1";
  st.metadata["meta"] = meta;
  st.metadata["checksum"] = detail::crc_text(detail::checkpoint_checksum(st, meta));
  save_safetensors(path, st);
}

inline Checkpoint load_checkpoint(const std::string& path) {
  Safetensors st = load_safetensors(path);
  Checkpoint ck;
  auto meta_it = st.metadata.find("meta");
  std::string meta_text = meta_it == st.metadata.end() ? std::string() : meta_it->second;
  auto sum_it = st.metadata.find("checksum");
  if (sum_it != st.metadata.end()) {
    std::string got = detail::crc_text(detail::checkpoint_checksum(st, meta_text));
    if (got != sum_it->second)
      fail(path, ": checkpoint is corrupted: checksum of its contents is ", got,
           ", the file says ", sum_it->second);
  } else if (st.metadata.count("format") && st.metadata["format"] == "yolite.checkpoint") {
    fail(path, ": yolite checkpoint without its checksum (corrupted header?)");
  }
  if (!meta_text.empty()) {
    ck.meta = nlohmann::json::parse(meta_text, nullptr, false);
    if (ck.meta.is_discarded()) fail(path, ": checkpoint metadata is not valid JSON");
  }
  for (auto& [n, a] : st.tensors) {
    if (dtype_is_float(a.dtype)) {
      if (a.dtype == DType::f64) fail(path, ": tensor '", n, "' is F64; checkpoints hold F32");
      ck.tensors.emplace_back(n, a.f32());
    } else {
      ck.int_tensors.emplace_back(n, a.i64_tensor());
    }
  }
  return ck;
}

}  // namespace yolite::io
