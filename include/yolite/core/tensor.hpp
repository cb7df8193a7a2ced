// core/tensor.hpp -- Tensor<T>: a dense, contiguous, row-major (NCHW) array.
//
//   Tensor<float> x({8, 3, 320, 320});      // zero-filled, 64-byte aligned
//   x.at(0, 1, 2, 3) = 1.f;                   // bounds-checked element access
//   auto flat = x.reshape({8, -1});           // a view: shares the storage, no copy
//   auto m = x.matrix(24, 320 * 320);         // Eigen::Map over the same memory
//
// Copies are shallow (like torch.Tensor): `Tensor b = a;` shares storage; `a.clone()` copies.
// Shapes have up to 6 dimensions. Shape mismatches throw yolite::Error naming both shapes.
#pragma once
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "error.hpp"

namespace yolite {

// ---- Shape ---------------------------------------------------------------------------------
class Shape {
 public:
  static constexpr int kMaxDims = 6;
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) { assign(dims.begin(), dims.end()); }
  explicit Shape(const std::vector<int64_t>& dims) { assign(dims.begin(), dims.end()); }

  int ndim() const { return nd_; }
  int64_t operator[](int i) const { return d_[index(i)]; }
  int64_t& operator[](int i) { return d_[index(i)]; }
  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < nd_; ++i) n *= d_[i];
    return n;
  }
  std::vector<int64_t> vec() const { return std::vector<int64_t>(d_.begin(), d_.begin() + nd_); }
  bool operator==(const Shape& o) const {
    return nd_ == o.nd_ && std::equal(d_.begin(), d_.begin() + nd_, o.d_.begin());
  }
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::string str() const {
    std::string s = "[";
    for (int i = 0; i < nd_; ++i) s += (i ? ", " : "") + std::to_string(d_[i]);
    return s + "]";
  }

 private:
  template <class It>
  void assign(It b, It e) {
    nd_ = 0;
    for (; b != e; ++b) {
      YOLITE_CHECK(nd_ < kMaxDims, "Shape: more than ", kMaxDims, " dimensions");
      d_[nd_++] = static_cast<int64_t>(*b);
    }
  }
  int index(int i) const {
    if (i < 0) i += nd_;
    YOLITE_CHECK(i >= 0 && i < nd_, "Shape", str(), ": dimension index ", i, " out of range");
    return i;
  }
  std::array<int64_t, kMaxDims> d_{};
  int nd_ = 0;
};

inline std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.str(); }

// Largest element count a single tensor may claim (guards against corrupt files asking for
// absurd allocations before any memory is touched): 2^34 elements.
inline constexpr int64_t kMaxTensorElements = int64_t(1) << 34;

namespace internal {
struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};
template <class T>
std::shared_ptr<T[]> aligned_alloc_zeroed(int64_t n) {
  YOLITE_CHECK(n >= 0 && n <= kMaxTensorElements, "Tensor: refusing to allocate ", n, " elements");
  size_t bytes = static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(T);
  bytes = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, bytes);
  if (!p) throw std::bad_alloc();
  std::memset(p, 0, bytes);
  return std::shared_ptr<T[]>(static_cast<T*>(p), [](T* q) { std::free(q); });
}
}  // namespace internal

// ---- Tensor --------------------------------------------------------------------------------
template <class T>
class Tensor {
 public:
  using value_type = T;
  using MatrixMap = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;
  using ConstMatrixMap =
      Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

  Tensor() = default;
  explicit Tensor(const Shape& shape) : shape_(shape) {
    for (int i = 0; i < shape.ndim(); ++i)
      YOLITE_CHECK(shape[i] >= 0, "Tensor: negative dimension in shape ", shape.str());
    storage_ = internal::aligned_alloc_zeroed<T>(shape.numel());
    data_ = storage_.get();
  }
  Tensor(std::initializer_list<int64_t> dims) : Tensor(Shape(dims)) {}
  Tensor(const Shape& shape, T value) : Tensor(shape) { fill(value); }

  static Tensor zeros(const Shape& s) { return Tensor(s); }
  static Tensor full(const Shape& s, T v) { return Tensor(s, v); }
  static Tensor from(const Shape& s, std::span<const T> values) {
    Tensor t(s);
    YOLITE_CHECK(int64_t(values.size()) == t.numel(), "Tensor::from: shape ", s.str(), " needs ",
                 t.numel(), " values, got ", values.size());
    std::copy(values.begin(), values.end(), t.data());
    return t;
  }

  // --- shape
  const Shape& shape() const { return shape_; }
  int ndim() const { return shape_.ndim(); }
  int64_t size(int i) const { return shape_[i]; }
  int64_t numel() const { return shape_.numel(); }
  bool empty() const { return data_ == nullptr; }
  bool defined() const { return data_ != nullptr; }

  // --- data
  T* data() { return data_; }
  const T* data() const { return data_; }
  std::span<T> span() { return {data_, size_t(numel())}; }
  std::span<const T> span() const { return {data_, size_t(numel())}; }
  T* begin() { return data_; }
  T* end() { return data_ + numel(); }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + numel(); }
  T& operator[](int64_t i) { return data_[i]; }
  const T& operator[](int64_t i) const { return data_[i]; }

  // Bounds-checked element access by full index.
  template <class... I>
  T& at(I... idx) {
    return data_[offset({int64_t(idx)...})];
  }
  template <class... I>
  const T& at(I... idx) const {
    return data_[offset({int64_t(idx)...})];
  }

  // --- views and copies
  // A view with another shape over the same storage; one dimension may be -1 (inferred).
  Tensor reshape(Shape s) const {
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < s.ndim(); ++i) {
      if (s[i] == -1) {
        YOLITE_CHECK(infer < 0, "reshape ", shape_.str(), " -> ", s.str(), ": more than one -1");
        infer = i;
      } else {
        known *= s[i];
      }
    }
    if (infer >= 0 && known > 0) s[infer] = numel() / known;
    YOLITE_CHECK(s.numel() == numel(), "reshape: cannot view ", shape_.str(), " (", numel(),
                 " elements) as ", s.str());
    Tensor v = *this;
    v.shape_ = s;
    return v;
  }
  Tensor reshape(std::initializer_list<int64_t> dims) const { return reshape(Shape(dims)); }
  // A view of item i along dimension 0 (e.g. one image of a batch).
  Tensor operator()(int64_t i) const {
    YOLITE_CHECK(ndim() >= 1 && i >= 0 && i < shape_[0], "index ", i, " out of range for ",
                 shape_.str());
    std::vector<int64_t> d = shape_.vec();
    int64_t inner = numel() / std::max<int64_t>(d[0], 1);
    d.erase(d.begin());
    Tensor v = *this;
    v.shape_ = Shape(d);
    v.data_ = data_ + i * inner;
    return v;
  }
  Tensor clone() const {
    Tensor t(shape_);
    if (numel()) std::memcpy(t.data(), data_, sizeof(T) * size_t(numel()));
    return t;
  }
  template <class U>
  Tensor<U> cast() const {
    Tensor<U> t(shape_);
    for (int64_t i = 0; i < numel(); ++i) t[i] = static_cast<U>(data_[i]);
    return t;
  }
  void copy_from(const Tensor& o) {
    check_same_shape(o, "copy_from");
    if (numel()) std::memmove(data_, o.data(), sizeof(T) * size_t(numel()));
  }
  void fill(T v) { std::fill(begin(), end(), v); }
  void zero() { fill(T(0)); }

  // Eigen views (row-major) over the storage.
  MatrixMap matrix(int64_t rows, int64_t cols) {
    YOLITE_CHECK(rows * cols == numel(), "matrix(", rows, ", ", cols, ") over ", shape_.str());
    return MatrixMap(data_, rows, cols);
  }
  ConstMatrixMap matrix(int64_t rows, int64_t cols) const {
    YOLITE_CHECK(rows * cols == numel(), "matrix(", rows, ", ", cols, ") over ", shape_.str());
    return ConstMatrixMap(data_, rows, cols);
  }

  void check_same_shape(const Tensor& o, const char* what) const {
    YOLITE_CHECK(shape_ == o.shape_, what, ": shape mismatch ", shape_.str(), " vs ",
                 o.shape_.str());
  }
  // True when both tensors view the same first element (shared storage).
  bool same_data(const Tensor& o) const { return data_ == o.data_; }

 private:
  int64_t offset(std::initializer_list<int64_t> idx) const {
    YOLITE_CHECK(int(idx.size()) == ndim(), "at(): ", idx.size(), " indices for shape ",
                 shape_.str());
    int64_t off = 0;
    int i = 0;
    for (int64_t v : idx) {
      YOLITE_CHECK(v >= 0 && v < shape_[i], "at(): index ", v, " out of range in dimension ", i,
                   " of ", shape_.str());
      off = off * shape_[i] + v;
      ++i;
    }
    return off;
  }

  std::shared_ptr<T[]> storage_;
  T* data_ = nullptr;
  Shape shape_;
};

}  // namespace yolite
