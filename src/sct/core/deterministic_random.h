// Randomness that depends only on seeds, never on the standard library or on thread scheduling.
// std::mt19937_64 is fully specified by the C++ standard; std::uniform_int_distribution and
// std::shuffle are not (libstdc++ and libc++ draw differently), so index draws and shuffles are
// written out here. Every random choice of the data pipeline goes through these functions.
#pragma once
#include <cmath>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace sct {

// SplitMix64 finaliser: a bijective 64-bit mix, so distinct inputs give unrelated outputs.
inline uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Seed derived from a base seed and a stream of integers (epoch, sample position, class, ...).
inline uint64_t derive_seed(uint64_t seed, uint64_t a) { return mix64(mix64(seed) ^ a); }
inline uint64_t derive_seed(uint64_t seed, uint64_t a, uint64_t b) { return derive_seed(derive_seed(seed, a), b); }

// Uniform integer in [0, n), n > 0, without modulo bias (rejects the incomplete top range).
inline uint64_t uniform_below(std::mt19937_64& rng, uint64_t n) {
  const uint64_t limit = ~uint64_t{0} - (~uint64_t{0} % n);  // largest multiple of n, exclusive
  uint64_t r = rng();
  while (r >= limit) r = rng();
  return r % n;
}

// Real-valued draws, written out for the same reason: the standard library's real distributions are
// not specified bit for bit. Uniform in [0, 1) from the top 53 bits of one draw.
inline double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }
inline double uniform(std::mt19937_64& rng, double lo, double hi) { return lo + (hi - lo) * uniform01(rng); }

// Standard normal by Box-Muller from two draws (1 - u keeps the logarithm's argument in (0, 1]).
inline double standard_normal(std::mt19937_64& rng) {
  const double u1 = 1.0 - uniform01(rng);
  const double u2 = uniform01(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * 3.14159265358979323846 * u2);
}

// Fisher-Yates, from the back: element i swaps with a uniform j in [0, i].
template <typename T>
void deterministic_shuffle(std::vector<T>& v, std::mt19937_64& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[uniform_below(rng, i)]);
}

}  // namespace sct
