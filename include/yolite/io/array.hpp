// io/array.hpp -- io::Array: a typed block of little-endian bytes with a shape, and its dtypes.
//
//   io::Array a = io::Array::from(tensor, "model.0.conv.weight");   // any Tensor<float/double/int64...>
//   Tensor<float> t = a.f32();            // float32 as is; float16 / bfloat16 widened exactly
//   std::vector<int64_t> v = a.i64();     // integers widened to int64
//
// The common currency of the file formats in io/: a .npy array, a safetensors entry and a
// PyTorch storage are all read into an Array first. Conversions only widen, so a precision loss
// is never silent (a float64 array asked for as float32 is an error naming the array).
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "../core/error.hpp"
#include "../core/tensor.hpp"
#include "file.hpp"
#include "half.hpp"

namespace yolite::io {

enum class DType { f16, bf16, f32, f64, i8, i16, i32, i64, u8, b1 };

inline int dtype_size(DType d) {
  switch (d) {
    case DType::f16: case DType::bf16: case DType::i16: return 2;
    case DType::f32: case DType::i32: return 4;
    case DType::f64: case DType::i64: return 8;
    default: return 1;
  }
}
inline const char* dtype_name(DType d) {
  switch (d) {
    case DType::f16: return "float16";
    case DType::bf16: return "bfloat16";
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::i8: return "int8";
    case DType::i16: return "int16";
    case DType::i32: return "int32";
    case DType::i64: return "int64";
    case DType::u8: return "uint8";
    case DType::b1: return "bool";
  }
  return "?";
}
inline bool dtype_is_float(DType d) {
  return d == DType::f16 || d == DType::bf16 || d == DType::f32 || d == DType::f64;
}
// numpy's descr string ('<f4', '|u1', ...).
inline const char* dtype_descr(DType d) {
  switch (d) {
    case DType::f16: return "<f2";
    case DType::bf16: return "<V2";  // numpy has no bfloat16
    case DType::f32: return "<f4";
    case DType::f64: return "<f8";
    case DType::i8: return "|i1";
    case DType::i16: return "<i2";
    case DType::i32: return "<i4";
    case DType::i64: return "<i8";
    case DType::u8: return "|u1";
    case DType::b1: return "|b1";
  }
  return "?";
}

// Product of the dimensions, refusing negative dims and anything above kMaxTensorElements.
inline int64_t checked_numel(const std::vector<int64_t>& shape, std::string_view what) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) fail(what, ": negative dimension ", d, " in shape");
    if (d != 0 && n > kMaxTensorElements / d)
      fail(what, ": shape claims more than ", kMaxTensorElements, " elements; refusing");
    n *= d;
  }
  if (n > kMaxTensorElements) fail(what, ": shape claims ", n, " elements; refusing");
  return n;
}

inline std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "(";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + (s.size() == 1 ? ",)" : ")");
}

// A dense little-endian array of any supported dtype. `name` is used in error messages.
struct Array {
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  std::string bytes;  // numel * dtype_size bytes, C order, little-endian
  std::string name;

  int64_t numel() const { return checked_numel(shape, name); }

  template <class T>
  static Array from(const Tensor<T>& t, std::string name = "") {
    Array a;
    if constexpr (std::is_same_v<T, float>) a.dtype = DType::f32;
    else if constexpr (std::is_same_v<T, double>) a.dtype = DType::f64;
    else if constexpr (std::is_same_v<T, int64_t>) a.dtype = DType::i64;
    else if constexpr (std::is_same_v<T, int32_t>) a.dtype = DType::i32;
    else if constexpr (std::is_same_v<T, uint8_t>) a.dtype = DType::u8;
    else static_assert(sizeof(T) == 0, "Array::from: unsupported element type");
    a.shape = t.shape().vec();
    a.bytes.assign(reinterpret_cast<const char*>(t.data()), size_t(t.numel()) * sizeof(T));
    a.name = std::move(name);
    return a;
  }
  static Array from_i64(const std::vector<int64_t>& v, std::vector<int64_t> shape, std::string name = "") {
    Array a;
    a.dtype = DType::i64;
    a.shape = std::move(shape);
    YOLITE_CHECK(a.numel() == int64_t(v.size()), "Array::from_i64 '", name, "': shape ",
                 shape_str(a.shape), " needs ", a.numel(), " values, got ", v.size());
    a.bytes.assign(reinterpret_cast<const char*>(v.data()), v.size() * 8);
    a.name = std::move(name);
    return a;
  }

  // float32 tensor (float32 as is, float16 / bfloat16 widened exactly).
  Tensor<float> f32() const {
    Tensor<float> t(tensor_shape());
    if (dtype == DType::f32) {
      copy_raw(t.data());
    } else if (dtype == DType::f16 || dtype == DType::bf16) {
      check_size();
      const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
      if (dtype == DType::f16)
        for (int64_t i = 0; i < t.numel(); ++i) t[i] = half_to_float(le16(p + 2 * i));
      else
        for (int64_t i = 0; i < t.numel(); ++i) t[i] = bf16_to_float(le16(p + 2 * i));
    } else {
      fail(label(), ": is ", dtype_name(dtype), ", expected float32 (or float16/bfloat16)");
    }
    return t;
  }
  // float64 tensor (float64 as is, float32/float16 widened).
  Tensor<double> f64() const {
    Tensor<double> t(tensor_shape());
    if (dtype == DType::f64) {
      copy_raw(t.data());
    } else if (dtype == DType::f32 || dtype == DType::f16 || dtype == DType::bf16) {
      Tensor<float> f = f32();
      for (int64_t i = 0; i < t.numel(); ++i) t[i] = f[i];
    } else {
      fail(label(), ": is ", dtype_name(dtype), ", expected a floating-point array");
    }
    return t;
  }
  // Integer values widened to int64 (int8/16/32/64, uint8, bool).
  std::vector<int64_t> i64() const {
    check_size();
    int64_t n = numel();
    std::vector<int64_t> v(static_cast<size_t>(n));
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    for (int64_t i = 0; i < n; ++i) {
      switch (dtype) {
        case DType::i64: v[i] = int64_t(le64(p + 8 * i)); break;
        case DType::i32: v[i] = int32_t(le32(p + 4 * i)); break;
        case DType::i16: v[i] = int16_t(le16(p + 2 * i)); break;
        case DType::i8: v[i] = int8_t(p[i]); break;
        case DType::u8: case DType::b1: v[i] = p[i]; break;
        default: fail(label(), ": is ", dtype_name(dtype), ", expected an integer array");
      }
    }
    return v;
  }
  Tensor<int64_t> i64_tensor() const {
    auto v = i64();
    Tensor<int64_t> t(tensor_shape());
    if (!v.empty()) std::memcpy(t.data(), v.data(), v.size() * 8);
    return t;
  }
  Shape tensor_shape() const {
    YOLITE_CHECK(int(shape.size()) <= Shape::kMaxDims, label(), ": shape ", shape_str(shape),
                 " has more than ", Shape::kMaxDims, " dimensions");
    return Shape(shape);
  }
  std::string label() const { return name.empty() ? std::string("array") : name; }
  void check_size() const {
    uint64_t want = uint64_t(numel()) * uint64_t(dtype_size(dtype));
    YOLITE_CHECK(bytes.size() == want, label(), ": ", dtype_name(dtype), " ", shape_str(shape),
                 " needs ", want, " bytes of data, found ", bytes.size());
  }

 private:
  void copy_raw(void* dst) const {
    check_size();
    if (!bytes.empty()) std::memcpy(dst, bytes.data(), bytes.size());
  }
};

}  // namespace yolite::io
