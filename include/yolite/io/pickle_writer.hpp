// io/pickle_writer.hpp -- writes Python pickles (protocol 2) of plain data and torch tensors:
// what a PyTorch checkpoint's data.pkl holds when it is a state dict rather than whole modules.
//
//   io::PickleWriter p;
//   p.begin_dict();                               // {
//   p.str("names"); p.begin_list(); p.str("bottle"); p.end_list();   //   'names': ['bottle'],
//   p.str("w"); p.tensor("0", "FloatStorage", {16, 3, 3, 3}, 432);  //   'w': tensor (storage "0")
//   p.end_dict();                                 // }
//   std::string bytes = p.finish();               // PROTO 2 ... STOP
//
// Only opcodes that torch.load(weights_only=True) accepts are used (PyTorch 1.13's restricted
// unpickler has no BINFLOAT, no memo needed): PROTO, MARK, EMPTY_DICT/LIST/TUPLE, SETITEMS,
// APPENDS, TUPLE, BININT1/BININT2/BININT/LONG1, BINUNICODE, NONE, NEWTRUE/NEWFALSE, GLOBAL,
// REDUCE, BINPERSID, STOP. So: no floats in the plain data -- a number that is not an
// integer goes in as text (callers do that: the model yaml is stored as its text).
// A tensor is `torch._utils._rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())`
// with the storage a persistent id ('storage', torch.<Kind>Storage, key, 'cpu', numel): the
// caller writes the storage bytes as `<archive>/data/<key>` in the zip (export/torch_pt.hpp).
// io/pickle.hpp reads all of this back.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "../core/error.hpp"
#include "file.hpp"

namespace yolite::io {

class PickleWriter {
 public:
  PickleWriter() { b_ += "\x80\x02"; }  // PROTO 2

  void none() { b_ += 'N'; }
  void boolean(bool v) { b_ += v ? '\x88' : '\x89'; }
  void integer(int64_t v) {
    if (v >= 0 && v < 256) {
      b_ += 'K';
      b_ += char(v);
    } else if (v >= 0 && v < 65536) {
      b_ += 'M';
      put_le16(b_, uint16_t(v));
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      b_ += 'J';
      put_le32(b_, uint32_t(int32_t(v)));
    } else {
      b_ += '\x8a';  // LONG1: 8 little-endian two's-complement bytes
      b_ += char(8);
      put_le64(b_, uint64_t(v));
    }
  }
  void str(std::string_view s) {
    YOLITE_CHECK(s.size() < 0xFFFFFFFFu, "pickle: string too long");
    b_ += 'X';
    put_le32(b_, uint32_t(s.size()));
    b_ += s;
  }
  void global(std::string_view module, std::string_view name) {
    b_ += 'c';
    b_ += module;
    b_ += '\n';
    b_ += name;
    b_ += '\n';
  }

  // Containers: begin_*, the items (dict: key, value, key, value ...), end_*.
  void begin_dict() {
    b_ += '}';
    b_ += '(';
  }
  void end_dict() { b_ += 'u'; }  // SETITEMS
  void begin_ordered_dict() {
    global("collections", "OrderedDict");
    b_ += ')';  // EMPTY_TUPLE
    b_ += 'R';  // REDUCE: OrderedDict()
    b_ += '(';
  }
  void end_ordered_dict() { b_ += 'u'; }
  void begin_list() {
    b_ += ']';
    b_ += '(';
  }
  void end_list() { b_ += 'e'; }  // APPENDS
  void begin_tuple() { b_ += '('; }
  void end_tuple() { b_ += 't'; }
  void int_tuple(const std::vector<int64_t>& v) {
    begin_tuple();
    for (int64_t x : v) integer(x);
    end_tuple();
  }

  // A contiguous tensor of `shape` over storage `key` of torch.<storage_class> (FloatStorage,
  // LongStorage, ...) holding `numel` elements.
  void tensor(const std::string& key, std::string_view storage_class, const std::vector<int64_t>& shape,
              int64_t numel) {
    std::vector<int64_t> stride(shape.size(), 1);
    for (size_t i = shape.size(); i-- > 1;) stride[i - 1] = stride[i] * shape[i];
    global("torch._utils", "_rebuild_tensor_v2");
    begin_tuple();
    begin_tuple();  // the persistent id
    str("storage");
    global("torch", storage_class);
    str(key);
    str("cpu");
    integer(numel);
    end_tuple();
    b_ += 'Q';  // BINPERSID
    integer(0);  // storage offset
    int_tuple(shape);
    int_tuple(stride);
    boolean(false);  // requires_grad
    global("collections", "OrderedDict");
    b_ += ')';
    b_ += 'R';  // backward hooks: OrderedDict()
    end_tuple();
    b_ += 'R';
  }

  std::string finish() {
    b_ += '.';  // STOP
    return std::move(b_);
  }

 private:
  std::string b_;
};

}  // namespace yolite::io
