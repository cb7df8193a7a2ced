// io/pickle.hpp -- a restricted Python unpickler that never executes anything.
//
//   io::pickle::Pickle p = io::pickle::unpickle(bytes, "model.pt: data.pkl");
//   const io::pickle::Value* root = p.root();
//   if (const auto* m = root->get("model")) ...            // dict lookup by string key
//   std::cout << root->repr() << "\n";                     // short Python-like description
//
// Python's pickle is a small stack machine; a real unpickler imports modules and calls
// functions named in the stream (GLOBAL + REDUCE), which is how a malicious file runs code.
// This one only builds data: a GLOBAL becomes an opaque record (module, name); calling it
// (REDUCE/NEWOBJ) makes an Object record that holds the callable and its arguments; BUILD stores
// the state (for nn.Module objects, the dict with _parameters, _buffers, _modules) in the
// record. A handful of well-known callables are understood as data: collections.OrderedDict ->
// Dict, builtins.set/frozenset -> Set, and PyTorch's tensor rebuild functions
// (torch._utils._rebuild_tensor_v2, _rebuild_parameter) -> a Tensor record that refers to a
// Storage record (from BINPERSID: ('storage', torch.HalfStorage, key, location, numel)).
// Nothing is imported or called, whatever the stream names (os.system included).
//
// Supported: protocols 0-5 as torch.save and pickle.dump write them for data (the text opcodes
// of protocol 0 that build data, all binary opcodes except EXT*/INST/OBJ/out-of-band buffers).
// All values live in an arena owned by Pickle, so deep or cyclic structures cost no recursion
// when freed. Every length is checked against the bytes left, memo indices against the memo,
// storage sizes against kMaxTensorElements: a corrupt stream gives a yolite::Error naming the
// source, the byte offset and the opcode.
#pragma once
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "array.hpp"
#include "file.hpp"

namespace yolite::io::pickle {

enum class Kind { None, Bool, Int, Float, Str, Bytes, Tuple, List, Dict, Set, Global, Object, Storage, Tensor };

struct Value {
  Kind kind = Kind::None;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;     // Str, Bytes; Global: module; Storage: key
  std::string name;  // Global: name; Storage: storage class (e.g. "HalfStorage")
  std::vector<const Value*> items;                          // Tuple, List, Set; Object: appended
  std::vector<std::pair<const Value*, const Value*>> dict;  // Dict; Object: set items
  const Value* cls = nullptr;    // Object: the callable (usually a Global)
  const Value* args = nullptr;   // Object: the argument tuple
  const Value* state = nullptr;  // Object: what BUILD set
  // Storage
  DType dtype = DType::f32;
  int64_t numel = 0;
  // Tensor
  const Value* storage = nullptr;
  int64_t offset = 0;
  std::vector<int64_t> size, stride;
  bool parameter = false;

  bool is(Kind k) const { return kind == k; }
  bool is_none() const { return kind == Kind::None; }
  // Dict lookup by string key (for an Object: in its BUILD state dict). nullptr when absent.
  const Value* get(std::string_view key) const {
    const Value* d = this;
    if (kind == Kind::Object) d = state;
    if (!d || d->kind != Kind::Dict) return nullptr;
    for (auto& [k, v] : d->dict)
      if (k->kind == Kind::Str && k->s == key) return v;
    return nullptr;
  }
  // "module.name" of a Global, or of an Object's class.
  std::string qualname() const {
    if (kind == Kind::Global) return s + "." + name;
    if (kind == Kind::Object && cls) return cls->qualname();
    return "";
  }
  std::string repr(int depth = 0) const {
    auto list = [&](const char* open, const char* close) {
      std::string r = open;
      for (size_t k = 0; k < items.size() && k < 8; ++k) r += (k ? ", " : "") + items[k]->repr(depth + 1);
      if (items.size() > 8) r += ", ...";
      return r + close;
    };
    if (depth > 3) return "...";
    switch (kind) {
      case Kind::None: return "None";
      case Kind::Bool: return b ? "True" : "False";
      case Kind::Int: return std::to_string(i);
      case Kind::Float: return str(f);
      case Kind::Str: return "'" + s.substr(0, 60) + "'";
      case Kind::Bytes: return str("<", s.size(), " bytes>");
      case Kind::Tuple: return list("(", ")");
      case Kind::List: return list("[", "]");
      case Kind::Set: return list("{", "}");
      case Kind::Dict: return str("{dict of ", dict.size(), "}");
      case Kind::Global: return str("<global ", s, ".", name, ">");
      case Kind::Object: return str("<", qualname(), " object>");
      case Kind::Storage: return str("<", name, " ", s, " numel ", numel, ">");
      case Kind::Tensor: return str("<tensor ", shape_str(size), ">");
    }
    return "?";
  }
};

// The result of unpickling: owns every value.
class Pickle {
 public:
  const Value* root() const { return root_; }
  size_t num_values() const { return arena_.size(); }

 private:
  friend class Unpickler;
  std::vector<std::unique_ptr<Value>> arena_;
  const Value* root_ = nullptr;
};

class Unpickler {
 public:
  Unpickler(std::string_view data, std::string what) : d_(data), what_(std::move(what)) {}

  Pickle run() {
    while (true) {
      if (pos_ >= d_.size()) fail(what_, ": truncated pickle: no STOP opcode before the end (", d_.size(), " bytes)");
      op_pos_ = pos_;
      op_ = uint8_t(d_[pos_++]);
      if (step()) break;
    }
    if (stack_.size() != 1) err(str("STOP with ", stack_.size(), " values on the stack"));
    out_.root_ = stack_.back();
    return std::move(out_);
  }

 private:
  [[noreturn]] void err(const std::string& msg) const {
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02x", op_);
    fail(what_, ": corrupt or unsupported pickle at byte ", op_pos_, " (opcode ", buf, "): ", msg);
  }
  Value* make(Kind k) {
    if (out_.arena_.size() >= kMaxValues) err("too many objects");
    out_.arena_.push_back(std::make_unique<Value>());
    out_.arena_.back()->kind = k;
    return out_.arena_.back().get();
  }
  const unsigned char* take(uint64_t n) {
    if (n > d_.size() - pos_) err(str("needs ", n, " more bytes, only ", d_.size() - pos_, " left (truncated)"));
    auto* p = reinterpret_cast<const unsigned char*>(d_.data() + pos_);
    pos_ += size_t(n);
    return p;
  }
  std::string line() {
    size_t e = d_.find('\n', pos_);
    if (e == std::string_view::npos) err("unterminated text line");
    std::string s(d_.substr(pos_, e - pos_));
    pos_ = e + 1;
    return s;
  }
  Value* pop() {
    if (stack_.size() <= mark_floor()) err("stack underflow");
    Value* v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Value* top() {
    if (stack_.size() <= mark_floor()) err("stack underflow");
    return stack_.back();
  }
  size_t mark_floor() const { return marks_.empty() ? 0 : marks_.back(); }
  std::vector<Value*> pop_mark() {
    if (marks_.empty()) err("no MARK on the stack");
    size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Value*> v(stack_.begin() + long(m), stack_.end());
    stack_.resize(m);
    return v;
  }
  void push(Value* v) {
    if (stack_.size() >= kMaxStack) err("stack too deep");
    stack_.push_back(v);
  }
  Value* int_value(int64_t x) {
    Value* v = make(Kind::Int);
    v->i = x;
    return v;
  }
  Value* str_value(Kind k, uint64_t n) {
    const unsigned char* p = take(n);
    Value* v = make(k);
    v->s.assign(reinterpret_cast<const char*>(p), size_t(n));
    return v;
  }
  Value* tuple(std::vector<Value*> items) {
    Value* t = make(Kind::Tuple);
    t->items.assign(items.begin(), items.end());
    return t;
  }
  void memo_put(uint64_t idx) {
    if (idx > 0xFFFFFFFFull) err("memo index too large");
    memo_[uint32_t(idx)] = top();
  }
  Value* memo_get(uint64_t idx) {
    auto it = memo_.find(uint32_t(idx));
    if (idx > 0xFFFFFFFFull || it == memo_.end()) err(str("memo index ", idx, " was never stored"));
    return it->second;
  }
  static uint64_t parse_uint(const std::string& s, const Unpickler& u) {
    if (s.empty() || s.size() > 18) u.err(str("bad decimal '", s, "'"));
    uint64_t v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') u.err(str("bad decimal '", s, "'"));
      v = v * 10 + uint64_t(c - '0');
    }
    return v;
  }
  void append_to(Value* target, const std::vector<Value*>& vals) {
    if (target->kind == Kind::List || target->kind == Kind::Object || target->kind == Kind::Set) {
      for (auto* v : vals) target->items.push_back(v);
    } else {
      err(str("APPEND to ", target->repr()));
    }
  }
  void setitems(Value* target, const std::vector<Value*>& kv) {
    if (kv.size() % 2) err("SETITEMS with an odd number of values");
    if (target->kind != Kind::Dict && target->kind != Kind::Object) err(str("SETITEM on ", target->repr()));
    for (size_t k = 0; k < kv.size(); k += 2) {
      bool replaced = false;
      if (kv[k]->kind == Kind::Str || kv[k]->kind == Kind::Int)
        for (auto& e : target->dict)
          if (e.first->kind == kv[k]->kind && e.first->s == kv[k]->s && e.first->i == kv[k]->i) {
            e.second = kv[k + 1];
            replaced = true;
          }
      if (!replaced) target->dict.emplace_back(kv[k], kv[k + 1]);
    }
  }

  static bool is_global(const Value* v, std::string_view mod, std::string_view name) {
    return v->kind == Kind::Global && v->s == mod && v->name == name;
  }

  // REDUCE / NEWOBJ: never calls anything; recognises a few data constructors.
  Value* call(const Value* fn, const Value* args, int depth = 0) {
    if (args->kind != Kind::Tuple) err(str("arguments are ", args->repr(), ", expected a tuple"));
    const auto& a = args->items;
    // torch._tensor._rebuild_from_type_v2(func, type, args, state): a tensor with python state
    if (is_global(fn, "torch._tensor", "_rebuild_from_type_v2")) {
      if (a.size() < 3 || a[2]->kind != Kind::Tuple) err("_rebuild_from_type_v2 without an argument tuple");
      if (depth > 4) err("_rebuild_from_type_v2 nested too deeply");
      return call(a[0], a[2], depth + 1);
    }
    if (is_global(fn, "collections", "OrderedDict")) {
      Value* d = make(Kind::Dict);
      if (!a.empty() && a[0]->kind == Kind::List) {
        for (auto* kv : a[0]->items) {
          if ((kv->kind != Kind::Tuple && kv->kind != Kind::List) || kv->items.size() != 2)
            err("OrderedDict items are not pairs");
          d->dict.emplace_back(kv->items[0], kv->items[1]);
        }
      }
      return d;
    }
    if (is_global(fn, "__builtin__", "set") || is_global(fn, "builtins", "set") ||
        is_global(fn, "__builtin__", "frozenset") || is_global(fn, "builtins", "frozenset")) {
      Value* s = make(Kind::Set);
      if (!a.empty() && (a[0]->kind == Kind::List || a[0]->kind == Kind::Tuple)) s->items = a[0]->items;
      return s;
    }
    if (is_global(fn, "torch._utils", "_rebuild_tensor_v2") || is_global(fn, "torch._utils", "_rebuild_tensor")) {
      if (a.size() < 4) err("_rebuild_tensor with fewer than 4 arguments");
      if (a[0]->kind != Kind::Storage) err(str("_rebuild_tensor: first argument is ", a[0]->repr(), ", expected a storage"));
      Value* t = make(Kind::Tensor);
      t->storage = a[0];
      t->dtype = a[0]->dtype;
      if (a[1]->kind != Kind::Int) err("_rebuild_tensor: storage offset is not an int");
      t->offset = a[1]->i;
      for (int k : {2, 3}) {
        if (a[k]->kind != Kind::Tuple) err("_rebuild_tensor: size/stride is not a tuple");
        if (a[k]->items.size() > 32) err("_rebuild_tensor: too many dimensions");
        for (auto* d : a[k]->items) {
          if (d->kind != Kind::Int) err("_rebuild_tensor: size/stride holds a non-integer");
          (k == 2 ? t->size : t->stride).push_back(d->i);
        }
      }
      if (t->size.size() != t->stride.size()) err("_rebuild_tensor: size and stride differ in length");
      return t;
    }
    if (is_global(fn, "torch._utils", "_rebuild_parameter") ||
        is_global(fn, "torch._utils", "_rebuild_parameter_with_state")) {
      if (a.empty() || a[0]->kind != Kind::Tensor) err("_rebuild_parameter without a tensor");
      Value* t = make(Kind::Tensor);
      *t = *a[0];
      t->parameter = true;
      return t;
    }
    Value* o = make(Kind::Object);
    o->cls = fn;
    o->args = args;
    return o;
  }

  Value* persistent_load(Value* pid) {
    // torch: ('storage', <global torch.HalfStorage>, key, location, numel)
    if (pid->kind != Kind::Tuple || pid->items.size() < 5 || pid->items[0]->kind != Kind::Str ||
        pid->items[0]->s != "storage")
      err(str("unsupported persistent id ", pid->repr(), " (only torch storages are understood)"));
    const Value* type = pid->items[1];
    const Value* key = pid->items[2];
    const Value* numel = pid->items[4];
    if (type->kind != Kind::Global || key->kind != Kind::Str || numel->kind != Kind::Int)
      err(str("malformed storage id ", pid->repr()));
    static const std::pair<const char*, DType> types[] = {
        {"HalfStorage", DType::f16},  {"BFloat16Storage", DType::bf16}, {"FloatStorage", DType::f32},
        {"DoubleStorage", DType::f64}, {"LongStorage", DType::i64},     {"IntStorage", DType::i32},
        {"ShortStorage", DType::i16}, {"CharStorage", DType::i8},       {"ByteStorage", DType::u8},
        {"BoolStorage", DType::b1},   {"UntypedStorage", DType::u8}};
    Value* s = make(Kind::Storage);
    bool ok = false;
    for (auto& [n, t] : types)
      if (type->name == n) s->dtype = t, ok = true;
    if (!ok || type->s != "torch") err(str("unsupported storage type ", type->s, ".", type->name));
    if (numel->i < 0 || numel->i > kMaxTensorElements)
      err(str("storage '", key->s, "' claims ", numel->i, " elements; refusing"));
    s->name = type->name;
    s->s = key->s;
    s->numel = numel->i;
    return s;
  }

  // Executes one opcode; returns true at STOP.
  bool step() {
    switch (op_) {
      case 0x80: take(1); break;  // PROTO
      case 0x95: take(8); break;  // FRAME
      case '.': return true;      // STOP
      case '(': marks_.push_back(stack_.size()); break;  // MARK
      case '0': pop(); break;                            // POP
      case '1': pop_mark(); break;                       // POP_MARK
      case '2': push(top()); break;                      // DUP
      case 'N': push(make(Kind::None)); break;
      case 0x88: case 0x89: {  // NEWTRUE / NEWFALSE
        Value* v = make(Kind::Bool);
        v->b = op_ == 0x88;
        push(v);
        break;
      }
      case 'J': push(int_value(int32_t(le32(take(4))))); break;  // BININT
      case 'K': push(int_value(*take(1))); break;                 // BININT1
      case 'M': push(int_value(le16(take(2)))); break;            // BININT2
      case 0x8a: case 0x8b: {                                     // LONG1 / LONG4
        uint64_t n = op_ == 0x8a ? *take(1) : le32(take(4));
        if (n > 8) err(str("integer of ", n, " bytes is too large"));
        const unsigned char* p = take(n);
        uint64_t u = 0;
        for (uint64_t k = 0; k < n; ++k) u |= uint64_t(p[k]) << (8 * k);
        if (n > 0 && n < 8 && (p[n - 1] & 0x80)) u |= ~uint64_t(0) << (8 * n);  // sign-extend
        push(int_value(int64_t(u)));
        break;
      }
      case 'I': case 'L': {  // INT / LONG (text)
        std::string s = line();
        if (!s.empty() && s.back() == 'L') s.pop_back();
        if (op_ == 'I' && (s == "00" || s == "01")) {
          Value* v = make(Kind::Bool);
          v->b = s == "01";
          push(v);
          break;
        }
        bool neg = !s.empty() && s[0] == '-';
        int64_t x = int64_t(parse_uint(neg ? s.substr(1) : s, *this));
        push(int_value(neg ? -x : x));
        break;
      }
      case 'G': {  // BINFLOAT: big-endian double
        const unsigned char* p = take(8);
        uint64_t u = 0;
        for (int k = 0; k < 8; ++k) u = (u << 8) | p[k];
        Value* v = make(Kind::Float);
        std::memcpy(&v->f, &u, 8);
        push(v);
        break;
      }
      case 'F': {  // FLOAT (text)
        Value* v = make(Kind::Float);
        std::string s = line();
        try {
          v->f = std::stod(s);
        } catch (...) {
          err(str("bad float '", s, "'"));
        }
        push(v);
        break;
      }
      case 'X': push(str_value(Kind::Str, le32(take(4)))); break;      // BINUNICODE
      case 0x8c: push(str_value(Kind::Str, *take(1))); break;          // SHORT_BINUNICODE
      case 0x8d: push(str_value(Kind::Str, le64(take(8)))); break;     // BINUNICODE8
      case 'T': push(str_value(Kind::Str, le32(take(4)))); break;      // BINSTRING (py2 str)
      case 'U': push(str_value(Kind::Str, *take(1))); break;           // SHORT_BINSTRING
      case 'B': push(str_value(Kind::Bytes, le32(take(4)))); break;    // BINBYTES
      case 'C': push(str_value(Kind::Bytes, *take(1))); break;         // SHORT_BINBYTES
      case 0x8e: case 0x96: push(str_value(Kind::Bytes, le64(take(8)))); break;  // BINBYTES8, BYTEARRAY8
      case 'V': {  // UNICODE (raw-unicode-escape text line; kept as is)
        Value* v = make(Kind::Str);
        v->s = line();
        push(v);
        break;
      }
      case ')': push(make(Kind::Tuple)); break;  // EMPTY_TUPLE
      case 't': push(tuple(pop_mark())); break;  // TUPLE
      case 0x85: case 0x86: case 0x87: {         // TUPLE1..3
        size_t n = size_t(op_ - 0x84);
        std::vector<Value*> v(n);
        for (size_t k = n; k-- > 0;) v[k] = pop();
        push(tuple(std::move(v)));
        break;
      }
      case ']': push(make(Kind::List)); break;  // EMPTY_LIST
      case 'l': {                               // LIST
        Value* l = make(Kind::List);
        auto v = pop_mark();
        l->items.assign(v.begin(), v.end());
        push(l);
        break;
      }
      case 'a': {  // APPEND
        Value* v = pop();
        append_to(top(), {v});
        break;
      }
      case 'e': case 0x90: {  // APPENDS, ADDITEMS
        auto v = pop_mark();
        append_to(top(), v);
        break;
      }
      case '}': push(make(Kind::Dict)); break;  // EMPTY_DICT
      case 'd': {                               // DICT
        Value* d = make(Kind::Dict);
        setitems(d, pop_mark());
        push(d);
        break;
      }
      case 's': {  // SETITEM
        Value* v = pop();
        Value* k = pop();
        setitems(top(), {k, v});
        break;
      }
      case 'u': {  // SETITEMS
        auto kv = pop_mark();
        setitems(top(), kv);
        break;
      }
      case 0x8f: push(make(Kind::Set)); break;  // EMPTY_SET
      case 0x91: {                              // FROZENSET
        Value* s = make(Kind::Set);
        auto v = pop_mark();
        s->items.assign(v.begin(), v.end());
        push(s);
        break;
      }
      case 'c': {  // GLOBAL "module\nname\n" -> an opaque record, never imported
        Value* g = make(Kind::Global);
        g->s = line();
        g->name = line();
        push(g);
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        Value* name = pop();
        Value* mod = pop();
        if (mod->kind != Kind::Str || name->kind != Kind::Str) err("STACK_GLOBAL needs two strings");
        Value* g = make(Kind::Global);
        g->s = mod->s;
        g->name = name->s;
        push(g);
        break;
      }
      case 'R': {  // REDUCE
        Value* args = pop();
        Value* fn = pop();
        push(call(fn, args));
        break;
      }
      case 0x81: {  // NEWOBJ
        Value* args = pop();
        Value* cls = pop();
        push(call(cls, args));
        break;
      }
      case 0x92: {  // NEWOBJ_EX (kwargs ignored)
        pop();
        Value* args = pop();
        Value* cls = pop();
        push(call(cls, args));
        break;
      }
      case 'b': {  // BUILD
        Value* st = pop();
        Value* obj = top();
        if (obj->kind == Kind::Object) {
          // the (dict, slots) form keeps the dict
          if (st->kind == Kind::Tuple && st->items.size() == 2 && st->items[0]->kind == Kind::Dict)
            obj->state = st->items[0];
          else
            obj->state = st;
        } else if (obj->kind == Kind::Dict && st->kind == Kind::Dict) {
          for (auto& kv : st->dict) obj->dict.push_back(kv);
        }
        // BUILD on anything else (e.g. python attributes of a tensor) is ignored.
        break;
      }
      case 'Q': push(persistent_load(pop())); break;  // BINPERSID
      case 'P': {                                     // PERSID (text id)
        Value* id = make(Kind::Str);
        id->s = line();
        push(persistent_load(id));
        break;
      }
      case 'q': memo_put(*take(1)); break;                   // BINPUT
      case 'r': memo_put(le32(take(4))); break;              // LONG_BINPUT
      case 'p': memo_put(parse_uint(line(), *this)); break;  // PUT
      case 0x94: memo_put(memo_.size()); break;              // MEMOIZE
      case 'h': push(memo_get(*take(1))); break;             // BINGET
      case 'j': push(memo_get(le32(take(4)))); break;        // LONG_BINGET
      case 'g': push(memo_get(parse_uint(line(), *this))); break;  // GET
      default: err("unsupported opcode (EXT/INST/OBJ/out-of-band buffers are not allowed)");
    }
    return false;
  }

  static constexpr size_t kMaxValues = size_t(1) << 26;
  static constexpr size_t kMaxStack = size_t(1) << 20;
  std::string_view d_;
  std::string what_;
  size_t pos_ = 0, op_pos_ = 0;
  uint8_t op_ = 0;
  std::vector<Value*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint32_t, Value*> memo_;
  Pickle out_;
};

// Unpickles `data`; `what` names the source in error messages (e.g. "best.pt: data.pkl").
inline Pickle unpickle(std::string_view data, const std::string& what) { return Unpickler(data, what).run(); }

}  // namespace yolite::io::pickle
