// core/tensor.hpp -- Tensor<T>: a dense, contiguous, row-major (NCHW) array.
//
//   Tensor<float> x({8, 3, 320, 320});      // zero-filled, 64-byte aligned
//   x.at(0, 1, 2, 3) = 1.f;                   // bounds-checked element access
//   auto flat = x.reshape({8, -1});           // a view: shares the storage, no copy
//   auto m = x.matrix(24, 320 * 320);         // Eigen::Map over the same memory
//
// Copies are shallow (like torch.Tensor): `Tensor b = a;` shares storage; `a.clone()` copies.
// Shapes have up to 6 dimensions. Shape mismatches throw yolite::Error naming both shapes.
//
//   auto y = Tensor<float>::uninit({8, 64, 80, 80});  // NOT zeroed: for outputs that a kernel
//                                                      // overwrites completely (saves a memset)
//
// Memory: blocks of 64 KiB and more are recycled through a per-thread cache (thread_local,
// see internal::BlockCache below): when the last tensor sharing a block goes away, the block is
// kept by the thread that released it and handed to the next allocation of the same size class
// on that thread, instead of going back to the OS (a fresh large block costs an mmap, page
// faults on first touch and a munmap -- about a fifth of a training step before this cache).
// Each thread keeps at most kBlockCacheBytes; yolite::release_tensor_cache() frees the calling
// thread's blocks now. The cache never changes values (zeroed tensors are zeroed either way),
// so results do not depend on it.
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

// Largest number of bytes one thread's block cache keeps (beyond it, the oldest blocks are freed).
inline constexpr size_t kBlockCacheBytes = size_t(2) << 30;
// Blocks smaller than this are left to malloc (which already recycles them without syscalls).
inline constexpr size_t kBlockCacheMin = size_t(64) << 10;

namespace internal {

// Size class of a block of `bytes` (>= kBlockCacheMin): rounded up to 8 steps per power of two,
// so a block serves requests up to 12.5% smaller than it and the cache stays small.
inline size_t block_class(size_t bytes) {
  int lg = 63 - __builtin_clzll(static_cast<unsigned long long>(bytes));
  size_t step = size_t(1) << std::max(lg - 3, 6);
  return (bytes + step - 1) / step * step;
}

// The calling thread's cache of free blocks, most recently released last. Owned by the thread
// (thread_local): only that thread reads or writes it, and its blocks are freed when the thread
// ends. A block released on another thread than the one that allocated it simply joins the
// releasing thread's cache (the memory came from std::aligned_alloc, so any thread may own it).
class BlockCache {
 public:
  BlockCache() { state() = kAlive; }
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;
  ~BlockCache() {
    state() = kGone;
    release();
  }
  // A cached block of exactly `cls` bytes, or nullptr.
  void* take(size_t cls) {
    for (size_t i = blocks_.size(); i-- > 0;)
      if (blocks_[i].bytes == cls) {
        void* p = blocks_[i].ptr;
        blocks_.erase(blocks_.begin() + std::ptrdiff_t(i));
        total_ -= cls;
        return p;
      }
    return nullptr;
  }
  void give(void* p, size_t cls) {
    if (cls > kBlockCacheBytes) {
      std::free(p);
      return;
    }
    blocks_.push_back({p, cls});
    total_ += cls;
    size_t drop = 0;  // oldest first
    while (total_ > kBlockCacheBytes) {
      std::free(blocks_[drop].ptr);
      total_ -= blocks_[drop].bytes;
      ++drop;
    }
    if (drop) blocks_.erase(blocks_.begin(), blocks_.begin() + std::ptrdiff_t(drop));
  }
  void release() {
    for (auto& b : blocks_) std::free(b.ptr);
    blocks_.clear();
    total_ = 0;
  }
  size_t bytes() const { return total_; }
  // kNone before this thread's cache is first used, kAlive while it exists, kGone after it
  // was destroyed (a tensor that dies later in the thread's or program's teardown then frees
  // its block directly).
  enum State : unsigned char { kNone, kAlive, kGone };
  static State& state() {
    thread_local State s = kNone;  // trivially destructible: valid during teardown
    return s;
  }
  static bool usable() { return state() != kGone; }
  static BlockCache& local() {
    thread_local BlockCache c;
    return c;
  }

 private:
  struct Block {
    void* ptr;
    size_t bytes;
  };
  std::vector<Block> blocks_;
  size_t total_ = 0;
};

// n elements, 64-byte aligned; zeroed when `zero`, else uninitialised.
template <class T>
std::shared_ptr<T[]> aligned_alloc_elems(int64_t n, bool zero) {
  YOLITE_CHECK(n >= 0 && n <= kMaxTensorElements, "Tensor: refusing to allocate ", n, " elements");
  size_t bytes = static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(T);
  bytes = (bytes + 63) / 64 * 64;
  if (bytes < kBlockCacheMin) {
    void* p = std::aligned_alloc(64, bytes);
    if (!p) throw std::bad_alloc();
    if (zero) std::memset(p, 0, bytes);
    return std::shared_ptr<T[]>(static_cast<T*>(p), [](T* q) { std::free(q); });
  }
  const size_t cls = block_class(bytes);
  void* p = BlockCache::local().take(cls);
  if (!p) {
    p = std::aligned_alloc(64, cls);
    if (!p) {
      BlockCache::local().release();  // give the cached memory back and try once more
      p = std::aligned_alloc(64, cls);
      if (!p) throw std::bad_alloc();
    }
  }
  if (zero) std::memset(p, 0, bytes);
  return std::shared_ptr<T[]>(static_cast<T*>(p), [cls](T* q) {
    if (BlockCache::usable())
      BlockCache::local().give(q, cls);
    else
      std::free(q);
  });
}
template <class T>
std::shared_ptr<T[]> aligned_alloc_zeroed(int64_t n) {
  return aligned_alloc_elems<T>(n, true);
}
}  // namespace internal

// Frees the blocks the calling thread's tensor cache holds (see the header comment).
inline void release_tensor_cache() {
  if (internal::BlockCache::state() == internal::BlockCache::kAlive)
    internal::BlockCache::local().release();
}
// Bytes the calling thread's tensor cache holds.
inline size_t tensor_cache_bytes() {
  return internal::BlockCache::state() == internal::BlockCache::kAlive
             ? internal::BlockCache::local().bytes()
             : 0;
}

// ---- Tensor --------------------------------------------------------------------------------
template <class T>
class Tensor {
 public:
  using value_type = T;
  using MatrixMap = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;
  using ConstMatrixMap =
      Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

  Tensor() = default;
  explicit Tensor(const Shape& shape) : Tensor(shape, Init::zero) {}
  Tensor(std::initializer_list<int64_t> dims) : Tensor(Shape(dims)) {}
  Tensor(const Shape& shape, T value) : Tensor(shape, Init::none) { fill(value); }

  static Tensor zeros(const Shape& s) { return Tensor(s); }
  // Storage NOT initialised: only for tensors that are completely overwritten before any read.
  static Tensor uninit(const Shape& s) { return Tensor(s, Init::none); }
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
    Tensor t = uninit(shape_);
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

  enum class Init { zero, none };
  Tensor(const Shape& shape, Init init) : shape_(shape) {
    for (int i = 0; i < shape.ndim(); ++i)
      YOLITE_CHECK(shape[i] >= 0, "Tensor: negative dimension in shape ", shape.str());
    storage_ = internal::aligned_alloc_elems<T>(shape.numel(), init == Init::zero);
    data_ = storage_.get();
  }

  std::shared_ptr<T[]> storage_;
  T* data_ = nullptr;
  Shape shape_;
};

}  // namespace yolite
