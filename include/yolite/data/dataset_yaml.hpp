// data/dataset_yaml.hpp -- YOLOv5's dataset yaml: where the images are and what the classes are.
//
//   auto dy = data::read_dataset_yaml("bottles/dataset.yaml");
//   data::Dataset train = data::load_yolo_split(dy, "train");   // images + their label files
//   data::write_dataset_yaml("out/dataset.yaml", dy);
//
// The file (YOLOv5's keys):
//   path: ../datasets/bottles   # root; relative to the yaml's own folder (absent: that folder)
//   train: images/train         # relative to `path`: a folder of images, a .txt list of
//   val: images/val             #   images, or a list of either
//   test:                       # optional
//   nc: 5                       # optional when names is given
//   names: ['a', 'b']           # or a block list `- a`, or a dict `0: a` (YOLOv5 v7)
//
// Labels live beside the images, found as YOLOv5's img2label_paths does: the last path
// component named `images` becomes `labels` and the extension becomes `.txt`
// (root/images/train/a.jpg -> root/labels/train/a.txt). An image without a label file is an
// image without objects. Lines of a .txt list that are relative (with or without `./`) are
// relative to the list's folder.
#pragma once
#include <algorithm>
#include <charconv>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "../core/error.hpp"
#include "dataset.hpp"
#include "fs.hpp"
#include "image_io.hpp"
#include "yaml.hpp"
#include "yolo_txt.hpp"

namespace yolite::data {

struct DatasetYaml {
  std::filesystem::path yaml_path;              // the file read ("" when built in code)
  std::filesystem::path root;                   // `path`, resolved to an absolute folder
  std::vector<std::string> train, val, test;    // as written (relative to root, or absolute)
  std::vector<std::string> names;               // class names; nc() == names.size()
  int nc() const { return int(names.size()); }

  // The entries of a split ("train", "val" or "test"); throws on any other name.
  const std::vector<std::string>& split(std::string_view which) const {
    if (which == "train") return train;
    if (which == "val") return val;
    if (which == "test") return test;
    fail("dataset split '", which, "' unknown: expected train, val or test");
  }
  // The split's entries as absolute paths (relative entries resolved against root).
  std::vector<std::filesystem::path> sources(std::string_view which) const {
    std::vector<std::filesystem::path> out;
    for (auto& s : split(which)) {
      std::filesystem::path p(s);
      out.push_back((p.is_absolute() ? p : root / p).lexically_normal());
    }
    return out;
  }
};

// YOLOv5's img2label_paths for one image: last `images` component -> `labels`, extension -> .txt.
inline std::filesystem::path img2label_path(const std::filesystem::path& image) {
  std::vector<std::filesystem::path> parts(image.begin(), image.end());
  for (size_t i = parts.size() >= 2 ? parts.size() - 1 : 0; i-- > 0;)
    if (parts[i] == "images") {
      parts[i] = "labels";
      break;
    }
  std::filesystem::path out;
  for (auto& p : parts) out /= p;
  out.replace_extension(".txt");
  return out;
}

namespace detail {
inline std::vector<std::string> yaml_path_list(const Yaml& v, const std::string& key) {
  std::vector<std::string> out;
  if (v.is_null()) return out;
  if (v.is_list()) {
    for (auto& it : v.items()) out.push_back(it.str());
  } else if (v.is_scalar()) {
    out.push_back(v.str());
  } else {
    fail(v.where(), "'", key, "' must be a path or a list of paths");
  }
  return out;
}
}  // namespace detail

// Builds a DatasetYaml from parsed yaml; `yaml_path` locates relative paths (may be "").
inline DatasetYaml dataset_yaml_from(const Yaml& y, const std::filesystem::path& yaml_path) {
  std::string src = yaml_path.empty() ? std::string("<dataset yaml>") : yaml_path.string();
  if (!y.is_map()) fail(src, ": expected a mapping with path/train/val/test/nc/names");
  DatasetYaml d;
  d.yaml_path = yaml_path;
  std::filesystem::path base =
      yaml_path.empty() ? std::filesystem::current_path() : std::filesystem::absolute(yaml_path).parent_path();
  const Yaml& path = y["path"];
  std::filesystem::path root = path.is_null() ? base : std::filesystem::path(path.str());
  if (!root.is_absolute()) root = base / root;
  d.root = root.lexically_normal();
  if (!d.root.has_filename() && d.root.has_parent_path() && d.root != d.root.root_path()) d.root = d.root.parent_path();
  d.train = detail::yaml_path_list(y["train"], "train");
  d.val = detail::yaml_path_list(y["val"], "val");
  d.test = detail::yaml_path_list(y["test"], "test");

  const Yaml& names = y["names"];
  if (names.is_list()) {
    for (auto& n : names.items()) d.names.push_back(n.str());
  } else if (names.is_map()) {  // {0: a, 1: b}: keys must be 0..n-1 (any order)
    auto& m = names.map();
    d.names.assign(m.size(), std::string());
    std::vector<bool> seen(m.size(), false);
    for (auto& [k, v] : m) {
      long long idx = -1;
      auto r = std::from_chars(k.data(), k.data() + k.size(), idx);
      if (r.ec != std::errc() || r.ptr != k.data() + k.size() || idx < 0 || idx >= (long long)m.size() || seen[size_t(idx)])
        fail(v.where(), "names: key '", k, "' must be a class index 0..", m.size() - 1, " (each once)");
      seen[size_t(idx)] = true;
      d.names[size_t(idx)] = v.str();
    }
  } else if (!names.is_null()) {
    fail(names.where(), "names: expected a list ['a', 'b'] or a mapping 0: a");
  }
  const Yaml& nc = y["nc"];
  if (!nc.is_null()) {
    long long n = nc.integer();
    if (n <= 0 || n > kMaxClasses) fail(nc.where(), "nc must be 1..", kMaxClasses, ", got ", n);
    if (names.is_null()) {
      for (long long i = 0; i < n; ++i) d.names.push_back(str("class", i));  // YOLOv5's default names
    } else if (n != (long long)d.names.size()) {
      fail(nc.where(), "nc is ", n, " but names lists ", d.names.size(), " classes");
    }
  }
  if (d.names.empty()) fail(src, ": no classes: give names (and optionally nc)");
  return d;
}

inline DatasetYaml read_dataset_yaml(const std::filesystem::path& path) {
  return dataset_yaml_from(read_yaml(path), path);
}

// Writes `d` as YOLOv5 does (path, train, val, test when present, nc, names as a 0: a dict).
// `path` is written as d.root (absolute), so YOLOv5 itself reads the file too.
inline void write_dataset_yaml(const std::filesystem::path& path, const DatasetYaml& d) {
  Yaml y = Yaml::mapping();
  y.set("path", Yaml::string(d.root.string()));
  auto put = [&](const char* key, const std::vector<std::string>& v) {
    if (v.empty()) return;
    if (v.size() == 1) {
      y.set(key, Yaml::string(v[0]));
    } else {
      Yaml l = Yaml::list();
      for (auto& s : v) l.push_back(Yaml::string(s));
      y.set(key, l);
    }
  };
  put("train", d.train);
  put("val", d.val);
  put("test", d.test);
  y.set("nc", Yaml::number(d.nc()));
  Yaml names = Yaml::mapping();
  for (size_t i = 0; i < d.names.size(); ++i) names.set(std::to_string(i), Yaml::string(d.names[i]));
  y.set("names", names);
  write_file_atomic(path, to_yaml(y));
}

// The image files of one source: a folder (searched recursively), a .txt list of images, or
// one image file. Sorted, as YOLOv5 sorts them. Throws naming the source when it is missing.
inline std::vector<std::filesystem::path> list_images(const std::filesystem::path& source) {
  namespace fs = std::filesystem;
  std::vector<fs::path> out;
  std::error_code ec;
  if (fs::is_directory(source, ec)) {
    for (auto it = fs::recursive_directory_iterator(source, fs::directory_options::follow_directory_symlink, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) fail(source.string(), ": cannot list folder (", ec.message(), ")");
      if (it->is_regular_file() && is_image_file(it->path())) out.push_back(it->path());
    }
    if (ec) fail(source.string(), ": cannot list folder (", ec.message(), ")");
  } else if (fs::is_regular_file(source, ec) && source.extension() == ".txt") {
    std::string text = read_file(source);
    fs::path parent = source.parent_path();
    size_t pos = 0;
    while (pos < text.size()) {
      size_t end = text.find('\n', pos);
      if (end == std::string::npos) end = text.size();
      std::string line = text.substr(pos, end - pos);
      pos = end + 1;
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      if (line.empty()) continue;
      fs::path p(line.rfind("./", 0) == 0 ? line.substr(2) : line);
      if (!p.is_absolute()) p = parent / p;
      if (is_image_file(p)) out.push_back(p.lexically_normal());
    }
  } else if (fs::is_regular_file(source, ec) && is_image_file(source)) {
    out.push_back(source);
  } else {
    fail(source.string(), ": image source not found (expected a folder, a .txt list or an image)");
  }
  std::sort(out.begin(), out.end());
  return out;
}

// One split of a dataset yaml as a Dataset: every image with its label file (missing = no
// boxes) and, when read_sizes is true, its pixel size from the file header. Label lines are
// validated (class < nc, normalised coordinates) and errors name file:line.
inline Dataset load_yolo_split(const DatasetYaml& d, std::string_view which, bool read_sizes = true) {
  Dataset ds;
  ds.names = d.names;
  auto srcs = d.sources(which);
  if (srcs.empty()) fail(d.yaml_path.string(), ": no '", which, "' split in the dataset yaml");
  for (auto& src : srcs)
    for (auto& img : list_images(src)) {
      Sample s;
      s.image_path = img.string();
      s.label_path = img2label_path(img).string();
      std::error_code ec;
      if (std::filesystem::is_regular_file(s.label_path, ec)) s.boxes = read_yolo_labels(s.label_path, d.nc());
      if (read_sizes) {
        auto sz = image_size(img);
        s.width = sz.w;
        s.height = sz.h;
      }
      ds.samples.push_back(std::move(s));
    }
  return ds;
}

}  // namespace yolite::data
