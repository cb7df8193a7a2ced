// io/half.hpp -- IEEE 754 half precision (float16) <-> float32, bit-exact, and bfloat16.
//
//   float f = io::half_to_float(0x3C00);     // 1.0f
//   uint16_t h = io::float_to_half(0.1f);    // round to nearest even, like numpy/torch .half()
//
// PyTorch checkpoints store YOLOv5 weights as float16; every fp16 value is exactly
// representable in float32, so widening is lossless (subnormals, inf and NaN included).
#pragma once
#include <cstdint>
#include <cstring>

namespace yolite::io {

inline float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint32_t float_to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

inline float half_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t man = h & 0x3ff;
  if (exp == 0x1f) return bits_to_float(sign | 0x7f800000u | (man << 13));  // inf / NaN
  if (exp == 0) {
    if (man == 0) return bits_to_float(sign);  // +-0
    // subnormal: man * 2^-24, exact in float32
    float f = float(man) * (1.0f / 16777216.0f);
    return sign ? -f : f;
  }
  return bits_to_float(sign | ((exp + 112) << 23) | (man << 13));
}

inline uint16_t float_to_half(float f) {
  uint32_t u = float_to_bits(f);
  uint16_t sign = uint16_t((u >> 16) & 0x8000);
  uint32_t a = u & 0x7fffffffu;
  if (a >= 0x7f800000u) return uint16_t(sign | 0x7c00 | (a > 0x7f800000u ? 0x200 : 0));  // inf/NaN
  if (a >= 0x477ff000u) return uint16_t(sign | 0x7c00);  // rounds to >= 65520: overflow to inf
  if (a < 0x38800000u) {  // below the smallest normal half: subnormal or zero
    if (a < 0x33000000u) return sign;  // < 2^-25 rounds to 0
    uint32_t e = a >> 23, m = (a & 0x7fffff) | 0x800000;
    uint32_t shift = 126 - e;  // value = m * 2^(e-150); half subnormal unit 2^-24
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (q & 1))) ++q;
    return uint16_t(sign | q);
  }
  uint32_t q = ((a >> 13) - (112u << 10));
  uint32_t rem = a & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (q & 1))) ++q;
  return uint16_t(sign | q);
}

inline float bf16_to_float(uint16_t b) { return bits_to_float(uint32_t(b) << 16); }

}  // namespace yolite::io
