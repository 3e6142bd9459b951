// Arithmetic for the bf16 CPU kernels, written once for a scalar `float` and for `Floats` (16 fp32 lanes,
// GCC's vector extension): the kernels run 16 lanes at a time and their tails through the same code,
// so every element gets the same arithmetic. GCC lowers `Floats` to what the target has (one zmm
// register on AVX-512, two ymm on AVX2, four xmm elsewhere); no branches and no libm calls.
//
// Why own ones: LibTorch 1.13 runs softmax on bf16 tensors through scalar expf per element, and sct's
// kernels fuse what surrounds these functions (a bias, the conversions) into the same pass.
// Accuracy: exp within 2 ulp of fp32, far below bf16's rounding (2^-9), so the kernels' bf16 outputs
// equal fp32 PyTorch rounded to bf16 but for rare ties (tests/kernels/bf16_kernels_test.cpp).
#pragma once
#include <cstdint>
#include <cstring>

// Every function here is inlined into the kernel that calls it, and so compiled for that kernel's
// instruction set; GCC's note that 64-byte vectors passed by value change the ABI does not apply.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
#define SCT_INLINE inline __attribute__((always_inline))

namespace sct::kernels {

constexpr int kLanes = 16;
typedef float Floats __attribute__((vector_size(4 * kLanes)));
typedef uint32_t Words __attribute__((vector_size(4 * kLanes)));
typedef uint16_t Halves __attribute__((vector_size(2 * kLanes)));

template <typename F> struct BitsOf { using type = uint32_t; };
template <> struct BitsOf<Floats> { using type = Words; };
template <typename F> using Bits = typename BitsOf<F>::type;

template <typename To, typename From>
SCT_INLINE To bit_cast(const From& from) {
  static_assert(sizeof(To) == sizeof(From), "bit_cast between types of one size");
  To to;
  std::memcpy(&to, &from, sizeof to);
  return to;
}

template <typename F> SCT_INLINE F splat(float v) { return F{} + v; }

// `c ? a : b` lane by lane (a comparison of two F gives the condition).
template <typename C, typename F> SCT_INLINE F choose(const C& c, const F& a, const F& b) { return c ? a : b; }

SCT_INLINE float bf16_to_float(uint16_t b) { return bit_cast<float>(uint32_t(b) << 16); }
SCT_INLINE Floats load_bf16(const uint16_t* p) {
  Halves h;
  std::memcpy(&h, p, sizeof h);
  return bit_cast<Floats>(__builtin_convertvector(h, Words) << 16);
}
SCT_INLINE Floats load_floats(const float* p) {
  Floats f;
  std::memcpy(&f, p, sizeof f);
  return f;
}

// Round to nearest even, as c10::BFloat16 does; a NaN stays a (quiet) NaN. Returns the 16 bits in the
// low half of each word.
template <typename F> SCT_INLINE Bits<F> to_bf16_bits(const F& f) {
  const Bits<F> u = bit_cast<Bits<F>>(f);
  const Bits<F> rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
  return choose(f != f, (u >> 16) | 0x40u, rounded);
}
SCT_INLINE uint16_t float_to_bf16(float f) { return uint16_t(to_bf16_bits(f)); }
SCT_INLINE void store_bf16(uint16_t* p, const Floats& f) {
  const Halves h = __builtin_convertvector(to_bf16_bits(f), Halves);
  std::memcpy(p, &h, sizeof h);
}
SCT_INLINE Floats round_to_bf16(const Floats& f) { return bit_cast<Floats>(to_bf16_bits(f) << 16); }
SCT_INLINE float round_to_bf16(float f) { return bf16_to_float(float_to_bf16(f)); }

// n bf16 values, 64 bytes at a time: for a 64-value head row a call to memcpy costs more than the copy.
SCT_INLINE void copy_bf16(uint16_t* dst, const uint16_t* src, int64_t n) {
  int64_t j = 0;
  for (; j + 32 <= n; j += 32) {
    struct Line { uint16_t v[32]; } line;
    std::memcpy(&line, src + j, sizeof line);
    std::memcpy(dst + j, &line, sizeof line);
  }
  for (; j < n; ++j) dst[j] = src[j];
}

template <typename F> SCT_INLINE F min_of(const F& a, const F& b) { return choose(a < b, a, b); }
template <typename F> SCT_INLINE F max_of(const F& a, const F& b) { return choose(a > b, a, b); }

// e^x in fp32: x = n ln2 + r, |r| <= ln2 / 2, e^r by Cephes' expf polynomial; 0 below e^-87.3.
template <typename F> SCT_INLINE F exp_fp32(const F& x) {
  const F xc = min_of(max_of(x, splat<F>(-87.3f)), splat<F>(88.7f));
  const F magic = splat<F>(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
  const F t = xc * 1.44269504088896341f + magic;
  const F n = t - magic;
  const F r = (xc - n * 0.693359375f) - n * -2.12194440e-4f;
  F p = splat<F>(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const F y = p * r * r + r + 1.0f;
  const F scale = bit_cast<F>((bit_cast<Bits<F>>(t) - 0x4B400000u + 127u) << 23);  // 2^n
  return choose(x < -87.3f, splat<F>(0.0f), y * scale);
}

// Φ(x), the standard normal CDF, for GELU(x) = x Φ(x) (timm's exact GELU, not the tanh approximation):
// erfc(z) = (1 + a1 z + ... + a6 z^6)^-16, Abramowitz & Stegun 7.1.28 (3e-7 absolute; with fp32's
// rounding under 1e-6), with no exp: a tenth of a bf16 step of Φ near 1/2 and below, and a small
// part of a bf16 step of GELU's output everywhere but the far left tail, where GELU is ~0 anyway.
// Φ(x) for x < 0 is the tail itself, with no cancellation in 1 + erf. z stops at 9 (|x| = 12.7, where
// the tail is 1e-28 here and 2e-37 exactly): beyond, the 16th power would fall into fp32's subnormals,
// which cost a CPU a hundred cycles per operation (ViT activations do reach such magnitudes).
template <typename F> SCT_INLINE F normal_cdf(const F& x) {
  const F z = min_of(choose(x < 0.0f, -x, x) * 0.70710678118654752f, splat<F>(9.0f));
  F p = splat<F>(0.0000430638f);
  p = p * z + 0.0002765672f;
  p = p * z + 0.0001520143f;
  p = p * z + 0.0092705272f;
  p = p * z + 0.0422820123f;
  p = p * z + 0.0705230784f;
  p = p * z + 1.0f;
  F r = 1.0f / p;
  r = r * r;
  r = r * r;
  r = r * r;
  const F half_tail = r * r * 0.5f;  // erfc(z) / 2
  return choose(x < 0.0f, half_tail, 1.0f - half_tail);
}

// GELU'(x) = Φ(x) + x φ(x), φ(x) = e^(-x²/2) / √(2π): the factor GELU's backward multiplies by.
template <typename F> SCT_INLINE F gelu_derivative(const F& x) {
  return normal_cdf(x) + x * exp_fp32(x * x * -0.5f) * 0.39894228040143268f;
}

}  // namespace sct::kernels

#undef SCT_INLINE
#pragma GCC diagnostic pop
