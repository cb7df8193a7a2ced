// data/split.hpp -- split images + YOLO labels into train / val / test, YOLOv5's layout.
//
//   data::SplitOptions opt;                 // ratios 0.8/0.1/0.1, seed 1, copy
//   opt.stratify = true;                    // keep class shares alike in every part
//   auto res = data::split_dataset("raw/images", "raw/labels", "bottles", opt);
//   std::cout << res.text();                // bottles/{images,labels}/{train,val,test}, dataset.yaml
//
// How it works:
//   1. every image under images_dir (recursively, sorted) is paired with labels_dir/<same
//      relative path>.txt (no label file = an image without objects); the label files are read
//      and checked (errors name file:line) before anything is written;
//   2. the pairs are shuffled with yolite::Rng(seed) -- same seed, same split -- and cut by the
//      ratios (part sizes by largest remainder, so they add up to the number of images).
//      With stratify, each image is put in a stratum, its rarest class (the class with the
//      fewest boxes in the whole set; images without boxes form their own stratum); strata are
//      laid one after the other, each shuffled, and the parts are dealt along that order so
//      that every part gets its share of every stratum (part sizes stay exact);
//   3. image and label always go to the same part: out/images/<part>/<rel>,
//      out/labels/<part>/<rel>.txt, plus out/dataset.yaml (path, train/val/test, nc, names).
// Files are copied, hard-linked (mode link; a copy across file systems) or moved (mode move:
// linked first, the sources removed only once the whole output is in place). Everything is
// built in a staging folder beside `out` and moved into place at the end, so an error leaves
// no partial output. An existing non-empty `out` is refused unless exist_ok.
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/rng.hpp"
#include "dataset.hpp"
#include "dataset_yaml.hpp"
#include "fs.hpp"
#include "image_io.hpp"
#include "yolo_txt.hpp"

namespace yolite::data {

inline constexpr const char* kPartNames[3] = {"train", "val", "test"};

struct SplitOptions {
  std::array<double, 3> ratios{0.8, 0.1, 0.1};  // train, val, test; must sum to 1
  uint64_t seed = 1;
  TransferMode mode = TransferMode::copy;
  bool stratify = false;
  bool exist_ok = false;
  std::vector<std::string> names;  // class names; empty: labels_dir/classes.txt, else class0..
};

// Part sizes for n items: floor(n * ratio), the remainder to the largest fractions.
inline std::array<size_t, 3> part_sizes(size_t n, const std::array<double, 3>& ratios) {
  double sum = 0;
  for (double r : ratios) {
    if (!(r >= 0) || !std::isfinite(r)) fail("split ratios must be >= 0, got ", r);
    sum += r;
  }
  if (std::abs(sum - 1.0) > 1e-6)
    fail("split ratios must sum to 1, got ", ratios[0], " + ", ratios[1], " + ", ratios[2], " = ", sum);
  std::array<size_t, 3> out{};
  std::array<double, 3> frac{};
  size_t given = 0;
  for (int k = 0; k < 3; ++k) {
    double q = double(n) * ratios[size_t(k)] / sum;
    out[size_t(k)] = size_t(std::floor(q + 1e-9));
    frac[size_t(k)] = q - double(out[size_t(k)]);
    given += out[size_t(k)];
  }
  while (given < n) {
    int best = 0;
    for (int k = 1; k < 3; ++k)
      if (frac[size_t(k)] > frac[size_t(best)] + 1e-12) best = k;
    ++out[size_t(best)];
    frac[size_t(best)] = -1;
    ++given;
  }
  return out;
}

// Which part (0 train, 1 val, 2 test) each of n items goes to. Without strata: a seeded
// shuffle cut into consecutive pieces. With strata (one key per item): strata in key order,
// each shuffled, parts dealt by largest deficit along that order.
inline std::vector<int> assign_parts(size_t n, const std::array<double, 3>& ratios, uint64_t seed,
                                     const std::vector<int>* strata = nullptr) {
  auto sizes = part_sizes(n, ratios);
  Rng rng(seed);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t(0));
  if (strata) {
    YOLITE_CHECK(strata->size() == n, "assign_parts: ", strata->size(), " strata for ", n, " items");
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return (*strata)[a] < (*strata)[b]; });
    for (size_t i = 0; i < n;) {
      size_t j = i;
      while (j < n && (*strata)[order[j]] == (*strata)[order[i]]) ++j;
      rng.shuffle(order.begin() + std::ptrdiff_t(i), order.begin() + std::ptrdiff_t(j));
      i = j;
    }
  } else {
    rng.shuffle(order.begin(), order.end());
  }
  std::vector<int> part(n, 0);
  if (!strata) {
    size_t pos = 0;
    for (int k = 0; k < 3; ++k)
      for (size_t c = 0; c < sizes[size_t(k)]; ++c) part[order[pos++]] = k;
    return part;
  }
  std::array<size_t, 3> given{};
  for (size_t j = 0; j < n; ++j) {
    int best = -1;
    double best_deficit = -1e300;
    for (int k = 0; k < 3; ++k) {
      if (given[size_t(k)] >= sizes[size_t(k)]) continue;
      double deficit = double(sizes[size_t(k)]) * double(j + 1) / double(n) - double(given[size_t(k)]);
      if (deficit > best_deficit + 1e-12) best = k, best_deficit = deficit;
    }
    part[order[j]] = best;
    ++given[size_t(best)];
  }
  return part;
}

// An image and its label file, as found in the input folders.
struct SplitItem {
  std::filesystem::path image, label;  // label empty when there is none
  std::filesystem::path rel;           // image path relative to images_dir
  std::vector<LabelRow> rows;
};

struct SplitResult {
  std::array<size_t, 3> images{}, boxes{};
  size_t unlabeled_images = 0;        // images without a label file (kept, as background)
  size_t orphan_labels = 0;           // label files without an image (not copied)
  std::vector<std::string> names;
  std::filesystem::path out_dir, yaml;
  std::string text() const {
    std::string s;
    for (int k = 0; k < 3; ++k)
      s += str(kPartNames[k], ": ", images[size_t(k)], " images, ", boxes[size_t(k)], " boxes\n");
    if (unlabeled_images) s += str(unlabeled_images, " images have no label file (kept as images without objects)\n");
    if (orphan_labels) s += str(orphan_labels, " label files have no image and were not copied\n");
    s += str("dataset yaml: ", yaml.string(), " (", names.size(), " classes)\n");
    return s;
  }
};

// Pairs every image under images_dir with its label file and reads the labels.
inline std::vector<SplitItem> collect_split_items(const std::filesystem::path& images_dir,
                                                  const std::filesystem::path& labels_dir, int nc,
                                                  size_t* orphans = nullptr) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(images_dir, ec)) fail(images_dir.string(), ": images folder not found");
  if (!fs::is_directory(labels_dir, ec)) fail(labels_dir.string(), ": labels folder not found");
  std::vector<SplitItem> items;
  std::map<fs::path, fs::path> label_owner;
  for (auto& img : list_images(images_dir)) {
    SplitItem it;
    it.image = img;
    it.rel = img.lexically_relative(images_dir);
    fs::path lab = labels_dir / fs::path(it.rel).replace_extension(".txt");
    auto [pos, fresh] = label_owner.emplace(lab, img);
    if (!fresh) fail("images ", pos->second.string(), " and ", img.string(), " would share the label file ", lab.string());
    if (fs::is_regular_file(lab, ec)) {
      it.label = lab;
      it.rows = read_yolo_rows(lab, nc);
    }
    items.push_back(std::move(it));
  }
  if (items.empty()) fail(images_dir.string(), ": no images (.jpg, .jpeg, .png, .bmp) found");
  if (orphans) {
    *orphans = 0;
    for (auto& e : fs::recursive_directory_iterator(labels_dir))
      if (e.is_regular_file() && e.path().extension() == ".txt" && e.path().filename() != "classes.txt" &&
          !label_owner.count(e.path()))
        ++*orphans;
  }
  return items;
}

// Splits images_dir + labels_dir into out_dir (see the top of this file).
inline SplitResult split_dataset(const std::filesystem::path& images_dir, const std::filesystem::path& labels_dir,
                                 const std::filesystem::path& out_dir, const SplitOptions& opt = {}) {
  namespace fs = std::filesystem;
  part_sizes(0, opt.ratios);  // validates the ratios before any work
  if (!opt.exist_ok && !empty_or_missing(out_dir))
    fail(out_dir.string(), ": output folder exists and is not empty (use --exist-ok to add to it)");
  SplitResult res;
  res.names = opt.names;
  std::error_code ec;
  if (res.names.empty() && fs::is_regular_file(labels_dir / "classes.txt", ec))
    res.names = read_class_names(labels_dir / "classes.txt");
  auto items = collect_split_items(images_dir, labels_dir, res.names.empty() ? -1 : int(res.names.size()),
                                   &res.orphan_labels);
  if (res.names.empty()) {  // no names anywhere: class0 .. class<max>
    int maxc = -1;
    for (auto& it : items)
      for (auto& r : it.rows) maxc = std::max(maxc, r.cls);
    for (int c = 0; c <= maxc; ++c) res.names.push_back(str("class", c));
    if (res.names.empty()) res.names.push_back("class0");
  }
  // strata: each image's rarest class (-1: no boxes)
  std::vector<int> strata;
  if (opt.stratify) {
    std::vector<size_t> total(res.names.size(), 0);
    for (auto& it : items)
      for (auto& r : it.rows) ++total[size_t(r.cls)];
    for (auto& it : items) {
      int best = -1;
      for (auto& r : it.rows)
        if (best < 0 || total[size_t(r.cls)] < total[size_t(best)] ||
            (total[size_t(r.cls)] == total[size_t(best)] && r.cls < best))
          best = r.cls;
      strata.push_back(best);
    }
  }
  auto part = assign_parts(items.size(), opt.ratios, opt.seed, opt.stratify ? &strata : nullptr);

  StagingDir stage(out_dir);
  for (size_t i = 0; i < items.size(); ++i) {
    const auto& it = items[i];
    const char* p = kPartNames[part[i]];
    place_file(it.image, stage.path() / "images" / p / it.rel, opt.mode);
    if (!it.label.empty())
      place_file(it.label, stage.path() / "labels" / p / fs::path(it.rel).replace_extension(".txt"), opt.mode);
    ++res.images[size_t(part[i])];
    res.boxes[size_t(part[i])] += it.rows.size();
    res.unlabeled_images += it.label.empty();
  }
  DatasetYaml dy;
  dy.root = stage.final_path();
  for (int k = 0; k < 3; ++k) {
    if (opt.ratios[size_t(k)] <= 0) continue;
    auto& v = k == 0 ? dy.train : k == 1 ? dy.val : dy.test;
    v.push_back(str("images/", kPartNames[k]));
    make_dirs(stage.path() / "images" / kPartNames[k]);  // an empty part still exists
    make_dirs(stage.path() / "labels" / kPartNames[k]);
  }
  dy.names = res.names;
  write_dataset_yaml(stage.path() / "dataset.yaml", dy);
  stage.commit();
  if (opt.mode == TransferMode::move)  // only now that everything is in place
    for (auto& it : items) {
      fs::remove(it.image, ec);
      if (!it.label.empty()) fs::remove(it.label, ec);
    }
  res.out_dir = stage.final_path();
  res.yaml = res.out_dir / "dataset.yaml";
  return res;
}

}  // namespace yolite::data
