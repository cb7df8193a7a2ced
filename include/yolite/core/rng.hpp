// core/rng.hpp -- Rng: a small, seedable, portable random generator (PCG32).
//
// std::uniform_real_distribution & co. are implementation-defined, so their streams differ
// between standard libraries; yolite draws every random number through this class so that the
// same seed gives the same data, augmentation and weights everywhere. There is no global
// generator: whoever needs randomness owns an Rng (or derives one with split()).
#pragma once
#include <cmath>
#include <cstdint>
#include <numbers>

namespace yolite {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0, uint64_t stream = 0x9e3779b97f4a7c15ull) { reseed(seed, stream); }
  void reseed(uint64_t seed, uint64_t stream = 0x9e3779b97f4a7c15ull) {
    state_ = 0;
    inc_ = (stream << 1u) | 1u;
    next_u32();
    state_ += seed;
    next_u32();
    has_spare_ = false;
  }
  uint32_t next_u32() {
    uint64_t old = state_;
    state_ = old * 6364136223846793005ull + inc_;
    uint32_t xorshifted = uint32_t(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = uint32_t(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
  }
  uint64_t next_u64() { return (uint64_t(next_u32()) << 32) | next_u32(); }
  // Uniform in [0, 1) with 24 (float) or 53 (double) random bits.
  double uniform() { return double(next_u64() >> 11) * 0x1.0p-53; }
  float uniformf() { return float(next_u32() >> 8) * 0x1.0p-24f; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Uniform integer in [0, n) without modulo bias; n must be > 0.
  uint32_t below(uint32_t n) {
    uint32_t threshold = (-n) % n;
    for (;;) {
      uint32_t r = next_u32();
      if (r >= threshold) return r % n;
    }
  }
  int randint(int lo, int hi) { return lo + int(below(uint32_t(hi - lo + 1))); }  // [lo, hi]
  bool bernoulli(double p) { return uniform() < p; }
  // Standard normal (Box-Muller, polar form avoided for determinism of call counts).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = uniform(), u2 = uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    double r = std::sqrt(-2.0 * std::log(u1));
    spare_ = r * std::sin(2 * std::numbers::pi * u2);
    has_spare_ = true;
    return r * std::cos(2 * std::numbers::pi * u2);
  }
  double normal(double mean, double std) { return mean + std * normal(); }
  // An independent generator derived from this one's seed and a key (e.g. an image index):
  // lets parallel workers draw the same numbers whatever the thread count.
  Rng split(uint64_t key) const {
    uint64_t z = state_ ^ (key + 0x9e3779b97f4a7c15ull + (inc_ << 6));
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return Rng(z, key * 2 + 1);
  }
  template <class It>
  void shuffle(It first, It last) {  // Fisher-Yates, deterministic across platforms
    auto n = last - first;
    for (decltype(n) i = n - 1; i > 0; --i) std::swap(first[i], first[below(uint32_t(i + 1))]);
  }

 private:
  uint64_t state_ = 0, inc_ = 1;
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace yolite
