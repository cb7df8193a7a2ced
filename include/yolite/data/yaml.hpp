// data/yaml.hpp -- the small part of YAML that YOLOv5's files use, read and written.
//
//   data::Yaml y = data::read_yaml("data/coco128.yaml");     // errors say "file:line: ..."
//   std::string root = y["path"].str();                       // scalars are kept as text
//   double lr0 = y["lr0"].num();                              // ... converted on request
//   for (auto& [k, v] : y["names"].map()) ...                 // `0: person` block dict
//   data::write_file_atomic("opt.yaml", data::to_yaml(y));
//   nlohmann::json j = data::yaml_to_json(y);                // typed as PyYAML types plain scalars
//   data::Yaml z = data::yaml_from_json(j);                  // and back (opt.yaml, model yamls)
//
// The one YAML reader and writer of the library: dataset yamls, hyp yamls, opt.yaml and model
// yamls (model/cfg_yaml.hpp) all go through it.
//
// Supported (enough for dataset yamls, hyp yamls and opt.yaml):
//   - block maps `key: value`, nested by indentation;
//   - block lists `- item` (also `- key: value` maps as items);
//   - flow lists and maps `['a', "b", c]`, `{a: 1}`, which may span several lines;
//   - scalars: plain, 'single' ('' escapes a quote), "double" (\" \\ \n \t escapes);
//   - comments from `#` (at line start or after a space, outside quotes);
//   - block scalars `|` / `>` (kept as text; YOLOv5's `download: |` scripts);
//   - `~`, `null` and nothing as null.
// Not supported (an error says so): anchors/aliases, tags, multi-document streams.
#pragma once
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/error.hpp"
#include "fs.hpp"

namespace yolite::data {

class Yaml {
 public:
  enum class Kind { null, scalar, list, map };

  Yaml() = default;
  // A text scalar (written back quoted when it would otherwise read as a number/bool/null).
  static Yaml string(std::string s) {
    Yaml y;
    y.kind_ = Kind::scalar;
    y.text_ = std::move(s);
    y.quoted_ = true;
    return y;
  }
  // A number written in its shortest exact form, fixed-point where that is as short (0.0005,
  // not 5e-04), and an exponent always with a mantissa dot (1.0e-10): PyYAML reads "5e-04" as
  // text, YAML 1.1 wanting the dot.
  static Yaml number(double v) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general);
    std::string t(buf, r.ptr);
    if (const auto e = t.find('e'); e != std::string::npos && t.find('.') == std::string::npos) t.insert(e, ".0");
    Yaml y;
    y.kind_ = Kind::scalar;
    y.text_ = std::move(t);
    return y;
  }
  static Yaml boolean(bool b) { return plain(b ? "true" : "false"); }
  static Yaml plain(std::string s) {  // a scalar kept verbatim (numbers, true, ...)
    Yaml y;
    y.kind_ = Kind::scalar;
    y.text_ = std::move(s);
    return y;
  }
  static Yaml list() {
    Yaml y;
    y.kind_ = Kind::list;
    return y;
  }
  static Yaml mapping() {
    Yaml y;
    y.kind_ = Kind::map;
    return y;
  }

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::null; }
  bool is_scalar() const { return kind_ == Kind::scalar; }
  bool is_list() const { return kind_ == Kind::list; }
  bool is_map() const { return kind_ == Kind::map; }
  bool quoted() const { return quoted_; }
  int line() const { return line_; }  // 1-based line in the source (0 when built in code)

  // Scalar text; throws naming the line when this is not a scalar.
  const std::string& str() const {
    if (kind_ != Kind::scalar) fail(where(), "expected a text value, got ", kind_name());
    return text_;
  }
  double num() const {
    const std::string& t = str();
    double v = 0;
    const char* b = t.data();
    const char* e = b + t.size();
    if (!t.empty() && *b == '+') ++b;
    auto r = std::from_chars(b, e, v);
    if (r.ec != std::errc() || r.ptr != e) {
      if (t == ".inf" || t == ".Inf") return INFINITY;
      if (t == "-.inf" || t == "-.Inf") return -INFINITY;
      fail(where(), "expected a number, got '", t, "'");
    }
    return v;
  }
  long long integer() const {
    double v = num();
    if (v != std::floor(v) || std::abs(v) > 9.0e15) fail(where(), "expected an integer, got '", text_, "'");
    return (long long)v;
  }
  bool boolean() const {
    const std::string& t = str();
    if (t == "true" || t == "True" || t == "TRUE") return true;
    if (t == "false" || t == "False" || t == "FALSE") return false;
    fail(where(), "expected true or false, got '", t, "'");
  }

  // Lists.
  const std::vector<Yaml>& items() const {
    if (kind_ != Kind::list) fail(where(), "expected a list, got ", kind_name());
    return items_;
  }
  void push_back(Yaml v) {
    YOLITE_CHECK(kind_ == Kind::list, "Yaml::push_back on a ", kind_name());
    items_.push_back(std::move(v));
  }

  // Maps keep their keys in file order.
  const std::vector<std::pair<std::string, Yaml>>& map() const {
    if (kind_ != Kind::map) fail(where(), "expected a mapping (key: value), got ", kind_name());
    return map_items_;
  }
  bool contains(std::string_view key) const { return find(key) != nullptr; }
  const Yaml* find(std::string_view key) const {
    if (kind_ != Kind::map) return nullptr;
    for (auto& [k, v] : map_items_)
      if (k == key) return &v;
    return nullptr;
  }
  // The value of `key`, or a null Yaml when absent (check with is_null()).
  const Yaml& operator[](std::string_view key) const {
    static const Yaml none;  // immutable, shared: not mutable global state
    const Yaml* v = find(key);
    return v ? *v : none;
  }
  // Sets (or replaces) `key`, keeping the first position.
  void set(const std::string& key, Yaml v) {
    if (kind_ == Kind::null) kind_ = Kind::map;
    YOLITE_CHECK(kind_ == Kind::map, "Yaml::set('", key, "') on a ", kind_name());
    for (auto& [k, old] : map_items_)
      if (k == key) {
        old = std::move(v);
        return;
      }
    map_items_.emplace_back(key, std::move(v));
  }

  const char* kind_name() const {
    switch (kind_) {
      case Kind::null: return "nothing (null)";
      case Kind::scalar: return "a text value";
      case Kind::list: return "a list";
      default: return "a mapping";
    }
  }
  std::string where() const {
    if (line_) return yolite::str(source_, ":", line_, ": ");
    return source_.empty() ? std::string() : source_ + ": ";
  }

 private:
  friend class YamlParser;
  Kind kind_ = Kind::null;
  std::string text_;
  bool quoted_ = false;
  std::vector<Yaml> items_;
  std::vector<std::pair<std::string, Yaml>> map_items_;
  int line_ = 0;
  std::string source_;
};

// The parser: lines with their indentation, read top-down by recursive descent.
class YamlParser {
 public:
  YamlParser(std::string_view text, std::string source) : source_(std::move(source)) {
    size_t i = 0;
    while (i <= text.size()) {
      size_t j = text.find('\n', i);
      if (j == std::string_view::npos) j = text.size();
      std::string line(text.substr(i, j - i));
      if (!line.empty() && line.back() == '\r') line.pop_back();
      lines_.push_back(std::move(line));
      i = j + 1;
    }
  }

  Yaml parse() {
    skip_blank();
    if (pos_ < lines_.size() && lines_[pos_].rfind("---", 0) == 0) {
      if (!strip_comment(lines_[pos_].substr(3)).empty() && lines_[pos_][3] == ' ')
        err(pos_, "content on the '---' line is not supported; start it on the next line");
      ++pos_, skip_blank();
    }
    if (pos_ >= lines_.size()) {  // (fuzz regression: "---" as the last line read past the end)
      Yaml y;
      y.source_ = source_;
      return y;  // an empty document is null
    }
    Yaml y = block(indent_of(pos_));
    skip_blank();
    if (pos_ < lines_.size()) {
      if (lines_[pos_].rfind("---", 0) == 0 || lines_[pos_].rfind("...", 0) == 0)
        err(pos_, "only one YAML document per file is supported");
      err(pos_, "unexpected indentation or content");
    }
    return y;
  }

 private:
  std::vector<std::string> lines_;
  size_t pos_ = 0;
  std::string source_;

  [[noreturn]] void err(size_t line_idx, const std::string& what) const {
    fail(source_, ":", line_idx + 1, ": ", what);
  }
  Yaml make(Yaml::Kind k, size_t line_idx) const {
    Yaml y;
    y.kind_ = k;
    y.line_ = int(line_idx + 1);
    y.source_ = source_;
    return y;
  }

  static size_t indent_raw(const std::string& s) {
    size_t n = 0;
    while (n < s.size() && s[n] == ' ') ++n;
    return n;
  }
  size_t indent_of(size_t i) const { return indent_raw(lines_[i]); }

  // Removes a comment (`#` at the start or after whitespace, outside quotes) and trailing spaces.
  static std::string strip_comment(const std::string& s) {
    char q = 0;
    size_t end = s.size();
    for (size_t i = 0; i < s.size(); ++i) {
      char ch = s[i];
      if (q) {
        if (ch == q) {
          if (q == '\'' && i + 1 < s.size() && s[i + 1] == '\'') ++i;  // '' inside '...'
          else q = 0;
        } else if (q == '"' && ch == '\\') {
          ++i;
        }
      } else if (ch == '\'' || ch == '"') {
        // a quote opens a string only at the start of a token
        if (i == 0 || s[i - 1] == ' ' || s[i - 1] == '[' || s[i - 1] == '{' || s[i - 1] == ',' || s[i - 1] == ':' ||
            s[i - 1] == '-')
          q = ch;
      } else if (ch == '#' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t')) {
        end = i;
        break;
      }
    }
    while (end > 0 && (s[end - 1] == ' ' || s[end - 1] == '\t')) --end;
    return s.substr(0, end);
  }
  bool blank(size_t i) const {
    std::string t = strip_comment(lines_[i]);
    return t.find_first_not_of(" \t") == std::string::npos;
  }
  void skip_blank() {
    while (pos_ < lines_.size() && blank(pos_)) ++pos_;
  }
  void check_tabs(size_t i) const {
    for (char ch : lines_[i]) {
      if (ch == '\t') err(i, "tab in indentation; YAML indents with spaces");
      if (ch != ' ') break;
    }
  }

  static bool is_list_item(const std::string& content) {
    return content == "-" || content.rfind("- ", 0) == 0;
  }
  // Position of the `:` that ends a key (followed by a space or the end), outside quotes; npos if none.
  static size_t key_colon(const std::string& c) {
    if (c.empty() || c[0] == '[' || c[0] == '{') return std::string::npos;
    size_t i = 0;
    if (c[0] == '\'' || c[0] == '"') {  // quoted key
      char q = c[0];
      for (i = 1; i < c.size(); ++i) {
        if (c[i] == q) {
          if (q == '\'' && i + 1 < c.size() && c[i + 1] == '\'') {
            ++i;
            continue;
          }
          break;
        }
        if (q == '"' && c[i] == '\\') ++i;
      }
      ++i;
    }
    for (; i < c.size(); ++i)
      if (c[i] == ':' && (i + 1 == c.size() || c[i + 1] == ' ')) return i;
    return std::string::npos;
  }

  // A block (map, list or single scalar) whose lines are indented exactly `n`.
  Yaml block(size_t n) {
    skip_blank();
    check_tabs(pos_);
    std::string c = strip_comment(lines_[pos_]).substr(n);
    if (c.rfind("&", 0) == 0 || c.rfind("*", 0) == 0 || c.rfind("!", 0) == 0)
      err(pos_, "anchors, aliases and tags are not supported");
    if (is_list_item(c)) return block_list(n);
    if (key_colon(c) != std::string::npos) return block_map(n);
    size_t at = pos_;
    std::string rest = join_flow(c);
    return value_text(rest, at);
  }

  Yaml block_map(size_t n) {
    Yaml m = make(Yaml::Kind::map, pos_);
    while (true) {
      skip_blank();
      if (pos_ >= lines_.size()) break;
      check_tabs(pos_);
      size_t ind = indent_of(pos_);
      if (ind < n) break;
      if (ind > n) err(pos_, "unexpected indentation");
      size_t at = pos_;
      std::string c = strip_comment(lines_[pos_]).substr(n);
      if (is_list_item(c)) break;  // a list at the same indent ends a map (belongs to the parent)
      size_t colon = key_colon(c);
      if (colon == std::string::npos) err(at, "expected 'key: value', got '" + c + "'");
      std::string key = unquote(trim(c.substr(0, colon)), at);
      if (key.empty()) err(at, "empty key");
      for (auto& kv : m.map_items_)
        if (kv.first == key) err(at, "duplicate key '" + key + "'");
      std::string rest = trim(c.substr(colon + 1));
      ++pos_;
      m.map_items_.emplace_back(key, after_key(rest, n, at));
    }
    return m;
  }

  // The value after `key:` or `- `: inline text, a block scalar, or a nested block below.
  Yaml after_key(const std::string& rest, size_t n, size_t at) {
    if (rest.empty()) {
      skip_blank();
      if (pos_ < lines_.size()) {
        size_t ind = indent_of(pos_);
        std::string c = strip_comment(lines_[pos_]);
        if (ind > n || (ind == n && is_list_item(c.substr(ind)))) return block(ind);
      }
      return make(Yaml::Kind::null, at);
    }
    if (rest[0] == '|' || rest[0] == '>') return block_scalar(rest, n, at);
    if (rest[0] == '&' || rest[0] == '*' || rest[0] == '!') err(at, "anchors, aliases and tags are not supported");
    --pos_;  // join_flow reads continuation lines after the current one
    std::string text = join_flow(rest);
    return value_text(text, at);
  }

  Yaml block_list(size_t n) {
    Yaml l = make(Yaml::Kind::list, pos_);
    while (true) {
      skip_blank();
      if (pos_ >= lines_.size()) break;
      check_tabs(pos_);
      size_t ind = indent_of(pos_);
      if (ind < n) break;
      if (ind > n) err(pos_, "unexpected indentation");
      std::string c = strip_comment(lines_[pos_]).substr(n);
      if (!is_list_item(c)) break;
      size_t at = pos_;
      std::string rest = c.size() > 1 ? c.substr(2) : std::string();
      size_t lead = rest.find_first_not_of(' ');
      if (lead == std::string::npos) {
        ++pos_;
        l.items_.push_back(after_key("", n, at));
      } else if (key_colon(rest.substr(lead)) != std::string::npos && rest[lead] != '[' && rest[lead] != '{') {
        // `- key: value`: the item is a map whose keys line up with `key`; rewrite the dash as
        // spaces and read the map from here.
        lines_[pos_].replace(n, 2 + lead, std::string(2 + lead, ' '));
        l.items_.push_back(block_map(n + 2 + lead));
      } else {
        ++pos_;
        l.items_.push_back(after_key(trim(rest), n, at));
      }
    }
    return l;
  }

  // `|` keeps newlines, `>` folds them into spaces; both drop the common indentation.
  Yaml block_scalar(const std::string& head, size_t n, size_t at) {
    bool fold = head[0] == '>';
    std::vector<std::string> body;
    size_t common = std::string::npos;
    while (pos_ < lines_.size()) {
      const std::string& s = lines_[pos_];
      bool empty = s.find_first_not_of(' ') == std::string::npos;
      if (!empty && indent_raw(s) <= n) break;
      if (!empty) common = std::min(common, indent_raw(s));
      body.push_back(s);
      ++pos_;
    }
    while (!body.empty() && body.back().find_first_not_of(' ') == std::string::npos) body.pop_back();
    std::string text;
    for (size_t i = 0; i < body.size(); ++i) {
      std::string s = body[i].size() >= common ? body[i].substr(common) : std::string();
      if (i) text += fold ? " " : "\n";
      text += s;
    }
    if (!fold && head.find('-') == std::string::npos) text += "\n";
    Yaml y = make(Yaml::Kind::scalar, at);
    y.text_ = text;
    y.quoted_ = true;
    return y;
  }

  // A value that starts a flow collection may continue on the next lines until its brackets
  // close. Returns the whole text (comments stripped); advances pos_ past the lines used.
  std::string join_flow(std::string text) {
    size_t at = pos_;
    ++pos_;
    if (text.empty() || (text[0] != '[' && text[0] != '{')) return text;
    while (depth(text) > 0) {
      if (pos_ >= lines_.size()) err(at, str("unclosed '", text[0], "'"));
      text.push_back(' ');
      text.append(trim(strip_comment(lines_[pos_])));
      ++pos_;
    }
    return text;
  }
  static int depth(const std::string& s) {
    int d = 0;
    char q = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      char ch = s[i];
      if (q) {
        if (ch == q) q = 0;
        else if (q == '"' && ch == '\\') ++i;
      } else if (ch == '\'' || ch == '"') {
        q = ch;
      } else if (ch == '[' || ch == '{') {
        ++d;
      } else if (ch == ']' || ch == '}') {
        --d;
      }
    }
    return d;
  }

  Yaml value_text(const std::string& text, size_t at) {
    std::string t = trim(text);
    if (!t.empty() && (t[0] == '[' || t[0] == '{')) {
      size_t i = 0;
      Yaml v = flow(t, i, at);
      skip_ws(t, i);
      if (i != t.size()) err(at, "unexpected '" + t.substr(i) + "' after a flow collection");
      return v;
    }
    return scalar(t, at);
  }

  Yaml scalar(const std::string& t, size_t at) {
    if (t.empty() || t == "~" || t == "null" || t == "Null" || t == "NULL") return make(Yaml::Kind::null, at);
    Yaml y = make(Yaml::Kind::scalar, at);
    if (t[0] == '\'' || t[0] == '"') {
      y.text_ = unquote(t, at);
      y.quoted_ = true;
    } else {
      if (t[0] == '&' || t[0] == '*' || t[0] == '!') err(at, "anchors, aliases and tags are not supported");
      y.text_ = t;
    }
    return y;
  }

  static void skip_ws(const std::string& s, size_t& i) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  }

  // Flow collections: [a, b, [c]] and {k: v, k2: [1, 2]}.
  Yaml flow(const std::string& s, size_t& i, size_t at) {
    skip_ws(s, i);
    if (i >= s.size()) err(at, "unexpected end of a flow collection");
    char open = s[i];
    if (open == '[' || open == '{') {
      char close = open == '[' ? ']' : '}';
      Yaml y = make(open == '[' ? Yaml::Kind::list : Yaml::Kind::map, at);
      ++i;
      while (true) {
        skip_ws(s, i);
        if (i >= s.size()) err(at, str("missing '", close, "'"));
        if (s[i] == close) {
          ++i;
          return y;
        }
        if (open == '[') {
          y.items_.push_back(flow(s, i, at));
        } else {
          std::string key = flow_token(s, i, at, true);
          skip_ws(s, i);
          if (i >= s.size() || s[i] != ':') err(at, "expected ':' after key '" + key + "' in a flow mapping");
          ++i;
          y.map_items_.emplace_back(unquote(key, at), flow(s, i, at));
        }
        skip_ws(s, i);
        if (i < s.size() && s[i] == ',') {
          ++i;
        } else if (i < s.size() && s[i] == close) {
          continue;
        } else {
          err(at, str("expected ',' or '", close, "' in a flow collection, got '", i < s.size() ? s.substr(i) : "end of line", "'"));
        }
      }
    }
    std::string tok = flow_token(s, i, at, false);
    return scalar(tok, at);
  }

  // One scalar token inside a flow collection (quoted, or plain up to , ] } and for keys :).
  std::string flow_token(const std::string& s, size_t& i, size_t at, bool key) {
    skip_ws(s, i);
    size_t b = i;
    if (i < s.size() && (s[i] == '\'' || s[i] == '"')) {
      char q = s[i++];
      while (i < s.size()) {
        if (s[i] == q) {
          if (q == '\'' && i + 1 < s.size() && s[i + 1] == '\'') {
            i += 2;
            continue;
          }
          ++i;
          return s.substr(b, i - b);
        }
        if (q == '"' && s[i] == '\\') ++i;
        ++i;
      }
      err(at, "unclosed quote");
    }
    while (i < s.size() && s[i] != ',' && s[i] != ']' && s[i] != '}' &&
           !(key && s[i] == ':' && (i + 1 == s.size() || s[i + 1] == ' ')) &&
           !(!key && s[i] == ':' && i + 1 < s.size() && s[i + 1] == ' '))
      ++i;
    return trim(s.substr(b, i - b));
  }

  std::string unquote(const std::string& t, size_t at) const {
    if (t.size() < 1 || (t[0] != '\'' && t[0] != '"')) return t;
    char q = t[0];
    if (t.size() < 2 || t.back() != q) err(at, "unclosed quote in " + t);
    std::string out;
    for (size_t i = 1; i + 1 < t.size(); ++i) {
      char ch = t[i];
      if (q == '\'' && ch == '\'' && i + 2 < t.size() && t[i + 1] == '\'') {
        out += '\'';
        ++i;
      } else if (q == '"' && ch == '\\' && i + 2 < t.size()) {
        char e = t[++i];
        out += e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e == '0' ? '\0' : e;
      } else {
        out += ch;
      }
    }
    return out;
  }

  static std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t");
    if (b == std::string::npos) return "";
    size_t e = s.find_last_not_of(" \t");
    return s.substr(b, e - b + 1);
  }
};

// Parses YAML text; `source` (usually the file name) prefixes error messages.
inline Yaml parse_yaml(std::string_view text, const std::string& source = "<yaml>") {
  return YamlParser(text, source).parse();
}

inline Yaml read_yaml(const std::filesystem::path& path) { return parse_yaml(read_file(path), path.string()); }

namespace detail {
// Would this text read back as something other than the same string when written plain?
inline bool needs_quotes(const std::string& s) {
  if (s.empty()) return true;
  if (s == "~" || s == "null" || s == "Null" || s == "NULL" || s == "true" || s == "false" || s == "True" ||
      s == "False" || s == "yes" || s == "no")
    return true;
  double v;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec == std::errc() && r.ptr == s.data() + s.size()) return true;
  if (std::string_view("-?:,[]{}#&*!|>'\"%@`").find(s[0]) != std::string_view::npos) return true;
  if (s.front() == ' ' || s.back() == ' ') return true;
  if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos || s.back() == ':') return true;
  for (char ch : s)
    if (ch == '\n' || ch == '\t' || ch == '\r' || ch == '"' || ch == '\\') return true;
  return false;
}
inline std::string quote(const std::string& s) {
  std::string out = "'";
  bool plain_ok = true;
  for (char ch : s)
    if (ch == '\n' || ch == '\t' || ch == '\r') plain_ok = false;
  if (!plain_ok) {  // double quotes with escapes
    out = "\"";
    for (char ch : s) {
      if (ch == '\n') out += "\\n";
      else if (ch == '\t') out += "\\t";
      else if (ch == '\r') out += "\\r";
      else if (ch == '"' || ch == '\\') out += '\\', out += ch;
      else out += ch;
    }
    return out + "\"";
  }
  for (char ch : s) {
    if (ch == '\'') out += '\'';
    out += ch;
  }
  return out + "'";
}
inline std::string scalar_text(const Yaml& v) {
  if (v.is_null()) return "null";
  const std::string& s = v.str();
  if (v.quoted() ? needs_quotes(s) : (s.empty() || s.find('\n') != std::string::npos)) return quote(s);
  return s;
}
inline bool is_flat_list(const Yaml& v) {  // a list of scalars: written as one flow line
  for (auto& it : v.items())
    if (it.is_list() || it.is_map()) return false;
  return true;
}
// A list written on one line: `[a, b]`, or nested `[-1, 1, Conv, [64, 6, 2, 2]]`.
inline std::string flow_text(const Yaml& v) {
  if (!v.is_list()) return scalar_text(v);
  std::string out = "[";
  for (size_t i = 0; i < v.items().size(); ++i) out += (i ? ", " : "") + flow_text(v.items()[i]);
  return out + "]";
}
// Lists of scalars and of such lists (no maps) that fit in 100 characters go on one line.
inline bool fits_flow(const Yaml& v) {
  if (!v.is_list()) return false;
  std::vector<const Yaml*> todo{&v};
  while (!todo.empty()) {
    const Yaml* x = todo.back();
    todo.pop_back();
    for (auto& it : x->items()) {
      if (it.is_map()) return false;
      if (it.is_list()) todo.push_back(&it);
    }
  }
  return is_flat_list(v) || flow_text(v).size() <= 100;
}
inline void emit(std::string& out, const Yaml& v, int indent) {
  std::string pad(size_t(std::max(indent, 0)), ' ');
  if (v.is_map() && v.map().empty()) {
    out += "{}\n";
  } else if (v.is_map()) {
    for (auto& [k, val] : v.map()) {
      out += pad + (needs_quotes(k) && !std::all_of(k.begin(), k.end(), [](unsigned char ch) { return std::isdigit(ch) != 0; }) ? quote(k) : k) + ":";
      if (val.is_map() && !val.map().empty()) {
        out += "\n";
        emit(out, val, indent + 2);
      } else if (val.is_list() && !fits_flow(val)) {
        out += "\n";
        emit(out, val, indent + 2);
      } else {
        out += " ";
        emit(out, val, -1);
      }
    }
  } else if (v.is_list()) {
    if (indent < 0 || fits_flow(v)) {
      out += flow_text(v) + "\n";
      return;
    }
    for (auto& it : v.items()) {
      out += pad + "-";
      if (it.is_map() && !it.map().empty()) {
        std::string sub;
        emit(sub, it, indent + 2);
        out += sub.substr(size_t(indent) + 1);  // first key on the dash line
      } else if (it.is_list() && !fits_flow(it)) {
        out += "\n";
        emit(out, it, indent + 2);
      } else {
        out += " ";
        emit(out, it, -1);
      }
    }
  } else {
    out += scalar_text(v) + "\n";
  }
}
}  // namespace detail

// Block-style YAML text for `v` (maps as `key: value` lines, lists of scalars -- and short
// lists of such lists -- as flow lists, texts quoted only when they would otherwise read back
// differently).
inline std::string to_yaml(const Yaml& v) {
  std::string out;
  if (v.is_map() && v.map().empty()) return "{}\n";
  detail::emit(out, v, 0);
  return out;
}

// A parsed YAML value as JSON, scalars typed the way PyYAML (YAML 1.1) types plain scalars:
// integers and decimals are numbers, true/false/True/False booleans, null/Null/~ and nothing
// null, everything else -- and every quoted scalar -- text ("None" stays text, as in PyYAML).
inline nlohmann::json yaml_to_json(const Yaml& v) {
  switch (v.kind()) {
    case Yaml::Kind::null: return nullptr;
    case Yaml::Kind::list: {
      nlohmann::json a = nlohmann::json::array();
      for (auto& it : v.items()) a.push_back(yaml_to_json(it));
      return a;
    }
    case Yaml::Kind::map: {
      nlohmann::json o = nlohmann::json::object();
      for (auto& [k, it] : v.map()) o[k] = yaml_to_json(it);
      return o;
    }
    case Yaml::Kind::scalar: break;
  }
  const std::string& t = v.str();
  if (v.quoted()) return t;
  if (t == "true" || t == "True" || t == "TRUE") return true;
  if (t == "false" || t == "False" || t == "FALSE") return false;
  if (t == "null" || t == "Null" || t == "NULL" || t == "~" || t.empty()) return nullptr;
  const char* b = t.data() + (t[0] == '+' ? 1 : 0);
  const char* e = t.data() + t.size();
  long long i = 0;
  if (auto r = std::from_chars(b, e, i); r.ec == std::errc() && r.ptr == e) return i;
  double d = 0;
  if (auto r = std::from_chars(b, e, d); r.ec == std::errc() && r.ptr == e) return d;
  return t;
}

// JSON as a YAML value: texts that would read back as something else are quoted when written.
inline Yaml yaml_from_json(const nlohmann::json& j) {
  if (j.is_null()) return Yaml();
  if (j.is_boolean()) return Yaml::boolean(j.get<bool>());
  if (j.is_number_integer()) return Yaml::plain(std::to_string(j.get<long long>()));
  if (j.is_number_unsigned()) return Yaml::plain(std::to_string(j.get<unsigned long long>()));
  if (j.is_number()) return Yaml::number(j.get<double>());
  if (j.is_string()) return Yaml::string(j.get<std::string>());
  if (j.is_array()) {
    Yaml a = Yaml::list();
    for (auto& x : j) a.push_back(yaml_from_json(x));
    return a;
  }
  Yaml m = Yaml::mapping();
  for (auto& [k, x] : j.items()) m.set(k, yaml_from_json(x));
  return m;
}

}  // namespace yolite::data
