// core/cuda/device_tensor.hpp -- DeviceTensor<T>: a dense NCHW array in GPU memory.
//
//   cuda::Context ctx;
//   auto d = cuda::DeviceTensor<float>::from_host(ctx, host);    // host: yolite::Tensor<float>
//   cuda::DeviceTensor<float> y(ctx, {8, 64, 80, 80});           // uninitialised
//   y.zero(ctx);                                                  // cudaMemsetAsync on ctx's stream
//   ops::cuda::silu_forward(ctx.stream(), d.data(), y.data(), d.numel());
//   std::vector<float> v = y.to_host(ctx);                        // waits for the stream
//   y.to_host(ctx, host_tensor.data(), host_tensor.numel());      // into existing memory
//
// Memory comes from the Context's CachingAllocator and goes back to it when the last copy
// of the tensor is destroyed (copies are shallow, like yolite::Tensor; clone() copies the data).
// This header does not include core/tensor.hpp: from_host() takes anything with data(),
// numel() and shape().vec() (yolite::Tensor<T> does), or a pointer and a shape.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "allocator.hpp"

namespace yolite::cuda {

template <class T>
class DeviceTensor {
 public:
  DeviceTensor() = default;
  DeviceTensor(Context& ctx, std::vector<int64_t> shape) : shape_(std::move(shape)) {
    numel_ = 1;
    for (size_t i = 0; i < shape_.size(); ++i) {
      YOLITE_CHECK(shape_[i] >= 0, "DeviceTensor: dimension ", i, " of shape ", shape_str(),
                   " is negative");
      numel_ *= shape_[i];
    }
    std::shared_ptr<CachingAllocator> alloc = ctx.allocator_ptr();
    T* p = static_cast<T*>(alloc->allocate(size_t(numel_) * sizeof(T)));
    // The deleter holds the allocator, so it outlives every tensor it served.
    data_ = std::shared_ptr<T>(p, [alloc](T* q) { alloc->deallocate(q); });
  }
  DeviceTensor(Context& ctx, std::initializer_list<int64_t> shape)
      : DeviceTensor(ctx, std::vector<int64_t>(shape)) {}

  // Copies n = prod(shape) values from host memory.
  static DeviceTensor from_host(Context& ctx, const T* src, std::vector<int64_t> shape) {
    DeviceTensor t(ctx, std::move(shape));
    if (t.numel_)
      YOLITE_CUDA_CHECK(cudaMemcpyAsync(t.data(), src, t.bytes(), cudaMemcpyHostToDevice,
                                        ctx.stream()));
    YOLITE_CUDA_CHECK(cudaStreamSynchronize(ctx.stream()));  // src may be freed after return
    return t;
  }
  static DeviceTensor from_host(Context& ctx, const std::vector<T>& v) {
    return from_host(ctx, v.data(), {int64_t(v.size())});
  }
  template <class HostTensor>
    requires requires(const HostTensor& h) { h.data(); h.numel(); h.shape().vec(); }
  static DeviceTensor from_host(Context& ctx, const HostTensor& h) {
    return from_host(ctx, h.data(), h.shape().vec());
  }

  // Copies the data back (after the stream's earlier work finishes).
  void to_host(Context& ctx, T* dst, int64_t n) const {
    YOLITE_CHECK(n == numel_, "DeviceTensor::to_host: destination holds ", n,
                 " values, the tensor ", shape_str(), " holds ", numel_);
    if (numel_)
      YOLITE_CUDA_CHECK(cudaMemcpyAsync(dst, data(), bytes(), cudaMemcpyDeviceToHost, ctx.stream()));
    YOLITE_CUDA_CHECK(cudaStreamSynchronize(ctx.stream()));
  }
  std::vector<T> to_host(Context& ctx) const {
    std::vector<T> v(static_cast<size_t>(numel_));
    to_host(ctx, v.data(), numel_);
    return v;
  }

  void zero(Context& ctx) {
    if (numel_) YOLITE_CUDA_CHECK(cudaMemsetAsync(data(), 0, bytes(), ctx.stream()));
  }
  DeviceTensor clone(Context& ctx) const {
    DeviceTensor t(ctx, shape_);
    if (numel_)
      YOLITE_CUDA_CHECK(cudaMemcpyAsync(t.data(), data(), bytes(), cudaMemcpyDeviceToDevice,
                                        ctx.stream()));
    return t;
  }

  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  bool defined() const { return data_ != nullptr || (!shape_.empty() && numel_ == 0); }
  int64_t numel() const { return numel_; }
  size_t bytes() const { return size_t(numel_) * sizeof(T); }
  int ndim() const { return int(shape_.size()); }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t dim(int i) const {
    if (i < 0) i += ndim();
    YOLITE_CHECK(i >= 0 && i < ndim(), "DeviceTensor", shape_str(), ": dimension index ", i,
                 " out of range");
    return shape_[size_t(i)];
  }
  std::string shape_str() const {
    std::string s = "[";
    for (size_t i = 0; i < shape_.size(); ++i) s += (i ? ", " : "") + std::to_string(shape_[i]);
    return s + "]";
  }

 private:
  std::vector<int64_t> shape_;
  int64_t numel_ = 0;
  std::shared_ptr<T> data_;
};

}  // namespace yolite::cuda
