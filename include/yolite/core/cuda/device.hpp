// core/cuda/device.hpp -- CUDA error checking and device queries (host code, needs cudart).
//
//   YOLITE_CUDA_CHECK(cudaMemcpy(...));          // a failing call throws yolite::Error with
//                                                // the call, file:line and CUDA's message
//   if (!cuda::gpu_available()) { ... }          // false when there is no driver or no device
//   cuda::require_gpu("yolite train --device cuda");   // throws a clear Error if none
//   cuda::DeviceInfo d = cuda::device_info(0);   // name, compute capability, memory, SMs
//
// Usable from plain C++ files as well as from .cu files (only the CUDA runtime API is used).
// Kernel launches are checked with YOLITE_CUDA_CHECK(cudaGetLastError()) right after <<<>>>.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <string>

#include "../error.hpp"

namespace yolite::cuda {

namespace detail {
[[noreturn]] inline void throw_cuda_error(cudaError_t e, const char* what, const char* file,
                                          int line) {
  fail("CUDA error at ", file, ":", line, ": ", what, " returned ", cudaGetErrorName(e), " (",
       cudaGetErrorString(e), ")");
}
}  // namespace detail

#define YOLITE_CUDA_CHECK(expr)                                                          \
  do {                                                                                   \
    const cudaError_t yolite_cuda_err_ = (expr);                                         \
    if (yolite_cuda_err_ != cudaSuccess)                                                 \
      ::yolite::cuda::detail::throw_cuda_error(yolite_cuda_err_, #expr, __FILE__, __LINE__); \
  } while (0)

// Number of usable CUDA devices; 0 (never an exception) when there is no driver or no GPU.
// The reason for 0 goes to *why when given.
inline int device_count(std::string* why = nullptr) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    if (why) *why = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
    (void)cudaGetLastError();  // clear the sticky error so later calls start clean
    return 0;
  }
  if (n == 0 && why) *why = "cudaGetDeviceCount reports 0 devices";
  return n;
}

inline bool gpu_available() { return device_count() > 0; }

// Throws yolite::Error saying why no GPU can be used; `who` names the caller (a flag, a tool).
inline void require_gpu(const std::string& who) {
  std::string why;
  if (device_count(&why) == 0)
    fail(who, ": a CUDA GPU is required but none is usable (", why,
         "); run on a machine with an NVIDIA GPU and driver, or use the CPU path");
}

struct DeviceInfo {
  int index = 0;
  std::string name;
  int major = 0, minor = 0;  // compute capability
  int sm_count = 0;
  size_t total_memory = 0;   // bytes
  size_t shared_per_block = 0;
};

inline DeviceInfo device_info(int index = 0) {
  std::string why;
  const int n = device_count(&why);
  YOLITE_CHECK(index >= 0 && index < n, "cuda::device_info: device ", index,
               " does not exist (", n, " devices", n == 0 ? "; " + why : std::string(), ")");
  cudaDeviceProp p{};
  YOLITE_CUDA_CHECK(cudaGetDeviceProperties(&p, index));
  DeviceInfo d;
  d.index = index;
  d.name = p.name;
  d.major = p.major;
  d.minor = p.minor;
  d.sm_count = p.multiProcessorCount;
  d.total_memory = p.totalGlobalMem;
  d.shared_per_block = p.sharedMemPerBlock;
  return d;
}

}  // namespace yolite::cuda
