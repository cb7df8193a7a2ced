// The doctest main of test_cuda. With a usable GPU every test case runs. Without one only the
// host-side checks (test suite "cuda_host": errors, allocator arithmetic) run, then a SKIPPED
// line is printed and the exit code is that of the host checks (0 when they pass).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include <yolite/core/cuda/device.hpp>

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  std::string why;
  const int n = yolite::cuda::device_count(&why);
  if (n == 0) {
    context.addFilter("test-suite", "cuda_host");
    const int rc = context.run();
    std::printf("test_cuda: GPU tests SKIPPED: no usable CUDA GPU (%s). The CUDA kernels were "
                "compiled but not run.\n", why.c_str());
    return rc;
  }
  const auto info = yolite::cuda::device_info(0);
  std::printf("test_cuda: running on %s (sm_%d%d, %d SMs)\n", info.name.c_str(), info.major,
              info.minor, info.sm_count);
  return context.run();
}
