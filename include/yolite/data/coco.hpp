// data/coco.hpp -- COCO instances json: a streaming reader, validation, a writer, and the
// mapping of COCO categories onto YOLO class indices.
//
//   data::CocoReport rep;
//   data::Coco coco = data::read_coco("instances_train.json", {.images_dir = "images"}, &rep);
//   std::cout << rep.summary();                       // counts, clipped boxes, dropped entries
//   data::Dataset ds = data::coco_to_dataset(coco, "images");
//   data::write_coco("copy.json", coco);
//
// Reading streams the file through nlohmann::json's SAX interface with a handler of our own:
// only images{id, file_name, width, height}, annotations{id, image_id, category_id, bbox,
// area, iscrowd} and categories{id, name, supercategory} are kept; everything else
// (segmentation polygons, info, licenses) is skipped as it goes by, so a 450 MB train2017 file
// never becomes a DOM. Ids are kept exactly as given (0 is a valid id).
//
// Validation, in the order a reader meets the problems:
//   - the file is not JSON, or its top-level shape is wrong      -> Error with the byte offset
//   - a required key is missing or has the wrong type,
//     duplicate image / annotation / category ids,
//     an image with width or height <= 0 (or missing on disk when images_dir is given),
//     an annotation whose image or category does not exist,
//     a box with w <= 0 or h <= 0, or one lying wholly outside its image
//                                 -> "defects": Error listing the first 10 (and how many),
//                                    or with skip_invalid the defective entries are dropped
//                                    and counted (an image's annotations go with it)
//   - a box reaching past the image edge is clipped to it and counted (cocosynth writes boxes
//     from -1.0).
// Nothing is dropped silently: every drop and clip is in the CocoReport.
//
// Classes: COCO category ids are mapped onto 0..nc-1 in sorted id order (the tutorial's
// "minus one" when ids are 1..nc). One exception, for Roboflow exports: a category that no
// annotation uses and whose name is the supercategory of other categories (Roboflow's id 0,
// e.g. "pieces" above "black-bishop", ...) is a group label, not a class; it is left out and
// the report says so. Other unused categories stay classes, so that the train, val and test
// files of one export agree on class indices. iscrowd=1 annotations are kept in Coco but are
// not boxes of the Dataset (as YOLOv5's COCO converter does); the report counts them.
#pragma once
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/error.hpp"
#include "dataset.hpp"
#include "fs.hpp"

namespace yolite::data {

struct CocoImage {
  int64_t id = 0;
  std::string file_name;
  int width = 0, height = 0;
};

struct CocoAnnotation {
  int64_t id = 0, image_id = 0, category_id = 0;
  std::array<double, 4> bbox{};  // x, y, w, h in pixels, top-left origin
  double area = 0;               // as given (may be a polygon area); w*h when absent
  int iscrowd = 0;
};

struct CocoCategory {
  int64_t id = 0;
  std::string name, supercategory;
};

struct Coco {
  std::vector<CocoImage> images;
  std::vector<CocoAnnotation> annotations;
  std::vector<CocoCategory> categories;
};

struct CocoOptions {
  std::filesystem::path images_dir;  // when set, every image must exist at images_dir/file_name
  bool skip_invalid = false;         // drop defective entries (and count them) instead of failing
};

// What reading found and did. summary() prints it for people.
struct CocoReport {
  std::string source;
  size_t images = 0, annotations = 0, categories = 0;  // kept
  size_t clipped = 0;                                   // boxes clipped to their image
  size_t crowd = 0;                                     // iscrowd=1 annotations (not YOLO boxes)
  size_t defects = 0;                                   // defective entries found
  size_t dropped_images = 0, dropped_annotations = 0, dropped_categories = 0;  // with skip_invalid
  std::vector<std::string> first_defects;               // up to 10, described
  std::vector<std::string> notes;                       // class-mapping decisions

  std::string summary() const {
    std::string s = str(source, ": ", images, " images, ", annotations, " annotations, ", categories,
                        " categories\n");
    if (clipped) s += str("  ", clipped, " boxes reached past the image edge and were clipped to it\n");
    if (crowd) s += str("  ", crowd, " crowd annotations (iscrowd=1) are not used as boxes\n");
    if (defects) {
      s += str("  ", defects, " defective entries skipped: ", dropped_images, " images, ", dropped_annotations,
               " annotations, ", dropped_categories, " categories dropped\n");
      for (auto& d : first_defects) s += "    " + d + "\n";
    }
    for (auto& n : notes) s += "  " + n + "\n";
    return s;
  }
};

namespace detail {

// Reads a FILE in 1 MiB chunks and hands nlohmann's lexer one char at a time through an
// input iterator; counts the bytes consumed so errors can name a position.
class ChunkReader {
 public:
  explicit ChunkReader(const std::filesystem::path& p) : path_(p) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(p, ec)) fail(p.string(), ": file not found");
    f_ = std::fopen(p.string().c_str(), "rb");
    if (!f_) fail(p.string(), ": cannot open for reading");
    buf_.resize(1 << 20);
  }
  ~ChunkReader() {
    if (f_) std::fclose(f_);
  }
  ChunkReader(const ChunkReader&) = delete;
  ChunkReader& operator=(const ChunkReader&) = delete;

  bool at_end() {
    if (pos_ < len_) return false;
    if (eof_) return true;
    offset_ += len_;
    len_ = std::fread(buf_.data(), 1, buf_.size(), f_);
    pos_ = 0;
    if (len_ == 0) {
      if (std::ferror(f_)) fail(path_.string(), ": read error at byte ", offset_);
      eof_ = true;
    }
    return len_ == 0;
  }
  char get() const { return buf_[pos_]; }
  void next() { ++pos_; }
  size_t offset() const { return offset_ + pos_; }

  struct Iterator {
    using iterator_category = std::input_iterator_tag;
    using value_type = char;
    using difference_type = std::ptrdiff_t;
    using pointer = const char*;
    using reference = char;
    ChunkReader* r = nullptr;  // nullptr = the end
    char operator*() const { return r->get(); }
    Iterator& operator++() {
      r->next();
      return *this;
    }
    Iterator operator++(int) {
      Iterator t = *this;
      r->next();
      return t;
    }
    bool operator==(const Iterator& o) const {
      bool a = !r || r->at_end(), b = !o.r || o.r->at_end();
      return a && b;
    }
    bool operator!=(const Iterator& o) const { return !(*this == o); }
  };
  Iterator begin() { return Iterator{this}; }
  Iterator end() { return Iterator{nullptr}; }

 private:
  std::filesystem::path path_;
  std::FILE* f_ = nullptr;
  std::vector<char> buf_;
  size_t pos_ = 0, len_ = 0, offset_ = 0;
  bool eof_ = false;
};

// One defect, waiting to be counted, described and maybe dropped.
struct CocoDefect {
  int section;  // 0 images, 1 annotations, 2 categories
  size_t index;
  std::string text;
};

inline const char* section_name(int s) { return s == 0 ? "images" : s == 1 ? "annotations" : "categories"; }

// The SAX handler: a small state machine over root{} -> section[] -> item{} -> bbox[].
class CocoSax {
 public:
  using json = nlohmann::json;
  CocoSax(Coco& out, std::vector<CocoDefect>& defects, std::vector<char>& invalid_img,
          std::vector<char>& invalid_ann, std::vector<char>& invalid_cat, ChunkReader& reader, std::string source)
      : c_(out), defects_(defects), inv_{&invalid_img, &invalid_ann, &invalid_cat}, reader_(reader),
        source_(std::move(source)) {}

  bool null() { return scalar(Kind::null, 0, "null"); }
  bool boolean(bool v) { return scalar(Kind::boolean, v ? 1 : 0, "a boolean"); }
  bool number_integer(json::number_integer_t v) { return scalar(Kind::number, double(v), "", true, v); }
  bool number_unsigned(json::number_unsigned_t v) {
    return scalar(Kind::number, double(v), "", v <= uint64_t(INT64_MAX), int64_t(v));
  }
  bool number_float(json::number_float_t v, const std::string&) { return scalar(Kind::number, v, ""); }
  bool string(std::string& s) {
    str_ = std::move(s);
    return scalar(Kind::string, 0, "a string");
  }
  bool binary(json::binary_t&) { return scalar(Kind::null, 0, "binary data"); }

  bool start_object(size_t) {
    if (skip_) return ++skip_, true;
    switch (level_) {
      case 0: level_ = 1; return true;
      case 1:
        if (section_ >= 0) structure("'", section_name(section_), "' must be an array, got an object");
        skip_ = 1;
        return true;
      case 2: begin_item(); return true;
      case 3:
        type_problem("an object");
        skip_ = 1;
        return true;
      default: type_problem("an object in bbox"); skip_ = 1; return true;
    }
  }
  bool end_object() {
    if (skip_) return --skip_, true;
    if (level_ == 3) {
      end_item();
      level_ = 2;
    } else if (level_ == 1) {
      level_ = 0;
    }
    return true;
  }
  bool start_array(size_t) {
    if (skip_) return ++skip_, true;
    switch (level_) {
      case 0: structure("the top level must be an object {images, annotations, categories}, got an array");
      case 1:
        if (section_ >= 0) {
          level_ = 2;
          index_ = 0;
          seen_section_[section_] = true;
        } else {
          skip_ = 1;
        }
        return true;
      case 2: structure(section_name(section_), "[", index_, "] must be an object, got an array");
      case 3:
        if (section_ == 1 && field_ == F::bbox) {
          level_ = 4;
          nbbox_ = 0;
          have_ |= bit(F::bbox);
          return true;
        }
        type_problem("a list");
        skip_ = 1;
        return true;
      default: type_problem("a nested list in bbox"); skip_ = 1; return true;
    }
  }
  bool end_array() {
    if (skip_) return --skip_, true;
    if (level_ == 4) {
      if (nbbox_ != 4 && problem_.empty()) problem_ = str("bbox has ", nbbox_, " values, expected 4 [x, y, w, h]");
      level_ = 3;
    } else if (level_ == 2) {
      level_ = 1;
      section_ = -1;
    }
    return true;
  }
  bool key(std::string& k) {
    if (skip_) return true;
    if (level_ == 1) {
      section_ = k == "images" ? 0 : k == "annotations" ? 1 : k == "categories" ? 2 : -1;
    } else if (level_ == 3) {
      field_ = field_of(k);
    }
    return true;
  }
  bool parse_error(size_t pos, const std::string&, const nlohmann::detail::exception& e) {
    std::string what = e.what();
    auto at = what.find("syntax error");
    fail(source_, ": not valid JSON at byte ", pos, " (", at == std::string::npos ? what : what.substr(at), ")");
  }

  void finish() {
    if (level_ != 0) structure("unexpected end of file");
    for (int s = 0; s < 3; ++s)
      if (!seen_section_[s] && s != 1)  // annotations may be absent (a file of images to label)
        fail(source_, ": no '", section_name(s), "' array; is this a COCO instances file?");
  }

 private:
  enum class Kind { null, boolean, number, string };
  enum class F { other, id, file_name, width, height, image_id, category_id, bbox, area, iscrowd, name, supercategory };
  static unsigned bit(F f) { return 1u << unsigned(f); }
  F field_of(const std::string& k) const {
    if (k == "id") return F::id;
    switch (section_) {
      case 0:
        if (k == "file_name") return F::file_name;
        if (k == "width") return F::width;
        if (k == "height") return F::height;
        break;
      case 1:
        if (k == "image_id") return F::image_id;
        if (k == "category_id") return F::category_id;
        if (k == "bbox") return F::bbox;
        if (k == "area") return F::area;
        if (k == "iscrowd") return F::iscrowd;
        break;
      default:
        if (k == "name") return F::name;
        if (k == "supercategory") return F::supercategory;
    }
    return F::other;
  }
  static const char* field_name(F f) {
    static const char* n[] = {"?",        "id",   "file_name", "width",   "height", "image_id",
                              "category_id", "bbox", "area",      "iscrowd", "name",   "supercategory"};
    return n[int(f)];
  }

  template <class... A>
  [[noreturn]] void structure(A&&... a) {
    fail(source_, ": near byte ", reader_.offset(), ": ", std::forward<A>(a)...);
  }
  void type_problem(const char* got) {
    if (field_ == F::other) return;  // a key we do not read may hold anything
    if (problem_.empty()) problem_ = str("'", field_name(field_), "' has the wrong type (got ", got, ")");
  }

  void begin_item() {
    level_ = 3;
    have_ = 0;
    field_ = F::other;
    problem_.clear();
    start_ = reader_.offset();
    switch (section_) {
      case 0: c_.images.emplace_back(); break;
      case 1: c_.annotations.emplace_back(); break;
      default: c_.categories.emplace_back();
    }
  }
  void end_item() {
    static const F req_img[] = {F::id, F::file_name, F::width, F::height};
    static const F req_ann[] = {F::id, F::image_id, F::category_id, F::bbox};
    static const F req_cat[] = {F::id, F::name};
    if (problem_.empty()) {
      std::string missing;
      auto check = [&](auto& req) {
        for (F f : req)
          if (!(have_ & bit(f))) missing += (missing.empty() ? "" : ", ") + std::string(field_name(f));
      };
      if (section_ == 0) check(req_img);
      else if (section_ == 1) check(req_ann);
      else check(req_cat);
      if (!missing.empty()) problem_ = "missing required key(s): " + missing;
    }
    if (section_ == 1 && !(have_ & bit(F::area))) {
      auto& a = c_.annotations.back();
      a.area = a.bbox[2] * a.bbox[3];
    }
    inv_[section_]->push_back(problem_.empty() ? 0 : 1);
    if (!problem_.empty()) {
      int64_t id = 0;
      if (section_ == 0) id = c_.images.back().id;
      else if (section_ == 1) id = c_.annotations.back().id;
      else id = c_.categories.back().id;
      std::string who = (have_ & bit(F::id)) ? str(" (id ", id, ")") : std::string();
      defects_.push_back({section_, index_, str(section_name(section_), "[", index_, "]", who, " at byte ", start_,
                                               ": ", problem_)});
    }
    ++index_;
  }

  bool scalar(Kind k, double v, const char* got, bool exact_int = false, int64_t iv = 0) {
    if (skip_) return true;
    if (level_ == 0) structure("the top level must be an object {images, annotations, categories}");
    if (level_ == 1) {
      if (section_ >= 0) structure("'", section_name(section_), "' must be an array");
      return true;
    }
    if (level_ == 2) structure(section_name(section_), "[", index_, "] must be an object");
    if (level_ == 4) {
      if (k != Kind::number) {
        if (problem_.empty()) problem_ = str("bbox values must be numbers (got ", got, ")");
      } else if (nbbox_ < 4) {
        c_.annotations.back().bbox[size_t(nbbox_)] = v;
      }
      ++nbbox_;
      return true;
    }
    if (field_ == F::other) return true;
    const char* got_text = k == Kind::number ? "a number" : got;
    auto as_int = [&](int64_t& dst) {
      if (k != Kind::number) return type_problem(got_text);
      if (!exact_int) {
        if (v != std::floor(v) || std::abs(v) > 9.0e15) {
          if (problem_.empty()) problem_ = str("'", field_name(field_), "' must be an integer, got ", v);
          return;
        }
        iv = int64_t(v);
      }
      dst = iv;
      have_ |= bit(field_);
    };
    auto as_str = [&](std::string& dst) {
      if (k != Kind::string) return type_problem(got_text);
      dst = std::move(str_);
      have_ |= bit(field_);
    };
    int64_t tmp = 0;
    if (section_ == 0) {
      auto& im = c_.images.back();
      switch (field_) {
        case F::id: as_int(im.id); break;
        case F::file_name: as_str(im.file_name); break;
        case F::width: as_int(tmp), im.width = int(std::clamp<int64_t>(tmp, -1, INT32_MAX)); break;
        case F::height: as_int(tmp), im.height = int(std::clamp<int64_t>(tmp, -1, INT32_MAX)); break;
        default: break;
      }
    } else if (section_ == 1) {
      auto& a = c_.annotations.back();
      switch (field_) {
        case F::id: as_int(a.id); break;
        case F::image_id: as_int(a.image_id); break;
        case F::category_id: as_int(a.category_id); break;
        case F::bbox: type_problem(got_text); break;
        case F::area:
          if (k == Kind::number) a.area = v, have_ |= bit(F::area);
          else if (k != Kind::null) type_problem(got_text);
          break;
        case F::iscrowd:
          if (k == Kind::number || k == Kind::boolean) a.iscrowd = v != 0;
          else if (k != Kind::null) type_problem(got_text);
          break;
        default: break;
      }
    } else {
      auto& cat = c_.categories.back();
      switch (field_) {
        case F::id: as_int(cat.id); break;
        case F::name: as_str(cat.name); break;
        case F::supercategory:
          if (k == Kind::string) cat.supercategory = std::move(str_);
          else if (k != Kind::null) type_problem(got_text);
          break;
        default: break;
      }
    }
    return true;
  }

  Coco& c_;
  std::vector<CocoDefect>& defects_;
  std::vector<char>* inv_[3];
  ChunkReader& reader_;
  std::string source_;
  int level_ = 0, section_ = -1, skip_ = 0, nbbox_ = 0;
  bool seen_section_[3] = {false, false, false};
  size_t index_ = 0, start_ = 0;
  F field_ = F::other;
  unsigned have_ = 0;
  std::string problem_, str_;
};

template <class T>
void keep_valid(std::vector<T>& v, const std::vector<char>& invalid) {
  size_t j = 0;
  for (size_t i = 0; i < v.size(); ++i)
    if (!invalid[i]) {
      if (j != i) v[j] = std::move(v[i]);
      ++j;
    }
  v.resize(j);
}

}  // namespace detail

// The categories that become YOLO classes, in class order (sorted ids, Roboflow group labels
// left out -- see the top of this file). `notes` explains anything left out.
struct CocoClasses {
  std::vector<int64_t> category_ids;  // class index -> COCO category id
  std::vector<std::string> names;     // class index -> name
  std::unordered_map<int64_t, int> index;  // COCO category id -> class index (absent: not a class)
  std::vector<std::string> notes;
  int nc() const { return int(names.size()); }
};

inline CocoClasses coco_classes(const Coco& c) {
  std::unordered_map<int64_t, size_t> used;
  for (auto& a : c.annotations) ++used[a.category_id];
  std::vector<const CocoCategory*> cats;
  for (auto& cat : c.categories) cats.push_back(&cat);
  std::sort(cats.begin(), cats.end(), [](auto* a, auto* b) { return a->id < b->id; });
  CocoClasses out;
  for (auto* cat : cats) {
    size_t children = 0;
    for (auto* other : cats)
      if (other != cat && !cat->name.empty() && other->supercategory == cat->name) ++children;
    if (children > 0 && used.find(cat->id) == used.end()) {
      out.notes.push_back(str("category ", cat->id, " '", cat->name, "' is not a class: it is the supercategory of ",
                              children, " other categories and no annotation uses it"));
      continue;
    }
    out.index[cat->id] = int(out.names.size());
    out.category_ids.push_back(cat->id);
    out.names.push_back(cat->name);
  }
  if (!out.names.empty() && (out.category_ids.front() != 0 || out.category_ids.back() != int64_t(out.names.size()) - 1))
    out.notes.push_back(str("category ids ", out.category_ids.front(), "..", out.category_ids.back(),
                            " map to classes 0..", out.names.size() - 1, " in sorted id order"));
  return out;
}

// Reads and validates a COCO instances json (see the top of this file). Throws yolite::Error
// naming the file for syntax errors and (unless opt.skip_invalid) for defective entries.
inline Coco read_coco(const std::filesystem::path& path, const CocoOptions& opt = {}, CocoReport* report = nullptr) {
  namespace fs = std::filesystem;
  const std::string src = path.string();
  Coco c;
  std::vector<detail::CocoDefect> defects;
  std::vector<char> inv_img, inv_ann, inv_cat;
  {
    detail::ChunkReader reader(path);
    detail::CocoSax sax(c, defects, inv_img, inv_ann, inv_cat, reader, src);
    if (reader.at_end()) fail(src, ": empty file, expected a COCO json");
    nlohmann::json::sax_parse(reader.begin(), reader.end(), &sax);
    sax.finish();
  }
  auto add = [&](int section, size_t index, int64_t who, const std::string& text) {
    defects.push_back({section, index, str(detail::section_name(section), "[", index, "] (id ", who, "): ", text)});
  };
  // categories: duplicate ids
  std::unordered_map<int64_t, size_t> cat_at;
  for (size_t i = 0; i < c.categories.size(); ++i) {
    if (inv_cat[i]) continue;
    auto [it, fresh] = cat_at.emplace(c.categories[i].id, i);
    if (!fresh) {
      add(2, i, c.categories[i].id, str("duplicate category id (also categories[", it->second, "])"));
      inv_cat[i] = 1;
    }
  }
  // images: duplicate ids, sizes, files on disk
  std::unordered_map<int64_t, size_t> img_at;
  img_at.reserve(c.images.size() * 2);
  for (size_t i = 0; i < c.images.size(); ++i) {
    auto& im = c.images[i];
    if (inv_img[i]) {
      img_at.emplace(im.id, i);  // known, but dropped: its annotations go with it
      continue;
    }
    auto [it, fresh] = img_at.emplace(im.id, i);
    int64_t who = im.id;
    if (!fresh) {
      add(0, i, who, str("duplicate image id (also images[", it->second, "])"));
      inv_img[i] = 1;
    } else if (im.width <= 0 || im.height <= 0) {
      add(0, i, who, str("'", im.file_name, "' has size ", im.width, "x", im.height, ", expected width and height > 0"));
      inv_img[i] = 1;
    } else if (im.file_name.empty()) {
      add(0, i, who, "empty file_name");
      inv_img[i] = 1;
    } else if (!opt.images_dir.empty()) {
      std::error_code ec;
      if (!fs::is_regular_file(opt.images_dir / im.file_name, ec)) {
        add(0, i, who, str("image file not found: ", (opt.images_dir / im.file_name).string()));
        inv_img[i] = 1;
      }
    }
  }
  // annotations: duplicate ids, references, boxes (clipped to the image)
  std::unordered_set<int64_t> ann_ids;
  ann_ids.reserve(c.annotations.size() * 2);
  size_t clipped = 0;
  for (size_t i = 0; i < c.annotations.size(); ++i) {
    if (inv_ann[i]) continue;
    auto& a = c.annotations[i];
    int64_t who = a.id;
    if (!ann_ids.insert(a.id).second) {
      add(1, i, who, "duplicate annotation id");
      inv_ann[i] = 1;
      continue;
    }
    auto im = img_at.find(a.image_id);
    auto cat = cat_at.find(a.category_id);
    if (im == img_at.end()) {
      add(1, i, who, str("image_id ", a.image_id, " is not in 'images'"));
      inv_ann[i] = 1;
      continue;
    }
    if (cat == cat_at.end() && std::none_of(c.categories.begin(), c.categories.end(),
                                            [&](auto& k) { return k.id == a.category_id; })) {
      add(1, i, who, str("category_id ", a.category_id, " is not in 'categories'"));
      inv_ann[i] = 1;
      continue;
    }
    if (inv_img[im->second] || cat == cat_at.end() || inv_cat[cat->second]) {  // parent dropped
      inv_ann[i] = 1;
      continue;
    }
    auto& b = a.bbox;
    if (!std::isfinite(b[0]) || !std::isfinite(b[1]) || !(b[2] > 0) || !(b[3] > 0) || !std::isfinite(b[2]) ||
        !std::isfinite(b[3])) {
      add(1, i, who, str("bbox [", b[0], ", ", b[1], ", ", b[2], ", ", b[3], "] needs finite values and w, h > 0"));
      inv_ann[i] = 1;
      continue;
    }
    const auto& img = c.images[im->second];
    double x0 = std::max(b[0], 0.0), y0 = std::max(b[1], 0.0);
    double x1 = std::min(b[0] + b[2], double(img.width)), y1 = std::min(b[1] + b[3], double(img.height));
    if (!(x1 > x0) || !(y1 > y0)) {
      add(1, i, who, str("bbox [", b[0], ", ", b[1], ", ", b[2], ", ", b[3], "] lies outside its image (", img.width,
                         "x", img.height, ")"));
      inv_ann[i] = 1;
      continue;
    }
    if (x0 != b[0] || y0 != b[1] || x1 != b[0] + b[2] || y1 != b[1] + b[3]) {
      // overshoots below 1e-6 px are rounding (x + w computed from normalised values): clamped
      // but not counted as clipping
      double over = std::max({x0 - b[0], y0 - b[1], b[0] + b[2] - x1, b[1] + b[3] - y1});
      b = {x0, y0, x1 - x0, y1 - y0};
      clipped += over > 1e-6;
    }
  }
  if (!defects.empty() && !opt.skip_invalid) {
    std::string list;
    for (size_t i = 0; i < defects.size() && i < 10; ++i) list += (i ? "; " : "") + defects[i].text;
    fail(src, ": ", defects.size(), " defective entr", defects.size() == 1 ? "y" : "ies",
         defects.size() > 10 ? " (first 10)" : "", ": ", list,
         " -- nothing was written; fix the file or skip them (skip_invalid / --skip-invalid)");
  }
  CocoReport rep;
  rep.source = src;
  rep.defects = defects.size();
  for (size_t i = 0; i < defects.size() && i < 10; ++i) rep.first_defects.push_back(defects[i].text);
  // annotations of images/categories dropped for defects found after the annotation was seen
  for (size_t i = 0; i < c.annotations.size(); ++i) {
    if (inv_ann[i]) continue;
    auto im = img_at.find(c.annotations[i].image_id);
    auto cat = cat_at.find(c.annotations[i].category_id);
    if (inv_img[im->second] || inv_cat[cat->second]) inv_ann[i] = 1;
  }
  rep.dropped_images = size_t(std::count(inv_img.begin(), inv_img.end(), 1));
  rep.dropped_annotations = size_t(std::count(inv_ann.begin(), inv_ann.end(), 1));
  rep.dropped_categories = size_t(std::count(inv_cat.begin(), inv_cat.end(), 1));
  detail::keep_valid(c.images, inv_img);
  detail::keep_valid(c.annotations, inv_ann);
  detail::keep_valid(c.categories, inv_cat);
  rep.images = c.images.size();
  rep.annotations = c.annotations.size();
  rep.categories = c.categories.size();
  rep.clipped = clipped;
  for (auto& a : c.annotations) rep.crowd += a.iscrowd != 0;
  rep.notes = coco_classes(c).notes;
  if (report) *report = std::move(rep);
  return c;
}

// The Dataset of a (validated) Coco: one Sample per image (images without annotations too),
// boxes normalised by the image size, classes from coco_classes(). iscrowd annotations are left
// out. Image paths are images_dir / file_name.
inline Dataset coco_to_dataset(const Coco& c, const std::filesystem::path& images_dir = {}) {
  CocoClasses cls = coco_classes(c);
  Dataset ds;
  ds.names = cls.names;
  std::unordered_map<int64_t, size_t> at;
  for (auto& im : c.images) {
    at[im.id] = ds.samples.size();
    Sample s;
    s.image_path = (images_dir.empty() ? std::filesystem::path(im.file_name) : images_dir / im.file_name).string();
    s.width = im.width;
    s.height = im.height;
    ds.samples.push_back(std::move(s));
  }
  for (auto& a : c.annotations) {
    if (a.iscrowd) continue;
    auto it = at.find(a.image_id);
    auto ci = cls.index.find(a.category_id);
    YOLITE_CHECK(it != at.end() && ci != cls.index.end(), "coco_to_dataset: annotation ", a.id,
                 " refers to a missing image or category (validate with read_coco first)");
    Sample& s = ds.samples[it->second];
    const auto& b = a.bbox;
    s.boxes.push_back(Box{ci->second, float((b[0] + b[2] / 2) / s.width), float((b[1] + b[3] / 2) / s.height),
                          float(b[2] / s.width), float(b[3] / s.height)});
  }
  return ds;
}

// COCO json text for `c` (numbers in their shortest exact form).
inline std::string coco_json(const Coco& c, const std::string& description = "written by yolite") {
  using json = nlohmann::ordered_json;
  json j;
  j["info"] = {{"description", description}};
  json imgs = json::array(), anns = json::array(), cats = json::array();
  for (auto& im : c.images)
    imgs.push_back({{"id", im.id}, {"file_name", im.file_name}, {"width", im.width}, {"height", im.height}});
  for (auto& a : c.annotations)
    anns.push_back({{"id", a.id},
                    {"image_id", a.image_id},
                    {"category_id", a.category_id},
                    {"bbox", {a.bbox[0], a.bbox[1], a.bbox[2], a.bbox[3]}},
                    {"area", a.area},
                    {"iscrowd", a.iscrowd},
                    {"segmentation", json::array()}});
  for (auto& k : c.categories)
    cats.push_back({{"id", k.id}, {"name", k.name}, {"supercategory", k.supercategory}});
  j["images"] = std::move(imgs);
  j["annotations"] = std::move(anns);
  j["categories"] = std::move(cats);
  return j.dump() + "\n";
}

// Writes a COCO json through a temporary file.
inline void write_coco(const std::filesystem::path& path, const Coco& c,
                       const std::string& description = "written by yolite") {
  write_file_atomic(path, coco_json(c, description));
}

}  // namespace yolite::data
