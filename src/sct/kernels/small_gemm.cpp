#include "sct/kernels/small_gemm.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "sct/core/error.h"
#include "sct/kernels/bf16_math.h"

#pragma GCC diagnostic ignored "-Wpsabi"  // see bf16_math.h

namespace sct::kernels {
namespace {

// A register block: R rows of c by V vectors of 16 columns. Its R x V accumulators stay in registers over
// the whole k loop, and each vector of b loaded serves R rows (4 x 4 blocks: 16 of AVX-512's 32 registers).
constexpr int kBlockRows = 4, kBlockVectors = 4;

template <int R, int V>
inline __attribute__((always_inline)) void block(const float* a, const float* b, float* c, int64_t k, int64_t n,
                                                 int64_t np, int64_t cols) {
  Floats acc[R][V] = {};
  for (int64_t p = 0; p < k; ++p) {
    Floats row[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) row[v] = load_floats(b + p * np + v * kLanes);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const Floats s = Floats{} + a[r * k + p];
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[r][v] += s * row[v];
    }
  }
  for (int r = 0; r < R; ++r) {
    float out[V * kLanes];
    std::memcpy(out, acc[r], sizeof out);
    std::memcpy(c + r * n, out, size_t(cols) * sizeof(float));
  }
}

template <int R>
inline __attribute__((always_inline)) void block_of(int64_t vectors, const float* a, const float* b, float* c,
                                                    int64_t k, int64_t n, int64_t np, int64_t cols) {
  switch (vectors) {
    case 1: block<R, 1>(a, b, c, k, n, np, cols); break;
    case 2: block<R, 2>(a, b, c, k, n, np, cols); break;
    case 3: block<R, 3>(a, b, c, k, n, np, cols); break;
    default: block<R, 4>(a, b, c, k, n, np, cols); break;
  }
}

// c (m x n, row stride n) = a (m x k) b_padded (k rows of np >= n floats, zero past n).
__attribute__((target_clones("avx512f", "avx2", "default"))) void gemm_padded(const float* a, const float* b, float* c,
                                                                              int64_t m, int64_t k, int64_t n,
                                                                              int64_t np) {
  for (int64_t j0 = 0; j0 < np; j0 += kBlockVectors * kLanes) {
    const int64_t vectors = std::min<int64_t>(kBlockVectors, (np - j0) / kLanes);
    const int64_t cols = std::min<int64_t>(n - j0, vectors * kLanes);
    int64_t i = 0;
    for (; i + kBlockRows <= m; i += kBlockRows) block_of<kBlockRows>(vectors, a + i * k, b + j0, c + i * n + j0, k, n, np, cols);
    for (; i < m; ++i) block_of<1>(vectors, a + i * k, b + j0, c + i * n + j0, k, n, np, cols);
  }
}

}  // namespace

at::Tensor small_bmm_f32(const at::Tensor& a, const at::Tensor& b) {
  RECORD_FUNCTION("sct::small_bmm_f32", {});
  if (!a.is_cpu() || !b.is_cpu() || a.scalar_type() != at::kFloat || b.scalar_type() != at::kFloat)
    throw Error("small_bmm_f32: needs fp32 CPU tensors");
  if (a.dim() != 3 || b.dim() != 3 || a.size(0) != b.size(0) || a.size(2) != b.size(1))
    throw Error("small_bmm_f32: shapes (batch, m, k) and (batch, k, n) expected");
  const int64_t batch = a.size(0), m = a.size(1), k = a.size(2), n = b.size(2);
  const int64_t np = (n + kLanes - 1) / kLanes * kLanes;
  const at::Tensor ac = a.contiguous(), bc = b.contiguous();
  at::Tensor c = at::empty({batch, m, n}, a.options());
  if (c.numel() == 0) return c;
  if (k == 0) return c.zero_();
  const float *ai = ac.data_ptr<float>(), *bi = bc.data_ptr<float>();
  float* ci = c.data_ptr<float>();
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 18) / std::max<int64_t>(1, m * k * np));
  at::parallel_for(0, batch, grain, [&](int64_t first, int64_t end) {
    std::vector<float> padded(size_t(k * np), 0.0f);  // b's entry, each row padded to whole vectors
    for (int64_t e = first; e < end; ++e) {
      for (int64_t p = 0; p < k; ++p)
        std::memcpy(padded.data() + p * np, bi + (e * k + p) * n, size_t(n) * sizeof(float));
      gemm_padded(ai + e * m * k, padded.data(), ci + e * m * n, m, k, n, np);
    }
  });
  return c;
}

}  // namespace sct::kernels
