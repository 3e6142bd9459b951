// Fused CPU kernels for the bf16 pass (--precision bf16), each one pass over memory in place of the
// several ATen ops (and their scalar libm loops) eager autocast runs. Inputs and outputs are
// contiguous; arithmetic is fp32 throughout and rounds to bf16 once, where autocast would.
// `on_cpu_bf16(t)` says whether a tensor takes this path; every other device and dtype keeps the ATen
// composition in the model's autograd functions.
#pragma once
#include <ATen/core/Tensor.h>

#include <tuple>

namespace sct::kernels {

bool on_cpu_bf16(const at::Tensor& t);

// Whether the kernels run their AVX512-BF16 build: where the CPU has the instructions, unless turned off
// (tests compare it with the generic build, which rounds subnormal floats to bf16 subnormals where the
// instruction reads them as zero, and otherwise gives the same bits).
bool native_bf16_kernels();
void allow_native_bf16_kernels(bool allow);

// GELU(u) with u = h + bias (bias per last-dimension column, fp32 or bf16): fc1's bias added here
// instead of broadcast into the GEMM's output first. u is rounded to bf16, as the linear's output would
// have been; `kept_input`, if given, receives it for the backward (LibTorch's gelu_backward).
// Φ to 3e-7 absolute (bf16_math.h), below bf16's rounding of the output.
at::Tensor bias_gelu_bf16(const at::Tensor& h, const at::Tensor& bias, at::Tensor* kept_input);

// d loss / d u = grad_y * GELU'(u) from the kept input u (bf16): LibTorch's gelu_backward, in one pass.
at::Tensor gelu_backward_bf16(const at::Tensor& grad_y, const at::Tensor& u);

// The residual add x + branch + bias: fp32 stream x, bf16 branch, optional per-column bias -> fp32.
// One pass in place of autocast's cast, add and (in the linear) bias broadcast.
at::Tensor residual_add_bf16(const at::Tensor& x, const at::Tensor& branch, const at::Tensor& bias);

// (B, N, parts * heads * hd) + optional bias -> contiguous (parts, B, heads, padded_tokens, hd) in bf16,
// in one pass: q, k and v (parts = 3) split into heads, rows from N on zero. Padding the tokens to a
// multiple of 16 (oneDNN's AMX tiles have 16 rows) makes the attention's batched GEMMs much faster
// (attention_kernel.cpp).
at::Tensor split_heads_bf16(const at::Tensor& x, const at::Tensor& bias, int64_t parts, int64_t heads,
                            int64_t padded_tokens);
// The inverse: (parts, B, heads, padded tokens, hd) -> (B, tokens, parts * heads * hd), pad rows dropped.
at::Tensor merge_heads_bf16(const at::Tensor& heads, int64_t tokens);

// softmax(scale * s) over the last dimension, s bf16 -> bf16 probabilities p. With valid < len, s holds
// (len, len) matrices of which only the first `valid` rows and columns are real: the softmax runs over
// the valid columns, and the padding (columns and rows from `valid` on) gets probability 0, which
// carries through the softmax backward and the GEMMs as zeros.
at::Tensor scaled_softmax_bf16(const at::Tensor& s, double scale, int64_t valid);
// d loss / d s from d loss / d p and p: scale * p (dp - Σ dp p), bf16 -> bf16.
at::Tensor scaled_softmax_backward_bf16(const at::Tensor& grad_p, const at::Tensor& p, double scale);

// LayerNorm over the last dimension of fp32 x with fp32 weight and bias: returns y = x̂ w + b in bf16
// (the GEMM's input), x̂ in bf16 (kept for backward; undefined unless keep_x_hat) and 1/std in fp32
// with shape x.shape[:-1].
std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_bf16(const at::Tensor& x, const at::Tensor& weight,
                                                               const at::Tensor& bias, double eps,
                                                               bool keep_x_hat);
// d loss / d x (fp32) from d loss / d y (bf16 or fp32), x̂ (bf16), 1/std and the weight, plus `plus`
// (fp32, x's shape; undefined: nothing), the gradient x gets from elsewhere, added in the same pass.
at::Tensor layer_norm_backward_bf16(const at::Tensor& grad_y, const at::Tensor& x_hat, const at::Tensor& rstd,
                                    const at::Tensor& weight, const at::Tensor& plus = {});

}  // namespace sct::kernels
