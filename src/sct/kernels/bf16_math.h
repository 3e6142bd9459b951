// Scalar helpers for the bf16 CPU kernels, written so that GCC vectorises the loops that call them
// (no branches, no libm calls): bf16 <-> fp32 conversion and exp / erfc in fp32.
//
// Why own ones: LibTorch 1.13 runs GELU and softmax on bf16 tensors through scalar libm calls
// (erff, expf) per element, which made them a quarter of a ViT-B bf16 training step on an AMX Xeon.
// Accuracy: exp within 2 ulp of fp32, erfc within ~1e-6 relative; both far below bf16's rounding
// (2^-9), so the kernels' bf16 outputs equal fp32 PyTorch rounded to bf16 but for rare ties
// (tests/kernels/bf16_kernels_test.cpp).
#pragma once
#include <cstdint>
#include <cstring>

namespace sct::kernels {

inline float bf16_to_float(uint16_t b) {
  const uint32_t u = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Round to nearest even, as c10::BFloat16 does; a NaN stays a (quiet) NaN.
inline uint16_t float_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  const uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
  return f != f ? uint16_t((u >> 16) | 0x40u) : uint16_t(rounded);
}

// e^x in fp32: x = n ln2 + r, |r| <= ln2 / 2, e^r by Cephes' expf polynomial; 0 below e^-87.3.
inline float exp_fp32(float x) {
  const float xc = x < -87.3f ? -87.3f : (x > 88.7f ? 88.7f : x);
  const float magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float t = xc * 1.44269504088896341f + magic;
  const float n = t - magic;
  const float r = (xc - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  uint32_t tb;
  std::memcpy(&tb, &t, sizeof tb);
  const uint32_t bits = (tb - 0x4B400000u + 127u) << 23;  // 2^n
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return x < -87.3f ? 0.0f : y * scale;
}

// erfc(z) for z >= 0, Numerical Recipes' Chebyshev fit (fractional error < 1.2e-7 in exact arithmetic).
inline float erfc_nonneg(float z) {
  const float t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  return t * exp_fp32(p - z * z);
}

// Φ(x), the standard normal CDF: GELU(x) = x Φ(x) (timm's exact GELU, not the tanh approximation).
inline float normal_cdf(float x) {
  const float half_tail = 0.5f * erfc_nonneg((x < 0 ? -x : x) * 0.70710678118654752f);
  return x < 0 ? half_tail : 1.0f - half_tail;
}

}  // namespace sct::kernels
