// Shared helpers of the CUDA tests: random host data, upload/download, tolerant comparison.
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <yolite/core/cuda/device_tensor.hpp>
#include <yolite/core/rng.hpp>

namespace yolite::cuda_test {

using cuda::Context;
using cuda::DeviceTensor;

inline std::vector<float> random_vec(Rng& rng, int64_t n, float lo = -1.f, float hi = 1.f) {
  std::vector<float> v(static_cast<size_t>(n > 0 ? n : 0));
  for (auto& x : v) x = float(rng.uniform(lo, hi));
  return v;
}

inline DeviceTensor<float> up(Context& ctx, const std::vector<float>& v) {
  return DeviceTensor<float>::from_host(ctx, v);
}

// max |got - want| / (atol + rtol * |want|) must stay <= 1; reports the worst position.
inline void check_close(const std::vector<float>& got, const std::vector<float>& want, double atol,
                        double rtol, const std::string& what) {
  REQUIRE_MESSAGE(got.size() == want.size(), what, ": sizes ", got.size(), " vs ", want.size());
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double e = std::abs(double(got[i]) - double(want[i])) / (atol + rtol * std::abs(double(want[i])));
    if (!(e <= worst)) {  // also catches NaN
      worst = std::isnan(e) ? 1e300 : e;
      at = i;
    }
  }
  INFO(what, ": worst at ", at, " got ", (got.empty() ? 0.f : got[at]), " want ",
       (want.empty() ? 0.f : want[at]));
  CHECK(worst <= 1.0);
}

inline void check_equal(const std::vector<float>& got, const std::vector<float>& want,
                        const std::string& what) {
  check_close(got, want, 0.0 + 1e-30, 0.0, what);
}

}  // namespace yolite::cuda_test
