// core/cuda/allocator.hpp -- a caching device-memory allocator and the Context that owns it.
//
//   cuda::Context ctx;                          // device 0, its own stream, its own cache
//   void* p = ctx.allocator().allocate(bytes);  // from the cache when a block fits
//   ctx.allocator().deallocate(p);              // back to the cache (NOT cudaFree)
//   ctx.allocator().release_cached();           // cudaFree every cached, unused block
//   ctx.synchronize();                          // wait for the context's stream
//
// Why: cudaMalloc/cudaFree synchronise the device and cost tens of microseconds; a training
// step allocates hundreds of activations of the same few sizes. The allocator rounds every
// request up to a size class (powers of two from 512 bytes up to 1 MiB, then multiples of
// 1 MiB) and keeps one free list per class; deallocate() pushes the block onto its list, and
// allocate() pops from it before asking cudaMalloc. When cudaMalloc runs out of memory the
// cache is released and the call retried once.
//
// There is no global state: every Context owns its allocator (held by shared_ptr, so device
// tensors that outlive their Context keep the allocator alive and still return their memory).
// Blocks are reused in stream order: all work goes to the context's one stream, so a block
// freed by the host after enqueueing kernels that use it is only reused by kernels enqueued
// later on that same stream. Not thread-safe: use one Context per host thread.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <memory>
#include <unordered_map>
#include <vector>

#include "device.hpp"

namespace yolite::cuda {

class CachingAllocator {
 public:
  explicit CachingAllocator(int device = 0) : device_(device) {}
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;
  ~CachingAllocator() {
    // Destructors must not throw: errors while freeing are ignored (the process is ending or
    // the device is gone; the driver reclaims the memory with the context).
    for (auto& [size, list] : free_)
      for (void* p : list) (void)cudaFree(p);
    for (auto& [p, size] : used_) (void)cudaFree(p);
  }

  // The size class a request of `bytes` is rounded up to.
  static size_t round_size(size_t bytes) {
    constexpr size_t kMin = 512, kMiB = size_t(1) << 20;
    if (bytes <= kMin) return kMin;
    if (bytes <= kMiB) {
      size_t s = kMin;
      while (s < bytes) s <<= 1;
      return s;
    }
    return (bytes + kMiB - 1) / kMiB * kMiB;
  }

  // A device pointer to at least `bytes` bytes (256-byte aligned, as cudaMalloc gives).
  // bytes == 0 gives nullptr.
  void* allocate(size_t bytes) {
    if (bytes == 0) return nullptr;
    const size_t size = round_size(bytes);
    void* p = nullptr;
    auto it = free_.find(size);
    if (it != free_.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
      cached_bytes_ -= size;
      ++hits_;
    } else {
      YOLITE_CUDA_CHECK(cudaSetDevice(device_));
      cudaError_t e = cudaMalloc(&p, size);
      if (e == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError();
        release_cached();
        e = cudaMalloc(&p, size);
      }
      if (e != cudaSuccess) {
        (void)cudaGetLastError();
        fail("cuda::CachingAllocator: cudaMalloc of ", size, " bytes (request ", bytes,
             ") failed on device ", device_, ": ", cudaGetErrorString(e), "; ", used_bytes_,
             " bytes in use by this allocator");
      }
      ++mallocs_;
    }
    used_[p] = size;
    used_bytes_ += size;
    return p;
  }

  // Returns a pointer from allocate() to the cache. nullptr is ignored.
  void deallocate(void* p) {
    if (!p) return;
    auto it = used_.find(p);
    YOLITE_CHECK(it != used_.end(), "cuda::CachingAllocator::deallocate: pointer ", p,
                 " was not allocated here (or was already freed)");
    const size_t size = it->second;
    used_.erase(it);
    used_bytes_ -= size;
    free_[size].push_back(p);
    cached_bytes_ += size;
  }

  // cudaFree every cached block not in use (waits for the device first).
  void release_cached() {
    if (cached_bytes_ == 0) return;
    YOLITE_CUDA_CHECK(cudaDeviceSynchronize());
    for (auto& [size, list] : free_) {
      for (void* p : list) YOLITE_CUDA_CHECK(cudaFree(p));
      list.clear();
    }
    cached_bytes_ = 0;
  }

  int device() const { return device_; }
  size_t used_bytes() const { return used_bytes_; }      // handed out, not yet deallocated
  size_t cached_bytes() const { return cached_bytes_; }  // in the free lists
  size_t malloc_calls() const { return mallocs_; }       // cudaMalloc calls made so far
  size_t cache_hits() const { return hits_; }            // requests served from the cache

 private:
  int device_;
  std::unordered_map<size_t, std::vector<void*>> free_;  // size class -> free blocks
  std::unordered_map<void*, size_t> used_;               // live block -> its size class
  size_t used_bytes_ = 0, cached_bytes_ = 0, mallocs_ = 0, hits_ = 0;
};

// Everything one host thread needs to run kernels: a device, a stream and an allocator.
class Context {
 public:
  explicit Context(int device = 0) : device_(device) {
    require_gpu("cuda::Context");
    YOLITE_CUDA_CHECK(cudaSetDevice(device));
    YOLITE_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    alloc_ = std::make_shared<CachingAllocator>(device);
  }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  ~Context() {
    if (stream_) {
      (void)cudaStreamSynchronize(stream_);
      (void)cudaStreamDestroy(stream_);
    }
  }

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  CachingAllocator& allocator() { return *alloc_; }
  const std::shared_ptr<CachingAllocator>& allocator_ptr() const { return alloc_; }
  void synchronize() const { YOLITE_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

 private:
  int device_;
  cudaStream_t stream_ = nullptr;
  std::shared_ptr<CachingAllocator> alloc_;
};

}  // namespace yolite::cuda
