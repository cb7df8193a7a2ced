// Tests of the tensor block cache and Tensor::uninit (core/tensor.hpp) and of
// FlushDenormalsGuard (core/parallel.hpp): the compute-side memory and FP-mode helpers the
// kernels rely on.
#include <doctest/doctest.h>

#include <cstring>
#include <limits>
#include <thread>

#include <omp.h>

#include <yolite/core/parallel.hpp>
#include <yolite/core/tensor.hpp>

using namespace yolite;

TEST_CASE("tensor cache: a released large block is reused, and zeroed tensors stay zeroed") {
  release_tensor_cache();
  CHECK(tensor_cache_bytes() == 0);
  const float* first = nullptr;
  {
    Tensor<float> a({4, 64, 80, 80});  // 6.5 MB: cached size class
    first = a.data();
    a.fill(3.f);
  }
  CHECK(tensor_cache_bytes() >= size_t(4) * 64 * 80 * 80 * sizeof(float));
  Tensor<float> b({4, 64, 80, 80});
  CHECK(b.data() == first);  // the same block came back...
  CHECK(tensor_cache_bytes() == 0);
  for (float v : b) REQUIRE(v == 0.f);  // ...zeroed
  // a slightly smaller request of the same size class reuses it too
  const float* pb = b.data();
  b = Tensor<float>();
  Tensor<float> c = Tensor<float>::uninit({4, 64, 80, 79});
  CHECK(c.data() == pb);
  // views keep the block alive: it is only cached when the last one goes
  Tensor<float> view = c.reshape({-1});
  c = Tensor<float>();
  CHECK(tensor_cache_bytes() == 0);
  view = Tensor<float>();
  CHECK(tensor_cache_bytes() > 0);
  release_tensor_cache();
  CHECK(tensor_cache_bytes() == 0);
}

TEST_CASE("tensor cache: small tensors bypass it; blocks freed on another thread are safe") {
  release_tensor_cache();
  { Tensor<float> small({16, 16}); }
  CHECK(tensor_cache_bytes() == 0);
  Tensor<float> made_here({1 << 20});
  made_here.fill(1.f);
  size_t other_cached = 0;
  std::thread th([&] {
    Tensor<float> moved = std::move(made_here);
    moved = Tensor<float>();  // released on this thread: joins this thread's cache
    other_cached = tensor_cache_bytes();
  });  // the thread ends: its cache frees the block (ASan would flag a leak or double free)
  th.join();
  CHECK(other_cached >= size_t(1 << 20) * sizeof(float));
  CHECK(tensor_cache_bytes() == 0);
  // uninit gives a usable tensor with the right shape; clone copies exactly
  auto u = Tensor<float>::uninit({3, 70000});
  for (int64_t i = 0; i < u.numel(); ++i) u[i] = float(i % 97);
  auto k = u.clone();
  CHECK(std::memcmp(k.data(), u.data(), sizeof(float) * size_t(u.numel())) == 0);
  CHECK(k.shape() == u.shape());
  Tensor<float> f({300, 300}, 2.5f);  // value constructor fills every element
  for (float v : f) REQUIRE(v == 2.5f);
}

TEST_CASE("FlushDenormalsGuard: denormals flush on the caller and the OpenMP threads, then restore") {
  volatile float tiny = std::numeric_limits<float>::min();  // smallest normal
  auto halve = [&] { return tiny * 0.5f; };                  // a denormal unless FTZ
  CHECK(!FlushDenormalsGuard::active_here());
  CHECK(halve() != 0.f);
  {
    FlushDenormalsGuard g;
    CHECK(FlushDenormalsGuard::active_here());
    CHECK(halve() == 0.f);
    int flushed = 0;
    const int n = omp_get_max_threads();
#pragma omp parallel num_threads(n) reduction(+ : flushed)
    flushed += (FlushDenormalsGuard::active_here() && tiny * 0.5f == 0.f) ? 1 : 0;
    CHECK(flushed == n);
    {
      FlushDenormalsGuard off(false);  // disabled: changes nothing
      CHECK(FlushDenormalsGuard::active_here());
    }
  }
  CHECK(!FlushDenormalsGuard::active_here());
  CHECK(halve() != 0.f);
  int still = 0;
#pragma omp parallel num_threads(omp_get_max_threads()) reduction(+ : still)
  still += FlushDenormalsGuard::active_here() ? 1 : 0;
  CHECK(still == 0);
}
