// y = x W^T + b for the backbone's linears, keeping for backward only what a gradient needs.
//
// Autograd's linear keeps its input x to compute W's gradient. A frozen W has none, so for it sct
// keeps nothing but W itself (which lives anyway): per ViT-B block that is 7 (B, N, D) activations
// (the inputs of qkv, proj, fc1 and fc2) not held until backward. A trainable W (full fine-tuning) gets
// autograd's own linear; a trainable bias with a frozen W (bias tuning) is handled here too.
#pragma once
#include <ATen/core/Tensor.h>
#include <torch/nn/modules/linear.h>

namespace sct {

// x: (..., in). Computes in W's dtype (bf16 when the model runs in bf16) and returns that dtype; the
// gradient reaching x has x's dtype.
at::Tensor frozen_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);
inline at::Tensor frozen_linear(const at::Tensor& x, const torch::nn::Linear& m) {
  return frozen_linear(x, m->weight, m->bias);
}

}  // namespace sct
