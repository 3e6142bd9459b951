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

// GELU(u) with u = h + bias (bias per last-dimension column, fp32 or bf16): fc1's bias added here
// instead of broadcast into the GEMM's output first. u is rounded to bf16, as the linear's output would
// have been; `kept_input`, if given, receives it for the backward (LibTorch's gelu_backward).
// Φ to 3e-7 absolute (bf16_math.h), below bf16's rounding of the output.
at::Tensor bias_gelu_bf16(const at::Tensor& h, const at::Tensor& bias, at::Tensor* kept_input);

// The residual add x + branch + bias: fp32 stream x, bf16 branch, optional per-column bias -> fp32.
// One pass in place of autocast's cast, add and (in the linear) bias broadcast.
at::Tensor residual_add_bf16(const at::Tensor& x, const at::Tensor& branch, const at::Tensor& bias);

// (B, N, 3 * heads * hd) qkv + optional bias -> contiguous (3, B, heads, N, hd): q, k and v split into
// heads, in bf16, in one pass.
at::Tensor split_heads_bf16(const at::Tensor& qkv, const at::Tensor& bias, int64_t heads);

// softmax(scale * s) over the last dimension, s bf16 -> bf16 probabilities p.
at::Tensor scaled_softmax_bf16(const at::Tensor& s, double scale);
// d loss / d s from d loss / d p and p: scale * p (dp - Σ dp p), bf16 -> bf16.
at::Tensor scaled_softmax_backward_bf16(const at::Tensor& grad_p, const at::Tensor& p, double scale);

// LayerNorm over the last dimension of fp32 x with fp32 weight and bias: returns y = x̂ w + b in bf16
// (the GEMM's input), x̂ in bf16 (kept for backward; undefined unless keep_x_hat) and 1/std in fp32
// with shape x.shape[:-1].
std::tuple<at::Tensor, at::Tensor, at::Tensor> layer_norm_bf16(const at::Tensor& x, const at::Tensor& weight,
                                                               const at::Tensor& bias, double eps,
                                                               bool keep_x_hat);
// d loss / d x (fp32) from d loss / d y (bf16 or fp32), x̂ (bf16), 1/std and the weight.
at::Tensor layer_norm_backward_bf16(const at::Tensor& grad_y, const at::Tensor& x_hat, const at::Tensor& rstd,
                                    const at::Tensor& weight);

}  // namespace sct::kernels
