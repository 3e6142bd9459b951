#include "sct/kernels/bf16_kernels.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <vector>

#include "sct/core/error.h"
#include "sct/kernels/bf16_math.h"

#pragma GCC diagnostic ignored "-Wpsabi"  // see bf16_math.h
#if !defined(__clang__)
// GCC 12's own AVX-512 intrinsics start from _mm512_undefined_*() and then warn that it is undefined.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

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

// Each row loop has two builds (bf16_rows.inc): the generic one, written over GCC's vector extension and
// cloned per instruction set, and one for CPUs with AVX512-BF16, where one instruction rounds 16 floats to
// bf16 (the generic rounding takes a dozen), which runs GELU about 30% faster.
int64_t vector_end(int64_t n) { return n / kLanes * kLanes; }
// Row buffers hold a whole row in fp32, padded to full lanes.
int64_t padded(int64_t len) { return (len + kLanes - 1) / kLanes * kLanes; }

namespace generic {
#define SCT_ROWS __attribute__((target_clones("avx512f", "avx2", "default")))
#include "sct/kernels/bf16_rows.inc"
#undef SCT_ROWS
}  // namespace generic

namespace native {
#define SCT_NATIVE __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#define SCT_NATIVE_INLINE SCT_NATIVE inline __attribute__((always_inline))
// The same rounding as bf16_math.h's (to nearest even, NaN stays NaN), but for fp32 subnormals, which
// the instruction reads as zero.
SCT_NATIVE_INLINE __m256i to_bf16_halves(const Floats& f) {
  return bit_cast<__m256i>(_mm512_cvtneps_pbh(bit_cast<__m512>(f)));
}
SCT_NATIVE_INLINE Floats load_bf16(const uint16_t* p) {
  return bit_cast<Floats>(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
}
SCT_NATIVE_INLINE void store_bf16(uint16_t* p, const Floats& f) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), to_bf16_halves(f));
}
SCT_NATIVE_INLINE Floats round_to_bf16(const Floats& f) {
  return bit_cast<Floats>(_mm512_slli_epi32(_mm512_cvtepu16_epi32(to_bf16_halves(f)), 16));
}
SCT_NATIVE_INLINE float round_to_bf16(float f) { return kernels::round_to_bf16(f); }
#define SCT_ROWS SCT_NATIVE
#include "sct/kernels/bf16_rows.inc"
#undef SCT_ROWS
#undef SCT_NATIVE_INLINE
#undef SCT_NATIVE
}  // namespace native

// Loops without bf16 rounding of their own have one build. (LayerNorm's `omp simd` sums would also be
// vectorised, and so rounded, differently under the other build's target.)
#define SCT_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
// split_heads_rows's inverse for tokens [first, end): (parts, B, H, Np, hd) -> rows of (B * N, parts, H, hd).
SCT_VECTOR_CLONES void merge_heads_rows(const uint16_t* in, uint16_t* out, int64_t first, int64_t end, int64_t parts,
                                       int64_t batch, int64_t tokens, int64_t padded, int64_t heads, int64_t hd) {
  for (int64_t t = first; t < end; ++t) {
    const int64_t b = t / tokens, n = t % tokens;
    for (int64_t part = 0; part < parts; ++part)
      for (int64_t h = 0; h < heads; ++h)
        copy_bf16(out + (t * parts + part) * heads * hd + h * hd,
                  in + (((part * batch + b) * heads + h) * padded + n) * hd, hd);
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
                                                const float* w, const float* plus, float* gx, int64_t rows,
                                                int64_t len) {
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
    const float* add = plus ? plus + r * len : nullptr;
    for (int64_t j = 0; j < len; ++j) {
      const float xhj = bf16_to_float(xh[j]);
      out[j] = rs * (bf16_to_float(g[j]) * w[j] - a - xhj * c) + (add ? add[j] : 0.0f);
    }
  }
}

bool cpu_has_avx512_bf16() {
  static const bool has = __builtin_cpu_supports("avx512bf16");
  return has;
}
std::atomic<bool> native_rows_allowed{true};

// The build of a row loop this process runs: native where the CPU has it and it is not turned off.
template <typename Fn>
Fn* pick(Fn* generic_fn, Fn* native_fn) {
  return native_bf16_kernels() ? native_fn : generic_fn;
}

}  // namespace

bool on_cpu_bf16(const at::Tensor& t) { return t.defined() && t.is_cpu() && t.scalar_type() == at::kBFloat16; }

bool native_bf16_kernels() { return cpu_has_avx512_bf16() && native_rows_allowed.load(std::memory_order_relaxed); }
void allow_native_bf16_kernels(bool allow) { native_rows_allowed.store(allow, std::memory_order_relaxed); }

namespace {

// A per-column bias as contiguous fp32 of `cols` values (nullptr data when there is none).
at::Tensor bias_floats(const at::Tensor& bias, int64_t cols) {
  if (!bias.defined()) return {};
  if (bias.numel() != cols) throw Error("bf16 kernel: bias of " + std::to_string(bias.numel()) + " values for rows of " + std::to_string(cols));
  return bias.to(at::kFloat).contiguous();
}
const float* data_or_null(const at::Tensor& t) { return t.defined() ? t.data_ptr<float>() : nullptr; }

}  // namespace

at::Tensor bias_gelu_bf16(const at::Tensor& h, const at::Tensor& bias, at::Tensor* kept_input) {
  RECORD_FUNCTION("sct::bias_gelu_bf16", {});
  require(h, at::kBFloat16, "GELU input");
  const int64_t cols = h.size(-1), rows = h.numel() / cols;
  const at::Tensor b = bias_floats(bias, cols);
  if (!b.defined()) throw Error("bf16 kernel: bias_gelu_bf16 needs the bias");
  at::Tensor y = at::empty_like(h);
  if (kept_input) *kept_input = at::empty_like(h);
  const uint16_t* in = bits(h);
  uint16_t* u_out = kept_input ? mutable_bits(*kept_input) : nullptr;
  uint16_t* out = mutable_bits(y);
  const float* bi = b.data_ptr<float>();
  for_rows(rows, cols, [&](int64_t r0, int64_t r1) {
    pick(generic::gelu_rows, native::gelu_rows)(in + r0 * cols, bi, u_out ? u_out + r0 * cols : nullptr, out + r0 * cols, r1 - r0, cols);
  });
  return y;
}

at::Tensor gelu_backward_bf16(const at::Tensor& grad_y, const at::Tensor& u) {
  RECORD_FUNCTION("sct::gelu_backward_bf16", {});
  require(u, at::kBFloat16, "GELU input");
  const at::Tensor g = grad_y.to(at::kBFloat16).contiguous();
  if (g.sizes() != u.sizes()) throw Error("bf16 kernel: GELU gradient of another shape than its input");
  at::Tensor out = at::empty_like(u);
  const uint16_t *gi = bits(g), *ui = bits(u);
  uint16_t* o = mutable_bits(out);
  at::parallel_for(0, u.numel(), kGrainElements, [&](int64_t b, int64_t e) {
    pick(generic::gelu_backward_rows, native::gelu_backward_rows)(gi + b, ui + b, o + b, e - b);
  });
  return out;
}

at::Tensor residual_add_bf16(const at::Tensor& x, const at::Tensor& branch, const at::Tensor& bias) {
  RECORD_FUNCTION("sct::residual_add_bf16", {});
  require(x, at::kFloat, "residual stream");
  require(branch, at::kBFloat16, "residual branch");
  if (x.sizes() != branch.sizes()) throw Error("bf16 kernel: residual branch of another shape than the stream");
  const int64_t cols = x.size(-1), rows = x.numel() / cols;
  const at::Tensor b = bias_floats(bias, cols);
  at::Tensor out = at::empty_like(x);
  const float* xi = x.data_ptr<float>();
  const uint16_t* ai = bits(branch);
  const float* bi = data_or_null(b);
  float* o = out.data_ptr<float>();
  for_rows(rows, cols, [&](int64_t r0, int64_t r1) {
    pick(generic::residual_add_rows, native::residual_add_rows)(xi + r0 * cols, ai + r0 * cols, bi, o + r0 * cols, r1 - r0, cols);
  });
  return out;
}

at::Tensor split_heads_bf16(const at::Tensor& x, const at::Tensor& bias, int64_t parts, int64_t heads,
                            int64_t padded_tokens) {
  RECORD_FUNCTION("sct::split_heads_bf16", {});
  require(x, at::kBFloat16, "heads input");
  if (x.dim() != 3 || parts < 1 || heads < 1 || x.size(2) % (parts * heads) != 0)
    throw Error("bf16 kernel: split_heads needs (B, N, parts * heads * hd)");
  const int64_t batch = x.size(0), tokens = x.size(1), hd = x.size(2) / (parts * heads);
  if (padded_tokens < tokens) throw Error("bf16 kernel: split_heads pads to fewer tokens than it has");
  const at::Tensor b = bias_floats(bias, x.size(2));
  at::Tensor out = at::empty({parts, batch, heads, padded_tokens, hd}, x.options());
  const uint16_t* in = bits(x);
  const float* bi = data_or_null(b);
  uint16_t* o = mutable_bits(out);
  for_rows(batch * tokens, x.size(2), [&](int64_t t0, int64_t t1) {
    pick(generic::split_heads_rows, native::split_heads_rows)(in, bi, o, t0, t1, parts, batch, tokens, padded_tokens, heads, hd);
  });
  return out;
}

at::Tensor merge_heads_bf16(const at::Tensor& heads_tensor, int64_t tokens) {
  RECORD_FUNCTION("sct::merge_heads_bf16", {});
  require(heads_tensor, at::kBFloat16, "heads");
  if (heads_tensor.dim() != 5 || heads_tensor.size(3) < tokens)
    throw Error("bf16 kernel: merge_heads needs (parts, B, heads, padded tokens >= " + std::to_string(tokens) + ", hd)");
  const int64_t parts = heads_tensor.size(0), batch = heads_tensor.size(1), heads = heads_tensor.size(2),
                padded_tokens = heads_tensor.size(3), hd = heads_tensor.size(4);
  at::Tensor out = at::empty({batch, tokens, parts * heads * hd}, heads_tensor.options());
  const uint16_t* in = bits(heads_tensor);
  uint16_t* o = mutable_bits(out);
  for_rows(batch * tokens, parts * heads * hd, [&](int64_t t0, int64_t t1) {
    merge_heads_rows(in, o, t0, t1, parts, batch, tokens, padded_tokens, heads, hd);
  });
  return out;
}

at::Tensor scaled_softmax_bf16(const at::Tensor& s, double scale, int64_t valid) {
  RECORD_FUNCTION("sct::scaled_softmax_bf16", {});
  require(s, at::kBFloat16, "softmax input");
  const int64_t len = s.size(-1), rows = s.numel() / len;
  if (valid < 1 || valid > len || (valid < len && (s.dim() < 2 || s.size(-2) != len)))
    throw Error("bf16 kernel: softmax over " + std::to_string(valid) + " of " + std::to_string(len) +
                " columns (padding needs square matrices)");
  at::Tensor p = at::empty_like(s);
  const uint16_t* in = bits(s);
  uint16_t* out = mutable_bits(p);
  for_rows(rows, len, [&](int64_t b, int64_t e) {
    std::vector<float> buf(static_cast<size_t>(padded(valid)));
    pick(generic::softmax_rows, native::softmax_rows)(in + b * len, out + b * len, b, e - b, len, valid, float(scale), buf.data());
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
    pick(generic::softmax_backward_rows, native::softmax_backward_rows)(gi + b * len, pi + b * len, out + b * len, e - b, len, float(scale));
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
                                    const at::Tensor& weight, const at::Tensor& plus) {
  RECORD_FUNCTION("sct::layer_norm_backward_bf16", {});
  require(x_hat, at::kBFloat16, "LayerNorm x̂");
  const at::Tensor g = grad_y.to(at::kBFloat16).contiguous();
  const at::Tensor rs = rstd.to(at::kFloat).contiguous();
  const int64_t len = x_hat.size(-1), rows = x_hat.numel() / len;
  const at::Tensor w = weight.defined() ? weight.to(at::kFloat).contiguous() : at::ones({len}, rs.options());
  const at::Tensor add = plus.defined() ? plus.to(at::kFloat).contiguous() : at::Tensor();
  if (add.defined() && add.sizes() != x_hat.sizes()) throw Error("bf16 kernel: LayerNorm's added gradient of another shape");
  at::Tensor gx = at::empty(x_hat.sizes(), rs.options());
  const uint16_t *gi = bits(g), *xi = bits(x_hat);
  const float *ri = rs.data_ptr<float>(), *wi = w.data_ptr<float>(), *ai = data_or_null(add);
  float* out = gx.data_ptr<float>();
  for_rows(rows, len, [&](int64_t b, int64_t e) {
    layer_norm_backward_rows(gi + b * len, xi + b * len, ri + b, wi, ai ? ai + b * len : nullptr, out + b * len, e - b, len);
  });
  return gx;
}

}  // namespace sct::kernels
