// io/weights.hpp -- load model weights from any file yolite understands, by content.
//
//   io::Checkpoint w = io::load_weights("yolov5s.pt");          // PyTorch YOLOv5 checkpoint
//   io::Checkpoint w = io::load_weights("last.safetensors");    // yolite checkpoint / safetensors
//   io::Checkpoint w = io::load_weights("state.npz");           // numpy.savez of a state dict
//   for (auto& [name, t] : w.tensors) ...                       // PyTorch state_dict names
//   w.meta["names"], w.meta["nc"], w.meta["depth_multiple"], ...
//
// The format is recognised from the first bytes, not the extension: "PK" is a zip (a .pt when
// it holds <folder>/data.pkl, else an .npz), anything else is tried as safetensors. A .pt is
// converted with to_checkpoint() below, whose meta holds: "source" ("yolov5.pt"), "names",
// "nc", "stride", "depth_multiple", "width_multiple", "anchors_px" (per level [w0,h0,w1,...]),
// "yaml" (the model yaml) and "info" (epoch, best_fitness, date, opt, ...). Integer entries
// (num_batches_tracked) go to int_tensors as scalars.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "../core/error.hpp"
#include "checkpoint.hpp"
#include "file.hpp"
#include "npy.hpp"
#include "torch_pt.hpp"
#include "zip.hpp"

namespace yolite::io {

// A YOLOv5 .pt import as a yolite Checkpoint (state dict order kept).
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

inline Checkpoint load_weights(const std::string& path) {
  std::string magic;
  {
    BinaryFile f(path);
    magic = f.read(0, std::min<uint64_t>(f.size(), 4), "file magic");
  }
  if (magic.rfind("PK", 0) == 0) {
    bool torch = false;
    {
      ZipReader z(path);
      for (const auto& e : z.entries()) {
        auto slash = e.name.find('/');
        if (slash != std::string::npos && e.name.substr(slash + 1) == "data.pkl") torch = true;
      }
    }
    if (torch) return to_checkpoint(load_yolov5_pt(path));
    Npz n = load_npz(path);
    Checkpoint ck;
    for (const auto& k : n.keys()) {
      const Array& a = n.get(k);
      if (dtype_is_float(a.dtype)) {
        if (a.dtype == DType::f64) fail(path, ": array '", k, "' is float64; weights must be float32/float16");
        ck.add(k, a.f32());
      } else {
        ck.add_int(k, a.i64_tensor());
      }
    }
    ck.meta = {{"source", "npz"}};
    return ck;
  }
  if (magic.size() >= 3 && uint8_t(magic[0]) == 0x80 && uint8_t(magic[1]) == 0x02)
    return to_checkpoint(load_yolov5_pt(path));  // throws the "legacy format" message
  return load_checkpoint(path);
}

}  // namespace yolite::io
