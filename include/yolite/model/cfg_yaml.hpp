// model/cfg_yaml.hpp -- read a YOLOv5 model yaml (models/yolov5s.yaml format) into a ModelSpec.
//
//   model::ModelSpec s = model::load_model_spec("yolov5s");        // built-in, no file needed
//   model::ModelSpec c = model::load_model_spec("cfg/custom.yaml");  // a YOLOv5-format yaml
//   auto m = std::make_shared<model::YoloModel>(c, /*nc=*/5);
//   model::ModelSpec p = model::spec_from_json(ck.yaml, "yolov5s");  // a checkpoint's yaml dict
//
// The yaml holds nc, depth_multiple, width_multiple, anchors (a list of per-level lists of
// pixel w,h pairs) and backbone/head lists of [from, number, module, args] rows. This reader
// understands the subset YOLOv5's model files use: `key: value` lines at column 0, values that
// are scalars, flow lists ([...], spanning lines, trailing commas allowed) or block lists
// ("- [...]" items), and '#' comments. Names that resolve to a built-in model (yolov5n..x,
// with or without .yaml, with or without a directory) are served from spec.hpp when no such
// file exists, so `--cfg yolov5s.yaml` works anywhere.
#pragma once
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "spec.hpp"

namespace yolite::model {

namespace yaml_detail {

// Flow-value parser over one value's text: [a, [b, c], 'd'], scalars.
class Flow {
 public:
  Flow(std::string_view s, std::string what, int line) : s_(s), what_(std::move(what)), line_(line) {}
  nlohmann::json parse_all() {
    nlohmann::json v = value();
    skip();
    if (i_ != s_.size()) error(str("unexpected '", s_[i_], "'"));
    return v;
  }

 private:
  void skip() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) {
      if (s_[i_] == '\n') ++line_;
      ++i_;
    }
  }
  [[noreturn]] void error(const std::string& msg) const { fail(what_, ":", line_, ": ", msg); }
  nlohmann::json value() {
    skip();
    if (i_ >= s_.size()) error("missing value");
    if (s_[i_] == '[') {
      ++i_;
      nlohmann::json a = nlohmann::json::array();
      for (;;) {
        skip();
        if (i_ >= s_.size()) error("unterminated '[' list");
        if (s_[i_] == ']') {
          ++i_;
          return a;
        }
        a.push_back(value());
        skip();
        if (i_ < s_.size() && s_[i_] == ',') {
          ++i_;
          continue;
        }
        if (i_ < s_.size() && s_[i_] == ']') continue;
        error("expected ',' or ']' in a list");
      }
    }
    if (s_[i_] == '{') error("'{...}' mappings are not supported in a model yaml value");
    if (s_[i_] == '\'' || s_[i_] == '"') {
      char q = s_[i_++];
      size_t j = s_.find(q, i_);
      if (j == std::string_view::npos) error("unterminated string");
      std::string v(s_.substr(i_, j - i_));
      i_ = j + 1;
      return v;
    }
    size_t j = i_;
    while (j < s_.size() && s_[j] != ',' && s_[j] != ']' && s_[j] != '\n') ++j;
    std::string tok(s_.substr(i_, j - i_));
    while (!tok.empty() && std::isspace(static_cast<unsigned char>(tok.back()))) tok.pop_back();
    i_ = j;
    return scalar(tok);
  }

 public:
  static nlohmann::json scalar(const std::string& t) {
    if (t == "None" || t == "null" || t == "~" || t.empty()) return nullptr;
    if (t == "True" || t == "true") return true;
    if (t == "False" || t == "false") return false;
    try {
      size_t used = 0;
      long long v = std::stoll(t, &used);
      if (used == t.size()) return v;
    } catch (const std::exception&) {
    }
    try {
      size_t used = 0;
      double v = std::stod(t, &used);
      if (used == t.size()) return v;
    } catch (const std::exception&) {
    }
    return t;
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
  std::string what_;
  int line_;
};

inline std::string strip_comment(const std::string& line) {
  char q = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (q) {
      if (c == q) q = 0;
    } else if (c == '\'' || c == '"') {
      q = c;
    } else if (c == '#' && (i == 0 || std::isspace(static_cast<unsigned char>(line[i - 1])))) {
      return line.substr(0, i);
    }
  }
  return line;
}

inline bool blank(const std::string& s) {
  for (char c : s)
    if (!std::isspace(static_cast<unsigned char>(c))) return false;
  return true;
}

}  // namespace yaml_detail

// Parses the model-yaml subset described above into JSON (what = file name for messages).
inline nlohmann::json parse_model_yaml(std::string_view text, const std::string& what) {
  using namespace yaml_detail;
  std::vector<std::string> lines;
  {
    std::string t(text), l;
    std::istringstream is(t);
    while (std::getline(is, l)) {
      if (!l.empty() && l.back() == '\r') l.pop_back();
      lines.push_back(strip_comment(l));
    }
  }
  nlohmann::json doc = nlohmann::json::object();
  size_t i = 0;
  while (i < lines.size()) {
    const std::string& l = lines[i];
    if (blank(l)) {
      ++i;
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(l[0])) || l[0] == '-')
      fail(what, ":", i + 1, ": expected 'key: value' at the start of the line, got '", l, "'");
    size_t colon = l.find(':');
    if (colon == std::string::npos) fail(what, ":", i + 1, ": expected 'key: value', got '", l, "'");
    std::string key = l.substr(0, colon);
    while (!key.empty() && std::isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
    const int key_line = int(i + 1);
    std::string rest = l.substr(colon + 1);
    // the value continues over the following lines that are indented or start with '-', ']'
    std::vector<std::string> body;
    ++i;
    while (i < lines.size() && (blank(lines[i]) || std::isspace(static_cast<unsigned char>(lines[i][0])) ||
                                lines[i][0] == '-' || lines[i][0] == ']')) {
      body.push_back(lines[i]);
      ++i;
    }
    nlohmann::json v;
    if (!blank(rest)) {
      std::string all = rest;
      for (auto& b : body) all += "\n" + b;
      v = Flow(all, what, key_line).parse_all();
    } else {
      // a block list ("- item" lines), a flow value on the next lines, or empty (null)
      size_t first = 0;
      while (first < body.size() && blank(body[first])) ++first;
      std::string trimmed = first < body.size() ? body[first] : "";
      size_t nb = trimmed.find_first_not_of(" \t");
      if (first == body.size()) {
        v = nullptr;
      } else if (trimmed[nb] == '-') {
        v = nlohmann::json::array();
        std::string item;
        int item_line = 0;
        auto flush = [&]() {
          if (item_line) v.push_back(Flow(item, what, item_line).parse_all());
        };
        for (size_t j = first; j < body.size(); ++j) {
          size_t p = body[j].find_first_not_of(" \t");
          if (p != std::string::npos && body[j][p] == '-' &&
              (p + 1 == body[j].size() || std::isspace(static_cast<unsigned char>(body[j][p + 1])))) {
            flush();
            item = body[j].substr(p + 1);
            item_line = key_line + 1 + int(j);
          } else {
            item += "\n" + body[j];
          }
        }
        flush();
      } else {
        std::string all;
        for (size_t j = first; j < body.size(); ++j) all += body[j] + "\n";
        v = Flow(all, what, key_line + 1 + int(first)).parse_all();
      }
    }
    doc[key] = v;
  }
  return doc;
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

// A spec as YOLOv5 model yaml text (the layout of models/yolov5s.yaml): parse_model_yaml and
// PyYAML read it back to the same spec. Arguments keep their text; words other than None,
// True, False, nc and anchors are quoted ('nearest'), as YOLOv5 writes them.
inline std::string spec_to_yaml(const ModelSpec& s) {
  auto num = [](double v) {
    char b[32];
    auto r = std::to_chars(b, b + sizeof b, v);  // shortest text that reads back the same
    std::string t(b, r.ptr);
    if (t.find_first_of(".e") == std::string::npos) t += ".0";
    return t;
  };
  auto arg = [](const std::string& a) {
    if (a == "None" || a == "True" || a == "False" || a == "nc" || a == "anchors") return a;
    bool numeric = !a.empty();
    for (char c : a) numeric = numeric && (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.');
    if (numeric) return a;
    std::string q = "'";
    for (char c : a) q += c == '\'' ? std::string("''") : std::string(1, c);
    return q + "'";
  };
  std::string y = "# " + s.name + " (written by yolite)\n";
  y += "nc: " + std::to_string(s.nc) + "\n";
  y += "depth_multiple: " + num(s.depth_multiple) + "\n";
  y += "width_multiple: " + num(s.width_multiple) + "\n";
  y += "anchors:\n";
  for (const auto& lvl : s.anchors) {
    y += "  - [";
    for (size_t j = 0; j < lvl.size(); ++j) {
      std::string t = num(lvl[j]);
      if (t.size() > 2 && t.compare(t.size() - 2, 2, ".0") == 0) t.resize(t.size() - 2);
      y += (j ? ", " : "") + t;
    }
    y += "]\n";
  }
  auto rows = [&](const char* key, size_t b, size_t e) {
    y += std::string(key) + ":\n  [";
    for (size_t i = b; i < e; ++i) {
      const LayerSpec& L = s.layers[i];
      std::string from;
      if (L.from.size() == 1) {
        from = std::to_string(L.from[0]);
      } else {
        from = "[";
        for (size_t j = 0; j < L.from.size(); ++j) from += (j ? ", " : "") + std::to_string(L.from[j]);
        from += "]";
      }
      std::string args;
      for (size_t j = 0; j < L.args.size(); ++j) args += (j ? ", " : "") + arg(L.args[j]);
      y += std::string(i == b ? "" : "   ") + "[" + from + ", " + std::to_string(L.repeats) + ", " + L.block +
           ", [" + args + "]]" + (i + 1 < e ? ",  # " + std::to_string(i) + "\n" : "  # " + std::to_string(i) + "\n");
    }
    y += "  ]\n";
  };
  const size_t nb = s.backbone_size ? s.backbone_size : s.layers.size();
  rows("backbone", 0, nb);
  rows("head", nb, s.layers.size());
  return y;
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
