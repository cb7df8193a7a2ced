// export/torch_pt.hpp -- a model's weights for PyTorch: a state-dict checkpoint YOLOv5 can load,
// and the same tensors as safetensors.
//
//   export_pt(*m, "best_yolov5.pt");              // torch.load(f, weights_only=True) reads it
//   export_safetensors(*m, "best.safetensors");
//
// The .pt is a torch zip archive (format version 3: `<stem>/data.pkl`, `<stem>/byteorder`,
// `<stem>/data/<k>`, `<stem>/version`) whose data.pkl is the dict
//   {'model': OrderedDict(state_dict), 'names': {0: 'bottle', ...}, 'nc': 1,
//    'stride': [8, 16, 32], 'yaml': '<the model yaml text>'}
// with the keys and shapes of YOLOv5's DetectionModel.state_dict() (parameters, BN running
// statistics, num_batches_tracked as int64, Detect's anchors in grid units), float32. A
// PyTorch YOLOv5 user rebuilds the network from the yaml and loads the weights:
//   ckpt = torch.load('best_yolov5.pt', weights_only=True)
//   model = DetectionModel(yaml.safe_load(ckpt['yaml']));  model.load_state_dict(ckpt['model'])
// The yaml is text, not a dict, because PyTorch 1.13's weights_only unpickler has no opcode
// for floats (depth_multiple is 0.33). yolite reads the file back as weights (model/weights.hpp).
// The safetensors file holds the same tensors under the same names, with "names" (JSON),
// "stride" and "yaml" in its __metadata__.
#pragma once
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/error.hpp"
#include "../io/pickle_writer.hpp"
#include "../io/safetensors.hpp"
#include "../io/zip.hpp"
#include "../model/cfg_yaml.hpp"
#include "../model/yolo.hpp"

namespace yolite {

namespace export_detail {
// One state-dict entry with its bytes (float32 or int64), in state_dict() order.
struct Entry {
  std::string name;
  bool is_int = false;
  std::vector<int64_t> shape;
  std::string bytes;
};
inline std::vector<Entry> state_entries(const model::YoloModel& m) {
  auto floats = m.state_dict();
  auto ints = m.int_buffers();
  std::vector<Entry> out;
  size_t fi = 0, ii = 0;
  for (const auto& k : m.state_keys()) {
    Entry e;
    e.name = k.name;
    e.is_int = k.is_int;
    if (k.is_int) {
      YOLITE_CHECK(ii < ints.size() && ints[ii].first == k.name, "export: state order mismatch at ", k.name);
      const int64_t v = *ints[ii++].second;
      e.bytes.assign(reinterpret_cast<const char*>(&v), 8);
    } else {
      YOLITE_CHECK(fi < floats.size() && floats[fi].first == k.name, "export: state order mismatch at ", k.name);
      const Tensor<float>& t = floats[fi++].second;
      e.shape = t.shape().vec();
      e.bytes.assign(reinterpret_cast<const char*>(t.data()), size_t(t.numel()) * 4);
    }
    out.push_back(std::move(e));
  }
  return out;
}
inline std::vector<int64_t> int_strides(const model::YoloModel& m) {
  std::vector<int64_t> s;
  for (double x : m.stride()) s.push_back(int64_t(x));
  return s;
}
// The zip folder name: the file stem as PyTorch writes it, reduced to [A-Za-z0-9_].
inline std::string archive_name(const std::string& path) {
  std::string n = std::filesystem::path(path).stem().string(), r;
  for (char c : n) r += (std::isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
  return r.empty() ? std::string("archive") : r;
}
}  // namespace export_detail

// The model's weights as a PyTorch state-dict checkpoint (see the top comment), written atomically.
inline void export_pt(const model::YoloModel& m, const std::string& path) {
  const auto entries = export_detail::state_entries(m);
  io::PickleWriter p;
  p.begin_dict();
  p.str("model");
  p.begin_ordered_dict();
  for (size_t k = 0; k < entries.size(); ++k) {
    const auto& e = entries[k];
    p.str(e.name);
    p.tensor(std::to_string(k), e.is_int ? "LongStorage" : "FloatStorage", e.shape,
             int64_t(e.bytes.size() / (e.is_int ? 8 : 4)));
  }
  p.end_ordered_dict();
  p.str("names");
  p.begin_dict();
  for (size_t c = 0; c < m.names.size(); ++c) {
    p.integer(int64_t(c));
    p.str(m.names[c]);
  }
  p.end_dict();
  p.str("nc");
  p.integer(m.nc());
  p.str("stride");
  p.begin_list();
  for (int64_t s : export_detail::int_strides(m)) p.integer(s);
  p.end_list();
  p.str("yaml");
  p.str(model::spec_to_yaml(m.spec()));
  p.end_dict();

  const std::string dir = export_detail::archive_name(path) + "/";
  io::ZipWriter z(path);
  z.add(dir + "data.pkl", p.finish());
  z.add(dir + "byteorder", "little");
  for (size_t k = 0; k < entries.size(); ++k) z.add(dir + "data/" + std::to_string(k), entries[k].bytes);
  z.add(dir + "version", "3\n");
  z.finish();
}

// The same tensors as a safetensors file (F32, num_batches_tracked I64), written atomically.
inline void export_safetensors(const model::YoloModel& m, const std::string& path) {
  const auto entries = export_detail::state_entries(m);
  std::vector<io::TensorView> views;
  for (const auto& e : entries)
    views.push_back({e.name, e.is_int ? io::DType::i64 : io::DType::f32, e.shape, e.bytes.data(), e.bytes.size()});
  std::map<std::string, std::string> meta;
  meta["format"] = "pt";
  meta["names"] = nlohmann::json(m.names).dump();
  meta["nc"] = std::to_string(m.nc());
  meta["stride"] = nlohmann::json(export_detail::int_strides(m)).dump();
  meta["yaml"] = model::spec_to_yaml(m.spec());
  io::save_safetensors(path, std::move(views), meta);
}

}  // namespace yolite
