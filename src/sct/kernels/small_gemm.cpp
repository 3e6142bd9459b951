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

// Columns per register block: 4 vectors of 16 lanes, the accumulators of one row of c stay in registers
// over the whole k loop.
constexpr int kBlockVectors = 4;

template <int V>
inline __attribute__((always_inline)) void row_block(const float* a_row, const float* b, float* c_row, int64_t k, int64_t np, int64_t cols) {
  Floats acc[V] = {};
  for (int64_t p = 0; p < k; ++p) {
    const Floats s = Floats{} + a_row[p];
    const float* b_row = b + p * np;
    for (int v = 0; v < V; ++v) acc[v] += s * load_floats(b_row + v * kLanes);
  }
  float out[V * kLanes];
  std::memcpy(out, acc, sizeof out);
  std::memcpy(c_row, out, size_t(cols) * sizeof(float));
}

// c (m x n, row stride n) = a (m x k) b_padded (k rows of np >= n floats, zero past n).
__attribute__((target_clones("avx512f", "avx2", "default"))) void gemm_padded(const float* a, const float* b, float* c,
                                                                              int64_t m, int64_t k, int64_t n,
                                                                              int64_t np) {
  for (int64_t j0 = 0; j0 < np; j0 += kBlockVectors * kLanes) {
    const int64_t vectors = std::min<int64_t>(kBlockVectors, (np - j0) / kLanes), cols = std::min<int64_t>(n - j0, vectors * kLanes);
    for (int64_t i = 0; i < m; ++i) {
      const float* a_row = a + i * k;
      float* c_row = c + i * n + j0;
      switch (vectors) {
        case 1: row_block<1>(a_row, b + j0, c_row, k, np, cols); break;
        case 2: row_block<2>(a_row, b + j0, c_row, k, np, cols); break;
        case 3: row_block<3>(a_row, b + j0, c_row, k, np, cols); break;
        default: row_block<4>(a_row, b + j0, c_row, k, np, cols); break;
      }
    }
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
