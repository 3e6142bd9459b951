// Multi-head softmax(q k^T / sqrt(hd)) v from the qkv projection's output, keeping only q, k and v for
// backward and recomputing the probabilities there, as flash attention does, instead of holding a
// (B, H, N, N) tensor per block until backward: on ViT-B at 224 px that tensor is 3.1 (B, N, D)
// activations, the largest single item a block keeps. The recompute costs one extra q k^T GEMM per
// block in backward (about 4% of a ViT-B training step).
//
// q, k and v are split out of (B, N, 3D) once, into one contiguous (3, B, H, Np, hd) tensor, so that the
// batched GEMMs read them without copies and backward writes the gradient of qkv in one piece (not
// three zero-filled (B, N, 3D) tensors, one per slice, as autograd's select would). On the CPU bf16
// pass Np is N padded with zero rows to a multiple of 16, the GEMMs' tile height.
// Arithmetic: softmax in the scores' dtype with fp32 accumulation, as autocast runs it; on CPU bf16
// scores the fused kernel (scale and softmax in one fp32 pass, sct/kernels/bf16_kernels.h).
#pragma once
#include <ATen/core/Tensor.h>

namespace sct {

// qkv: (B, N, 3D), each of q, k, v head-major -> (B, N, D), heads merged, in the pass's dtype.
// qkv_bias: (3D), the qkv projection's bias when it left it to this op (frozen_linear.h), or undefined.
at::Tensor multi_head_attention(const at::Tensor& qkv, const at::Tensor& qkv_bias, int64_t heads);

}  // namespace sct
