#include "sct/kernels/bf16_kernels.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "sct/core/error.h"
#include "sct/kernels/bf16_math.h"

// One copy of each loop per instruction set, chosen when the program loads: the same binary runs the
// AVX-512 loops on the machines bf16 pays on and plain ones anywhere else.
#define SCT_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

namespace sct::kernels {
namespace {

// Each entry point is a RECORD_FUNCTION, so that `sct bench --profile` traces name it.

// Elements per parallel chunk: below this the threads' start-up costs more than the loop.
constexpr int64_t kGrainElements = 1 << 15;

const uint16_t* bits(const at::Tensor& t) { return reinterpret_cast<const uint16_t*>(t.data_ptr<at::BFloat16>()); }
uint16_t* mutable_bits(at::Tensor& t) { return reinterpret_cast<uint16_t*>(t.data_ptr<at::BFloat16>()); }

void require(const at::Tensor& t, at::ScalarType dtype, const char* what) {
  if (!t.is_cpu() || t.scalar_type() != dtype || !t.is_contiguous())
    throw Error(std::string("bf16 kernel: ") + what + " must be a contiguous CPU " + c10::toString(dtype) +
                " tensor");
}

// Rows of length `len` handed to `fn(first_row, end_row)` in parallel chunks of about kGrainElements.
template <typename Fn>
void for_rows(int64_t rows, int64_t len, const Fn& fn) {
  at::parallel_for(0, rows, std::max<int64_t>(1, kGrainElements / std::max<int64_t>(len, 1)), fn);
}

// GCC vectorises bf16 -> fp32 -> bf16 only in separate loops, so the element-wise kernel goes through
// small fp32 blocks (on the stack, in L1).
constexpr int64_t kBlock = 256;

SCT_VECTOR_CLONES void gelu_backward_span(const uint16_t* g, const uint16_t* h, uint16_t* out, int64_t n) {
  float x[kBlock], d[kBlock];
  for (int64_t s = 0; s < n; s += kBlock) {
    const int64_t m = std::min(kBlock, n - s);
    for (int64_t i = 0; i < m; ++i) x[i] = bf16_to_float(h[s + i]);
    for (int64_t i = 0; i < m; ++i) d[i] = bf16_to_float(g[s + i]);
    for (int64_t i = 0; i < m; ++i)
      d[i] *= normal_cdf(x[i]) + x[i] * 0.39894228040143268f * exp_fp32(-0.5f * x[i] * x[i]);
    for (int64_t i = 0; i < m; ++i) out[s + i] = float_to_bf16(d[i]);
  }
}

SCT_VECTOR_CLONES void softmax_rows(const uint16_t* s, uint16_t* p, int64_t rows, int64_t len, float scale,
                                    float* buf) {
  for (int64_t r = 0; r < rows; ++r) {
    const uint16_t* in = s + r * len;
    uint16_t* out = p + r * len;
    float m = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j < len; ++j) {
      buf[j] = bf16_to_float(in[j]) * scale;
      m = buf[j] > m ? buf[j] : m;
    }
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < len; ++j) {
      buf[j] = exp_fp32(buf[j] - m);
      sum += buf[j];
    }
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < len; ++j) out[j] = float_to_bf16(buf[j] * inv);
  }
}

SCT_VECTOR_CLONES void softmax_backward_rows(const uint16_t* gp, const uint16_t* p, uint16_t* gs, int64_t rows,
                                             int64_t len, float scale) {
  for (int64_t r = 0; r < rows; ++r) {
    const uint16_t *g = gp + r * len, *pr = p + r * len;
    uint16_t* out = gs + r * len;
    float dot = 0;
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < len; ++j) dot += bf16_to_float(g[j]) * bf16_to_float(pr[j]);
    for (int64_t j = 0; j < len; ++j)
      out[j] = float_to_bf16(scale * bf16_to_float(pr[j]) * (bf16_to_float(g[j]) - dot));
  }
}

SCT_VECTOR_CLONES void layer_norm_rows(const float* x, const float* w, const float* b, uint16_t* y, uint16_t* x_hat,
                                       float* rstd, int64_t rows, int64_t len, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = x + r * len;
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < len; ++j) sum += in[j];
    const float mean = sum / float(len);
    float sq = 0;  // two passes: the variance of the centred values, not E[x²] - mean²
#pragma omp simd reduction(+ : sq)
    for (int64_t j = 0; j < len; ++j) sq += (in[j] - mean) * (in[j] - mean);
    const float rs = 1.0f / std::sqrt(sq / float(len) + eps);
    rstd[r] = rs;
    uint16_t* out = y + r * len;
    if (x_hat) {
      uint16_t* kept = x_hat + r * len;
      for (int64_t j = 0; j < len; ++j) {
        const float xh = (in[j] - mean) * rs;
        kept[j] = float_to_bf16(xh);
        out[j] = float_to_bf16(xh * w[j] + b[j]);
      }
    } else {
      for (int64_t j = 0; j < len; ++j) out[j] = float_to_bf16((in[j] - mean) * rs * w[j] + b[j]);
    }
  }
}

SCT_VECTOR_CLONES void layer_norm_backward_rows(const uint16_t* gy, const uint16_t* x_hat, const float* rstd,
                                                const float* w, float* gx, int64_t rows, int64_t len) {
  for (int64_t r = 0; r < rows; ++r) {
    const uint16_t *g = gy + r * len, *xh = x_hat + r * len;
    float sum_gw = 0, sum_gwx = 0;
#pragma omp simd reduction(+ : sum_gw, sum_gwx)
    for (int64_t j = 0; j < len; ++j) {
      const float gw = bf16_to_float(g[j]) * w[j];
      sum_gw += gw;
      sum_gwx += gw * bf16_to_float(xh[j]);
    }
    const float a = sum_gw / float(len), c = sum_gwx / float(len), rs = rstd[r];
    float* out = gx + r * len;
    for (int64_t j = 0; j < len; ++j) {
      const float xhj = bf16_to_float(xh[j]);
      out[j] = rs * (bf16_to_float(g[j]) * w[j] - a - xhj * c);
    }
  }
}

}  // namespace

bool on_cpu_bf16(const at::Tensor& t) { return t.defined() && t.is_cpu() && t.scalar_type() == at::kBFloat16; }

at::Tensor gelu_backward_bf16(const at::Tensor& grad, const at::Tensor& h) {
  RECORD_FUNCTION("sct::gelu_backward_bf16", {});
  require(h, at::kBFloat16, "GELU input");
  const at::Tensor g = grad.to(at::kBFloat16).contiguous();
  at::Tensor out = at::empty_like(h);
  const uint16_t *gi = bits(g), *in = bits(h);
  uint16_t* o = mutable_bits(out);
  at::parallel_for(0, h.numel(), kGrainElements,
                   [&](int64_t b, int64_t e) { gelu_backward_span(gi + b, in + b, o + b, e - b); });
  return out;
}

at::Tensor scaled_softmax_bf16(const at::Tensor& s, double scale) {
  RECORD_FUNCTION("sct::scaled_softmax_bf16", {});
  require(s, at::kBFloat16, "softmax input");
  const int64_t len = s.size(-1), rows = s.numel() / len;
  at::Tensor p = at::empty_like(s);
  const uint16_t* in = bits(s);
  uint16_t* out = mutable_bits(p);
  for_rows(rows, len, [&](int64_t b, int64_t e) {
    std::vector<float> buf(static_cast<size_t>(len));
    softmax_rows(in + b * len, out + b * len, e - b, len, float(scale), buf.data());
  });
  return p;
}

at::Tensor scaled_softmax_backward_bf16(const at::Tensor& grad_p, const at::Tensor& p, double scale) {
  RECORD_FUNCTION("sct::scaled_softmax_backward_bf16", {});
  require(p, at::kBFloat16, "softmax probabilities");
  const at::Tensor g = grad_p.to(at::kBFloat16).contiguous();
  const int64_t len = p.size(-1), rows = p.numel() / len;
  at::Tensor gs = at::empty_like(p);
  const uint16_t *gi = bits(g), *pi = bits(p);
  uint16_t* out = mutable_bits(gs);
  for_rows(rows, len, [&](int64_t b, int64_t e) {
    softmax_backward_rows(gi + b * len, pi + b * len, out + b * len, e - b, len, float(scale));
  });
  return gs;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_bf16(const at::Tensor& x, const at::Tensor& weight,
                                                               const at::Tensor& bias, double eps,
                                                               bool keep_x_hat) {
  RECORD_FUNCTION("sct::layer_norm_bf16", {});
  require(x, at::kFloat, "LayerNorm input");
  const int64_t len = x.size(-1), rows = x.numel() / len;
  const at::Tensor w = weight.defined() ? weight.to(at::kFloat).contiguous() : at::ones({len}, x.options());
  const at::Tensor b = bias.defined() ? bias.to(at::kFloat).contiguous() : at::zeros({len}, x.options());
  at::Tensor y = at::empty(x.sizes(), x.options().dtype(at::kBFloat16));
  at::Tensor x_hat = keep_x_hat ? at::empty_like(y) : at::Tensor();
  std::vector<int64_t> stat_shape(x.sizes().begin(), x.sizes().end());
  stat_shape.back() = 1;
  at::Tensor rstd = at::empty(stat_shape, x.options());
  const float *xi = x.data_ptr<float>(), *wi = w.data_ptr<float>(), *bi = b.data_ptr<float>();
  uint16_t* yo = mutable_bits(y);
  uint16_t* xo = keep_x_hat ? mutable_bits(x_hat) : nullptr;
  float* ro = rstd.data_ptr<float>();
  for_rows(rows, len, [&](int64_t b0, int64_t e) {
    layer_norm_rows(xi + b0 * len, wi, bi, yo + b0 * len, xo ? xo + b0 * len : nullptr, ro + b0, e - b0, len,
                    float(eps));
  });
  return {y, x_hat, rstd};
}

at::Tensor layer_norm_backward_bf16(const at::Tensor& grad_y, const at::Tensor& x_hat, const at::Tensor& rstd,
                                    const at::Tensor& weight) {
  RECORD_FUNCTION("sct::layer_norm_backward_bf16", {});
  require(x_hat, at::kBFloat16, "LayerNorm x̂");
  const at::Tensor g = grad_y.to(at::kBFloat16).contiguous();
  const at::Tensor rs = rstd.to(at::kFloat).contiguous();
  const int64_t len = x_hat.size(-1), rows = x_hat.numel() / len;
  const at::Tensor w = weight.defined() ? weight.to(at::kFloat).contiguous() : at::ones({len}, rs.options());
  at::Tensor gx = at::empty(x_hat.sizes(), rs.options());
  const uint16_t *gi = bits(g), *xi = bits(x_hat);
  const float *ri = rs.data_ptr<float>(), *wi = w.data_ptr<float>();
  float* out = gx.data_ptr<float>();
  for_rows(rows, len, [&](int64_t b, int64_t e) {
    layer_norm_backward_rows(gi + b * len, xi + b * len, ri + b, wi, out + b * len, e - b, len);
  });
  return gx;
}

}  // namespace sct::kernels
