// model/cfg_yaml.hpp -- read a YOLOv5 model yaml (models/yolov5s.yaml format) into a ModelSpec.
//
//   model::ModelSpec s = model::load_model_spec("yolov5s");        // built-in, no file needed
//   model::ModelSpec c = model::load_model_spec("cfg/custom.yaml");  // a YOLOv5-format yaml
//   auto m = std::make_shared<model::YoloModel>(c, /*nc=*/5);
//   model::ModelSpec p = model::spec_from_json(ck.yaml, "yolov5s");  // a checkpoint's yaml dict
//
// The yaml holds nc, depth_multiple, width_multiple, anchors (a list of per-level lists of
// pixel w,h pairs) and backbone/head lists of [from, number, module, args] rows; the library's
// YAML reader (data/yaml.hpp) reads the file. Names that resolve to a built-in model (yolov5n..x,
// with or without .yaml, with or without a directory) are served from spec.hpp when no such
// file exists, so `--cfg yolov5s.yaml` works anywhere. spec_to_yaml writes a spec back in
// YOLOv5's layout through the same library's writer.
#pragma once
#include <cctype>
#include <cmath>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "../data/yaml.hpp"
#include "spec.hpp"

namespace yolite::model {

// A model yaml's text as JSON: data/yaml.hpp reads it (errors say "file:line: ..."), scalars
// typed as PyYAML types them (data::yaml_to_json).
inline nlohmann::json parse_model_yaml(std::string_view text, const std::string& what) {
  nlohmann::json y = data::yaml_to_json(data::parse_yaml(text, what));
  YOLITE_CHECK(y.is_object(), what, ": expected 'key: value' lines at the top level");
  return y;
}

namespace yaml_detail {
inline std::string arg_text(const nlohmann::json& a) {
  if (a.is_null()) return "None";
  if (a.is_boolean()) return a.get<bool>() ? "True" : "False";
  if (a.is_string()) return a.get<std::string>();
  return a.dump();
}
}  // namespace yaml_detail

// A spec from a parsed model yaml (parse_model_yaml's output, or a YOLOv5 checkpoint's
// `model.yaml` dict, where YOLOv5 has already replaced 'nc'/'anchors' by their values).
inline ModelSpec spec_from_json(const nlohmann::json& y, std::string name, const std::string& what = "model yaml") {
  YOLITE_CHECK(y.is_object(), what, ": expected a mapping at the top level");
  ModelSpec s;
  s.name = std::move(name);
  auto number = [&](const char* k, double def) {
    if (!y.contains(k)) return def;
    YOLITE_CHECK(y[k].is_number(), what, ": '", k, "' must be a number, got ", y[k].dump());
    return y[k].get<double>();
  };
  s.nc = int(number("nc", 80));
  s.depth_multiple = number("depth_multiple", 1.0);
  s.width_multiple = number("width_multiple", 1.0);
  YOLITE_CHECK(s.depth_multiple > 0 && s.width_multiple > 0, what,
               ": depth_multiple and width_multiple must be positive");
  if (!y.contains("anchors")) {
    s.anchors = yolov5_default_anchors();
  } else {
    const auto& a = y["anchors"];
    YOLITE_CHECK(a.is_array(), what, ": 'anchors' must be a list of per-level [w,h, w,h, ...] ",
                 "lists in pixels (a count such as 'anchors: 3' needs AutoAnchor, which is not ",
                 "supported), got ", a.dump());
    for (size_t l = 0; l < a.size(); ++l) {
      YOLITE_CHECK(a[l].is_array() && !a[l].empty() && a[l].size() % 2 == 0, what,
                   ": anchors level ", l, " must be a list of w,h pairs, got ", a[l].dump());
      std::vector<double> lv;
      for (auto& v : a[l]) {
        YOLITE_CHECK(v.is_number(), what, ": anchors level ", l, ": not a number: ", v.dump());
        lv.push_back(v.get<double>());
      }
      s.anchors.push_back(lv);
    }
  }
  for (const char* part : {"backbone", "head"}) {
    YOLITE_CHECK(y.contains(part) && y[part].is_array(), what, ": missing the '", part,
                 "' list of [from, number, module, args] rows");
    for (auto& row : y[part]) {
      const size_t idx = s.layers.size();
      YOLITE_CHECK(row.is_array() && row.size() == 4, what, ": ", part, " layer ", idx,
                   ": expected [from, number, module, args], got ", row.dump());
      LayerSpec L;
      if (row[0].is_number_integer()) {
        L.from = {row[0].get<int>()};
      } else {
        YOLITE_CHECK(row[0].is_array() && !row[0].empty(), what, ": layer ", idx,
                     ": 'from' must be an integer or a list of integers, got ", row[0].dump());
        for (auto& f : row[0]) {
          YOLITE_CHECK(f.is_number_integer(), what, ": layer ", idx, ": 'from' entry ", f.dump(),
                       " is not an integer");
          L.from.push_back(f.get<int>());
        }
      }
      YOLITE_CHECK(row[1].is_number_integer(), what, ": layer ", idx,
                   ": 'number' must be an integer, got ", row[1].dump());
      L.repeats = row[1].get<int>();
      YOLITE_CHECK(row[2].is_string(), what, ": layer ", idx, ": module must be a name, got ",
                   row[2].dump());
      L.block = row[2].get<std::string>();
      YOLITE_CHECK(row[3].is_array(), what, ": layer ", idx, ": args must be a list, got ",
                   row[3].dump());
      for (auto& a : row[3]) L.args.push_back(yaml_detail::arg_text(a));
      s.layers.push_back(std::move(L));
    }
    if (std::string(part) == "backbone") s.backbone_size = s.layers.size();
  }
  return s;
}

// A spec as YOLOv5 model yaml text (models/yolov5s.yaml's keys, one `- [from, number, module,
// args]` row per layer); parse_model_yaml and PyYAML read it back to the same spec. Arguments
// keep their text: numbers, None, True, False, nc and anchors are written plain, other words
// as text (quoted only where YAML needs it).
inline std::string spec_to_yaml(const ModelSpec& s) {
  auto arg = [](const std::string& a) {
    if (a == "None" || a == "True" || a == "False" || a == "nc" || a == "anchors") return data::Yaml::plain(a);
    double v = 0;
    auto r = std::from_chars(a.data(), a.data() + a.size(), v);
    if (!a.empty() && r.ec == std::errc() && r.ptr == a.data() + a.size()) return data::Yaml::plain(a);
    return data::Yaml::string(a);
  };
  auto number = [](double v) { return v == std::floor(v) && std::abs(v) < 1e15 ? data::Yaml::plain(std::to_string((long long)v)) : data::Yaml::number(v); };
  data::Yaml y = data::Yaml::mapping();
  y.set("nc", data::Yaml::plain(std::to_string(s.nc)));
  y.set("depth_multiple", data::Yaml::number(s.depth_multiple));
  y.set("width_multiple", data::Yaml::number(s.width_multiple));
  data::Yaml anchors = data::Yaml::list();
  for (const auto& lvl : s.anchors) {
    data::Yaml l = data::Yaml::list();
    for (double v : lvl) l.push_back(number(v));
    anchors.push_back(std::move(l));
  }
  y.set("anchors", anchors);
  auto rows = [&](size_t b, size_t e) {
    data::Yaml list = data::Yaml::list();
    for (size_t i = b; i < e; ++i) {
      const LayerSpec& L = s.layers[i];
      data::Yaml row = data::Yaml::list();
      if (L.from.size() == 1) {
        row.push_back(number(L.from[0]));
      } else {
        data::Yaml f = data::Yaml::list();
        for (int x : L.from) f.push_back(number(x));
        row.push_back(std::move(f));
      }
      row.push_back(number(L.repeats));
      row.push_back(data::Yaml::plain(L.block));
      data::Yaml args = data::Yaml::list();
      for (const auto& a : L.args) args.push_back(arg(a));
      row.push_back(std::move(args));
      list.push_back(std::move(row));
    }
    return list;
  };
  const size_t nb = s.backbone_size ? s.backbone_size : s.layers.size();
  y.set("backbone", rows(0, nb));
  y.set("head", rows(nb, s.layers.size()));
  return "# " + s.name + " (written by yolite)\n" + data::to_yaml(y);
}

// A spec from a YOLOv5 model yaml file, or a built-in name (see is_builtin_name) when no such
// file exists.
inline ModelSpec load_model_spec(const std::string& cfg) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_regular_file(cfg, ec)) {
    if (is_builtin_name(cfg)) return yolov5_spec(cfg);
    fail("model config '", cfg, "': no such file, and not a built-in model name (yolov5n, ",
         "yolov5s, yolov5m, yolov5l, yolov5x, optionally with .yaml)");
  }
  std::ifstream f(cfg, std::ios::binary);
  YOLITE_CHECK(f.good(), "model config '", cfg, "': cannot open for reading");
  std::stringstream ss;
  ss << f.rdbuf();
  return spec_from_json(parse_model_yaml(ss.str(), cfg), fs::path(cfg).stem().string(), cfg);
}

}  // namespace yolite::model
