// LayerNorm over the last dimension that keeps, for backward, the normalised input in the dtype of the
// pass (bf16 inside a bf16 autocast region, else the input's) and the fp32 reciprocal deviations.
//
// Statistics (mean, 1/std) are always computed from the fp32 residual stream, as autocast does.
// Keeping x̂ instead of x costs the same in fp32 and half in bf16; the gradient then carries bf16's
// relative error (2^-9) in x̂, as every bf16 GEMM gradient does anyway. Trainable gamma / beta (bias
// tuning, full fine-tuning) get their gradients from the same saved x̂.
#pragma once
#include <ATen/core/Tensor.h>
#include <torch/nn/modules/normalization.h>

namespace sct {

// `feeds_gemm_only`: nothing but a GEMM reads the output (no hook at the norm's site), so in a bf16 pass
// it is returned in bf16, the GEMM's input dtype: one rounding, as autocast's cast before the GEMM,
// without the fp32 output in between. Otherwise the output is fp32, as under autocast.
at::Tensor layer_norm(const at::Tensor& x, const torch::nn::LayerNorm& m, bool feeds_gemm_only = false);

}  // namespace sct
