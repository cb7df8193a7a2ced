// Host-side parts of the CUDA support that run without a GPU (suite "cuda_host"), and the
// allocator / DeviceTensor checks that need one (suite "cuda").
#include <doctest/doctest.h>

#include <algorithm>

#include <yolite/core/cuda/device_tensor.hpp>
#include <yolite/core/tensor.hpp>

#include "helpers.cuh"

using namespace yolite;


TEST_SUITE("cuda_host") {
  TEST_CASE("YOLITE_CUDA_CHECK turns a CUDA error into yolite::Error with file and line") {
    auto bad = [] { YOLITE_CUDA_CHECK(cudaErrorInvalidValue); };
    CHECK_THROWS_AS(bad(), yolite::Error);
    try {
      bad();
    } catch (const yolite::Error& e) {
      const std::string m = e.what();
      CHECK(m.find("test_host.cu:") != std::string::npos);
      CHECK(m.find("cudaErrorInvalidValue") != std::string::npos);
    }
    CHECK_NOTHROW(YOLITE_CUDA_CHECK(cudaSuccess));
  }

  TEST_CASE("no GPU gives a clear error, never a crash") {
    std::string why;
    const int n = cuda::device_count(&why);
    CHECK(n >= 0);
    if (n == 0) {
      CHECK(!why.empty());
      CHECK_FALSE(cuda::gpu_available());
      CHECK_THROWS_WITH_AS(cuda::require_gpu("--device cuda"),
                           doctest::Contains("--device cuda: a CUDA GPU is required"),
                           yolite::Error);
      CHECK_THROWS_AS(cuda::Context(), yolite::Error);
      CHECK_THROWS_AS(cuda::device_info(0), yolite::Error);
    } else {
      CHECK_NOTHROW(cuda::require_gpu("--device cuda"));
      CHECK_THROWS_AS(cuda::device_info(n), yolite::Error);
    }
  }

  TEST_CASE("allocator size classes") {
    using A = cuda::CachingAllocator;
    CHECK(A::round_size(1) == 512);
    CHECK(A::round_size(512) == 512);
    CHECK(A::round_size(513) == 1024);
    CHECK(A::round_size(3000) == 4096);
    CHECK(A::round_size(size_t(1) << 20) == (size_t(1) << 20));
    CHECK(A::round_size((size_t(1) << 20) + 1) == (size_t(2) << 20));
    CHECK(A::round_size(size_t(5) << 20) == (size_t(5) << 20));
    A a;  // constructing and destroying an allocator touches no device
    CHECK(a.allocate(0) == nullptr);
    CHECK_NOTHROW(a.deallocate(nullptr));
    int x = 0;
    CHECK_THROWS_AS(a.deallocate(&x), yolite::Error);
  }
}

TEST_SUITE("cuda") {
  TEST_CASE("caching allocator reuses freed blocks of the same size class") {
    cuda::Context ctx;
    auto& a = ctx.allocator();
    void* p = a.allocate(1000);
    REQUIRE(p != nullptr);
    CHECK(a.used_bytes() == 1024);
    a.deallocate(p);
    CHECK(a.cached_bytes() == 1024);
    void* q = a.allocate(900);  // same class (1024): the same block comes back
    CHECK(q == p);
    CHECK(a.malloc_calls() == 1);
    CHECK(a.cache_hits() == 1);
    void* r = a.allocate(5000);  // another class: a new cudaMalloc
    CHECK(r != p);
    CHECK(a.malloc_calls() == 2);
    a.deallocate(q);
    a.deallocate(r);
    CHECK_THROWS_AS(a.deallocate(r), yolite::Error);  // double free is reported
    a.release_cached();
    CHECK(a.cached_bytes() == 0);
    CHECK(a.used_bytes() == 0);
  }

  TEST_CASE("DeviceTensor round trip, clone, zero, tensors outliving their Context") {
    Rng rng(7);
    Tensor<float> h({2, 3, 5, 7});  // core/tensor.hpp (Eigen) compiles in a .cu file
    for (int64_t i = 0; i < h.numel(); ++i) h.data()[i] = float(rng.uniform(-1, 1));
    cuda::DeviceTensor<float> keep;
    {
      cuda::Context ctx;
      auto d = cuda::DeviceTensor<float>::from_host(ctx, h);
      CHECK(d.shape() == std::vector<int64_t>{2, 3, 5, 7});
      CHECK(d.numel() == h.numel());
      CHECK(d.dim(-1) == 7);
      auto back = d.to_host(ctx);
      CHECK(std::equal(back.begin(), back.end(), h.data()));
      auto c = d.clone(ctx);
      d.zero(ctx);
      auto zeros = d.to_host(ctx);
      CHECK(std::all_of(zeros.begin(), zeros.end(), [](float v) { return v == 0.f; }));
      auto cb = c.to_host(ctx);
      CHECK(std::equal(cb.begin(), cb.end(), h.data()));
      std::vector<float> small(3);
      CHECK_THROWS_AS(c.to_host(ctx, small.data(), 3), yolite::Error);
      keep = c;  // shares c's block; the allocator stays alive through it
    }
    CHECK(keep.numel() == h.numel());
    keep = cuda::DeviceTensor<float>();  // returns the block to an allocator whose Context is gone
  }
}
