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

// A frozen W kept a second time, transposed ((in, out) contiguous), for the input gradient g W: LibTorch's
// oneDNN bf16 GEMM runs it 17-27% faster from this layout than from W's own on an AMX Xeon (ViT-B
// shapes, bench/kernels_bench.cpp BM_InputGradGemm*). Made on the first backward that needs it and again
// whenever W changes (another tensor, or written in place); one more copy of W while it lives.
class TransposedWeight {
 public:
  const at::Tensor& of(const at::Tensor& weight);

 private:
  at::Tensor transposed_;
  const void* source_ = nullptr;
  int64_t version_ = -1;
};

// x: (..., in). Computes in W's dtype (bf16 when the model runs in bf16) and returns that dtype; the
// gradient reaching x has x's dtype. `for_backward`, if given, keeps the transposed copy of a bf16 W
// that the CPU backward multiplies with.
at::Tensor frozen_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                         TransposedWeight* for_backward = nullptr);
inline at::Tensor frozen_linear(const at::Tensor& x, const torch::nn::Linear& m, TransposedWeight* for_backward = nullptr) {
  return frozen_linear(x, m->weight, m->bias, for_backward);
}

// LibTorch 1.13's custom autograd functions take no undefined tensor: an absent optional input (a
// bias) crosses Function::apply as an empty tensor, and is undefined again inside forward().
inline at::Tensor optional_arg(const at::Tensor& t, const at::TensorOptions& options) {
  return t.defined() ? t : at::empty({0}, options);
}
inline at::Tensor optional_value(const at::Tensor& t) { return t.numel() ? t : at::Tensor(); }

// The gradient of a bias added to every row of an output whose gradient is g (..., out): g summed over
// the rows in fp32 at least (a trainable bias is an fp32 master tensor), in `dtype`.
at::Tensor bias_gradient(const at::Tensor& g, at::ScalarType dtype);

// Whether m's bias, applied to x, may be left to the op that consumes m's output (the attention's head
// split, the residual add), which adds it in fp32 in its own pass over memory: on the CPU bf16 pass,
// where the GEMM would otherwise broadcast the bias into its output first. Those ops give a trainable
// bias (bias tuning) its gradient.
bool bias_deferrable(const torch::nn::Linear& m, const at::Tensor& x);

}  // namespace sct
