// GELU(h + bias) for the MLP when fc1 left its bias to it (frozen_linear.h: bias_deferrable): on the CPU
// bf16 pass one kernel adds the bias and applies GELU (kernels/bf16_kernels.h), where autocast's linear
// would first broadcast the bias into its output. Backward is GELU's derivative at the kept h + bias (bf16),
// as LibTorch's gelu_backward (bf16_kernels.h), and gives a trainable bias (bias tuning) its gradient.
#pragma once
#include <ATen/core/Tensor.h>

namespace sct {

// h: (..., hidden) fc1's output without its bias; bias: (hidden).
at::Tensor bias_gelu(const at::Tensor& h, const at::Tensor& bias);

}  // namespace sct
