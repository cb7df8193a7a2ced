// io/torch_pt.hpp -- import a YOLOv5 checkpoint (.pt from PyTorch: yolov5s.pt, best.pt, last.pt).
//
//   io::TorchCheckpoint ck = io::load_yolov5_pt("yolov5s.pt");
//   for (auto& [name, t] : ck.state) ...        // "model.0.conv.weight" [32, 3, 6, 6], float32
//   ck.int_buffers["model.0.bn.num_batches_tracked"];   // int64 scalars
//   ck.names;  ck.nc;  ck.stride;  ck.depth_multiple;  ck.width_multiple;  ck.anchors_px;
//
// A .pt file is a zip archive: `<folder>/data.pkl` is a pickle of a dict {'epoch', 'model', 'ema',
// 'optimizer', 'opt', ...} whose 'model' (and 'ema') are whole nn.Module objects, and
// `<folder>/data/<key>` holds the raw bytes of each storage. We unpickle with the restricted
// unpickler (io/pickle.hpp, which runs no code), take `ema` when present and not None, else
// `model` (like YOLOv5's attempt_load), and walk the module tree the way PyTorch's state_dict()
// does: a module's `_parameters`, then its persistent `_buffers`, then each child of `_modules`
// with "<child name>." prefixed. Half/bfloat16/double tensors become float32 (fp16 -> fp32 is
// exact); integer scalars (num_batches_tracked) go to int_buffers. Only contiguous tensors are
// accepted. Also read: class names (`names`, a list or an {index: name} dict), nc (from the
// Detect head, else the yaml), `stride`, the model yaml (depth/width multiple, anchors) and, as
// JSON, the other plain entries of the checkpoint (epoch, best_fitness, date, opt, git, ...).
// Also accepted: a pickled module saved on its own, or a state dict ({name: tensor}).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "array.hpp"
#include "checkpoint.hpp"
#include "half.hpp"
#include "pickle.hpp"
#include "zip.hpp"

namespace yolite::io {

struct TorchCheckpoint {
  std::vector<std::pair<std::string, Tensor<float>>> state;  // floating entries, state_dict order
  std::map<std::string, int64_t> int_buffers;                  // integer scalars (num_batches_tracked)
  std::vector<std::string> keys;                               // every state_dict name, in order
  std::vector<std::string> parameters;                         // names that are nn.Parameters
  std::vector<std::string> names;                              // class names
  int nc = 0;
  std::vector<float> stride;                                   // e.g. {8, 16, 32}
  double depth_multiple = 0, width_multiple = 0;               // from the model yaml (0 if absent)
  std::vector<std::vector<float>> anchors_px;                  // per level: w0,h0,w1,h1,... pixels
  nlohmann::json yaml;                                         // the model yaml dict
  std::string yaml_text;                                       // or its text (state-dict exports)
  nlohmann::json info;                                         // epoch, best_fitness, date, opt, ...
  std::string source;                                          // "ema", "model", "module", "state_dict"

  const Tensor<float>* find(const std::string& name) const {
    for (auto& [n, t] : state)
      if (n == name) return &t;
    return nullptr;
  }
  const Tensor<float>& get(const std::string& name) const {
    auto* t = find(name);
    if (!t) fail("YOLOv5 checkpoint: no tensor named '", name, "'");
    return *t;
  }
  // Number of parameter values (what YOLOv5 prints as "parameters").
  int64_t num_parameters() const {
    int64_t n = 0;
    std::set<std::string> p(parameters.begin(), parameters.end());
    for (auto& [k, t] : state)
      if (p.count(k)) n += t.numel();
    return n;
  }
};

namespace detail {

using pickle::Kind;
using pickle::Value;

// Plain pickled data as JSON (dicts with string/int keys, lists, tuples, numbers, strings);
// anything else becomes a descriptive string such as "<pathlib.PosixPath object>". Depth and
// the total number of values converted are capped (`budget`), so shared or self-referencing
// containers cannot make it run away.
inline nlohmann::json pickle_to_json(const Value* v, int depth, int64_t& budget) {
  if (depth > 32 || --budget < 0) return "...";
  switch (v->kind) {
    case Kind::None: return nullptr;
    case Kind::Bool: return v->b;
    case Kind::Int: return v->i;
    case Kind::Float: return std::isfinite(v->f) ? nlohmann::json(v->f) : nlohmann::json(str(v->f));
    case Kind::Str: return v->s;
    case Kind::Tuple: case Kind::List: case Kind::Set: {
      auto a = nlohmann::json::array();
      for (auto* x : v->items) a.push_back(pickle_to_json(x, depth + 1, budget));
      return a;
    }
    case Kind::Dict: {
      auto o = nlohmann::json::object();
      for (auto& [k, x] : v->dict) {
        std::string key = k->kind == Kind::Str ? k->s : k->kind == Kind::Int ? std::to_string(k->i) : k->repr();
        o[key] = pickle_to_json(x, depth + 1, budget);
      }
      return o;
    }
    case Kind::Object:
      // pathlib paths: the argument tuple holds the parts
      if (v->qualname().rfind("pathlib.", 0) == 0 && v->args) {
        std::string p;
        for (auto* x : v->args->items)
          if (x->kind == Kind::Str) p += (p.empty() || p.back() == '/' ? "" : "/") + x->s;
        return p;
      }
      return v->repr();
    default: return v->repr();
  }
}
inline nlohmann::json pickle_to_json(const Value* v) {
  int64_t budget = 100000;
  return pickle_to_json(v, 0, budget);
}

class PtReader {
 public:
  PtReader(const std::string& path, ZipReader& zip, std::string prefix)
      : path_(path), zip_(zip), prefix_(std::move(prefix)) {}

  // Float32 values of a rebuilt tensor (contiguous only).
  Tensor<float> tensor_f32(const Value* t, const std::string& name) {
    auto [raw, dtype] = storage_bytes(t, name);
    Shape shape = tensor_shape(t, name);
    Tensor<float> out(shape);
    const auto* p = reinterpret_cast<const unsigned char*>(raw->data()) + t->offset * dtype_size(dtype);
    const int64_t n = out.numel();
    switch (dtype) {
      case DType::f32: if (n) std::memcpy(out.data(), p, size_t(n) * 4); break;
      case DType::f16: for (int64_t i = 0; i < n; ++i) out[i] = half_to_float(le16(p + 2 * i)); break;
      case DType::bf16: for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_float(le16(p + 2 * i)); break;
      case DType::f64:
        for (int64_t i = 0; i < n; ++i) {
          double d;
          std::memcpy(&d, p + 8 * i, 8);
          out[i] = float(d);
        }
        break;
      default: fail(path_, ": tensor '", name, "' is ", dtype_name(dtype), ", expected floating point");
    }
    return out;
  }
  std::vector<int64_t> tensor_i64(const Value* t, const std::string& name) {
    auto [raw, dtype] = storage_bytes(t, name);
    Shape shape = tensor_shape(t, name);
    Array a;
    a.dtype = dtype;
    a.shape = shape.vec();
    a.name = str(path_, ": tensor '", name, "'");
    a.bytes.assign(raw->data() + t->offset * dtype_size(dtype), size_t(shape.numel()) * dtype_size(dtype));
    return a.i64();
  }

 private:
  Shape tensor_shape(const Value* t, const std::string& name) const {
    YOLITE_CHECK(int(t->size.size()) <= Shape::kMaxDims, path_, ": tensor '", name, "' has ",
                 t->size.size(), " dimensions (at most ", Shape::kMaxDims, " supported)");
    return Shape(t->size);
  }
  // The storage bytes (cached) after checking that the tensor lies inside it, contiguously.
  std::pair<const std::string*, DType> storage_bytes(const Value* t, const std::string& name) {
    const Value* s = t->storage;
    int64_t numel = checked_numel(t->size, str(path_, ": tensor '", name, "'"));
    int64_t expect = 1;
    for (size_t k = t->size.size(); k-- > 0;) {
      if (t->size[k] != 1 && t->stride[k] != expect)
        fail(path_, ": tensor '", name, "' is not contiguous (size ", shape_str(t->size), ", stride ",
             shape_str(t->stride), "); only contiguous tensors are supported");
      expect *= t->size[k];
    }
    if (t->offset < 0 || t->offset > s->numel || numel > s->numel - t->offset)
      fail(path_, ": tensor '", name, "' (offset ", t->offset, ", ", numel,
           " elements) lies outside its storage '", s->s, "' of ", s->numel, " elements");
    if (cached_key_ != s->s || !cached_valid_) {
      // Only the last storage is kept: tensors rarely share one, and this keeps the memory of
      // a large model at one copy of the weights plus one storage.
      std::string member = prefix_ + "data/" + s->s;
      if (!zip_.has(member)) fail(path_, ": storage '", s->s, "' (", member, ") is missing from the archive");
      uint64_t want = uint64_t(s->numel) * uint64_t(dtype_size(s->dtype));
      uint64_t have = zip_.entry(member).size;
      if (have < want)
        fail(path_, ": storage '", s->s, "' holds ", have, " bytes, its ", s->name, " of ", s->numel,
             " elements needs ", want);
      cached_valid_ = false;
      cached_ = zip_.read(member);
      cached_key_ = s->s;
      cached_valid_ = true;
    }
    return {&cached_, s->dtype};
  }

  std::string path_;
  ZipReader& zip_;
  std::string prefix_;
  std::string cached_key_, cached_;
  bool cached_valid_ = false;
};

struct ModuleWalker {
  const std::string& path;
  PtReader& reader;
  TorchCheckpoint& out;
  std::vector<const Value*> ancestors;

  void add_tensor(const std::string& name, const Value* t, bool is_param) {
    if (out.keys.size() >= 1000000) fail(path, ": more than a million state entries; refusing");
    if (t->kind != Kind::Tensor) fail(path, ": state entry '", name, "' is ", t->repr(), ", expected a tensor");
    out.keys.push_back(name);
    if (is_param) out.parameters.push_back(name);
    if (dtype_is_float(t->dtype)) {
      out.state.emplace_back(name, reader.tensor_f32(t, name));
    } else {
      auto v = reader.tensor_i64(t, name);
      if (v.size() != 1)
        fail(path, ": integer tensor '", name, "' has ", v.size(), " values; only integer scalars are supported");
      out.int_buffers[name] = v[0];
    }
  }

  int64_t visits = 0;

  void walk(const Value* m, const std::string& prefix) {
    if (ancestors.size() > 64) fail(path, ": module tree deeper than 64 levels at '", prefix, "'");
    // a module shared many times over could make the walk exponential: cap it
    if (++visits > 100000) fail(path, ": more than 100000 modules in the model tree; refusing");
    for (auto* a : ancestors)
      if (a == m) fail(path, ": module tree has a cycle at '", prefix, "'");
    if (m->kind != Kind::Object || !m->state || m->state->kind != Kind::Dict)
      fail(path, ": '", prefix.empty() ? "model" : prefix, "' is ", m->repr(), ", expected an nn.Module");
    ancestors.push_back(m);
    std::set<std::string> non_persistent;
    if (const Value* np = m->get("_non_persistent_buffers_set"))
      for (auto* x : np->items)
        if (x->kind == Kind::Str) non_persistent.insert(x->s);
    auto entries = [&](const char* field) -> const std::vector<std::pair<const Value*, const Value*>>* {
      const Value* d = m->get(field);
      if (!d || d->is_none()) return nullptr;
      if (d->kind != Kind::Dict) fail(path, ": ", prefix, field, " is ", d->repr(), ", expected a dict");
      return &d->dict;
    };
    auto key_of = [&](const Value* k) {
      if (k->kind != Kind::Str) fail(path, ": non-string key ", k->repr(), " in module '", prefix, "'");
      return k->s;
    };
    if (auto* ps = entries("_parameters"))
      for (auto& [k, v] : *ps)
        if (!v->is_none()) add_tensor(prefix + key_of(k), v, true);
    if (auto* bs = entries("_buffers"))
      for (auto& [k, v] : *bs)
        if (!v->is_none() && !non_persistent.count(key_of(k))) add_tensor(prefix + key_of(k), v, false);
    if (auto* ms = entries("_modules"))
      for (auto& [k, v] : *ms)
        if (!v->is_none()) walk(v, prefix + key_of(k) + ".");
    ancestors.pop_back();
  }
};

inline std::vector<float> tensor_values(PtReader& r, const Value* t, const std::string& name) {
  Tensor<float> x = r.tensor_f32(t, name);
  return std::vector<float>(x.begin(), x.end());
}

}  // namespace detail

// The part of load_yolov5_pt after the archive is open: unpickle `pkl_bytes` (data.pkl) and
// read the storages from `zip` under `prefix` ("<folder>/").
inline TorchCheckpoint load_yolov5_pickle(const std::string& path, ZipReader& zip,
                                          const std::string& prefix, const std::string& pkl_bytes) {
  using pickle::Kind;
  using pickle::Value;
  pickle::Pickle p = pickle::unpickle(pkl_bytes, path + ": " + prefix + "data.pkl");
  const Value* root = p.root();

  TorchCheckpoint out;
  detail::PtReader reader(path, zip, prefix);
  detail::ModuleWalker walker{path, reader, out, {}};
  const Value* model = nullptr;
  const Value* state_dict = nullptr;
  auto is_state_dict = [](const Value* v) {
    if (v->kind != Kind::Dict || v->dict.empty()) return false;
    for (auto& [k, x] : v->dict)
      if (k->kind != Kind::Str || x->kind != Kind::Tensor) return false;
    return true;
  };
  if (root->kind == Kind::Object) {
    model = root;
    out.source = "module";
  } else if (is_state_dict(root)) {
    state_dict = root;
    out.source = "state_dict";
  } else if (root->kind == Kind::Dict) {
    const Value* ema = root->get("ema");
    const Value* m = root->get("model");
    if (ema && !ema->is_none()) {
      model = ema;
      out.source = "ema";
    } else if (m && !m->is_none()) {
      model = m;
      out.source = "model";
    } else {
      std::string keys;
      for (auto& [k, v] : root->dict) keys += (keys.empty() ? "" : ", ") + k->repr();
      fail(path, ": the checkpoint dict has neither 'ema' nor 'model' (keys: ", keys, ")");
    }
    if (is_state_dict(model)) state_dict = model, model = nullptr;
    for (auto& [k, v] : root->dict) {
      if (k->kind != Kind::Str || k->s == "model" || k->s == "ema" || k->s == "optimizer") continue;
      out.info[k->s] = detail::pickle_to_json(v);
    }
  } else {
    fail(path, ": data.pkl holds ", root->repr(), ", expected a checkpoint dict or a module");
  }

  // names, yaml and stride: attributes of the model object, or entries of the checkpoint dict
  // beside a state dict ({'model': state_dict, 'names', 'yaml', 'stride'}: yolite export --include pt)
  const Value* meta = model;
  if (state_dict) {
    // A bare state dict does not say which entries are parameters: BN running statistics,
    // num_batches_tracked and Detect anchors are YOLOv5's buffers, everything else a parameter.
    auto ends_with = [](const std::string& a, const char* b) {
      size_t n = std::strlen(b);
      return a.size() >= n && a.compare(a.size() - n, n, b) == 0;
    };
    for (auto& [k, v] : state_dict->dict) {
      bool buffer = ends_with(k->s, ".running_mean") || ends_with(k->s, ".running_var") ||
                    ends_with(k->s, ".num_batches_tracked") || ends_with(k->s, ".anchors");
      walker.add_tensor(k->s, v, !buffer);
    }
    if (state_dict == root) return out;
    meta = root;
  } else {
    walker.walk(model, "");
  }

  // names: a list of strings or an {index: name} dict
  if (const Value* n = meta->get("names")) {
    if (n->kind == Kind::List || n->kind == Kind::Tuple) {
      for (auto* x : n->items) out.names.push_back(x->kind == Kind::Str ? x->s : x->repr());
    } else if (n->kind == Kind::Dict) {
      std::map<int64_t, std::string> m;
      for (auto& [k, x] : n->dict)
        if (k->kind == Kind::Int) m[k->i] = x->kind == Kind::Str ? x->s : x->repr();
      for (auto& [i, s] : m) {
        if (i != int64_t(out.names.size())) fail(path, ": class names dict is missing index ", out.names.size());
        out.names.push_back(s);
      }
    }
  }
  if (const Value* y = meta->get("yaml"); y && y->kind == Kind::Str) out.yaml_text = y->s;
  if (const Value* y = meta->get("yaml"); y && y->kind == Kind::Dict) {
    out.yaml = detail::pickle_to_json(y);
    auto num = [&](const char* k) -> double {
      const Value* v = y->get(k);
      if (!v) return 0;
      return v->kind == Kind::Float ? v->f : v->kind == Kind::Int ? double(v->i) : 0;
    };
    out.depth_multiple = num("depth_multiple");
    out.width_multiple = num("width_multiple");
  }
  if (const Value* s = meta->get("stride"); s && s->kind == Kind::Tensor) {
    out.stride = detail::tensor_values(reader, s, "stride");
  } else if (s && (s->kind == Kind::List || s->kind == Kind::Tuple)) {
    for (const Value* x : s->items) {
      if (x->kind != Kind::Int && x->kind != Kind::Float) fail(path, ": 'stride' holds ", x->repr(), ", expected numbers");
      out.stride.push_back(x->kind == Kind::Int ? float(x->i) : float(x->f));
    }
  }
  // The Detect head: the last child of model.model with 'nc' and 'anchors'.
  const Value* detect = nullptr;
  if (const Value* seq = model && model->get("_modules") ? model->get("_modules")->get("model") : nullptr)
    if (const Value* mods = seq->get("_modules"); mods && !mods->dict.empty()) detect = mods->dict.back().second;
  if (detect && detect->get("nc") && detect->get("nc")->kind == Kind::Int) out.nc = int(detect->get("nc")->i);
  else if (const Value* nc = meta->get("nc"); nc && nc->kind == Kind::Int) out.nc = int(nc->i);
  else if (out.yaml.contains("nc") && out.yaml["nc"].is_number_integer()) out.nc = out.yaml["nc"].get<int>();
  else out.nc = int(out.names.size());
  // Anchors in pixels: the Detect buffer (grid units, possibly AutoAnchor-ed) times the stride;
  // the yaml's anchors when the buffer is absent.
  const Tensor<float>* grid_anchors = nullptr;
  for (auto& [k, t] : out.state)
    if (k.size() > 8 && k.compare(k.size() - 8, 8, ".anchors") == 0) grid_anchors = &t;
  if (grid_anchors && grid_anchors->ndim() == 3 && grid_anchors->size(2) == 2 &&
      int64_t(out.stride.size()) == grid_anchors->size(0)) {
    for (int64_t l = 0; l < grid_anchors->size(0); ++l) {
      std::vector<float> lv;
      for (int64_t a = 0; a < grid_anchors->size(1); ++a)
        for (int c = 0; c < 2; ++c) lv.push_back(grid_anchors->at(l, a, c) * out.stride[size_t(l)]);
      out.anchors_px.push_back(lv);
    }
  } else if (out.yaml.contains("anchors") && out.yaml["anchors"].is_array()) {
    for (auto& lvl : out.yaml["anchors"]) {
      std::vector<float> lv;
      if (lvl.is_array())
        for (auto& x : lvl)
          if (x.is_number()) lv.push_back(x.get<float>());
      out.anchors_px.push_back(lv);
    }
  }
  if (out.names.empty() && out.nc > 0)
    for (int i = 0; i < out.nc; ++i) out.names.push_back(std::to_string(i));
  return out;
}

inline TorchCheckpoint load_yolov5_pt(const std::string& path) {
  {
    BinaryFile f(path);
    std::string head = f.read(0, std::min<uint64_t>(f.size(), 4), "file magic");
    if (head.size() >= 3 && uint8_t(head[0]) == 0x80 && uint8_t(head[1]) == 0x02 && uint8_t(head[2]) == 0x8a)
      fail(path, ": legacy (pre-1.6) PyTorch serialization format; re-save it with a newer torch "
                 "(torch.save(torch.load(f), f)) to get the zip format");
    if (head.rfind("PK", 0) != 0)
      fail(path, ": not a PyTorch checkpoint (expected a zip archive starting with 'PK')");
  }
  ZipReader zip(path);
  std::string pkl;
  for (const auto& e : zip.entries()) {
    auto slash = e.name.find('/');
    if (slash != std::string::npos && e.name.substr(slash + 1) == "data.pkl") {
      pkl = e.name;
      break;
    }
  }
  if (pkl.empty()) fail(path, ": no <folder>/data.pkl in the archive: not a PyTorch checkpoint");
  std::string prefix = pkl.substr(0, pkl.size() - 8);
  if (zip.has(prefix + "byteorder")) {
    std::string order = zip.read(prefix + "byteorder");
    if (order != "little") fail(path, ": storages are stored '", order, "'-endian; only little-endian is supported");
  }
  return load_yolov5_pickle(path, zip, prefix, zip.read(pkl));
}

// A YOLOv5 .pt import as a yolite Checkpoint (state dict order kept); its meta holds "source"
// ("yolov5.pt"), "names", "nc", "stride", "depth_multiple", "width_multiple", "anchors_px" (per
// level [w0,h0,w1,...]), "yaml" (the model yaml) and "info" (epoch, best_fitness, date, opt, ...).
inline Checkpoint to_checkpoint(const TorchCheckpoint& t) {
  Checkpoint ck;
  size_t fi = 0;
  for (const auto& k : t.keys) {
    if (fi < t.state.size() && t.state[fi].first == k) {
      ck.add(k, t.state[fi].second);
      ++fi;
    } else {
      ck.add_int(k, t.int_buffers.at(k));
    }
  }
  ck.meta = {{"source", "yolov5.pt"},
             {"names", t.names},
             {"nc", t.nc},
             {"stride", t.stride},
             {"depth_multiple", t.depth_multiple},
             {"width_multiple", t.width_multiple},
             {"anchors_px", t.anchors_px},
             {"yaml", t.yaml},
             {"info", t.info}};
  return ck;
}

}  // namespace yolite::io
