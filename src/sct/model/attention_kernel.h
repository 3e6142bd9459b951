// Multi-head softmax(q k^T / sqrt(hd)) v from the qkv projection's output, keeping q, k and v for backward
// in one tensor. The (B, H, N, N) probabilities, 3.1 (B, N, D) activations on ViT-B at 224 px, are kept
// in bf16 on the CPU (where recomputing them costs 4-9% of a training step) and recomputed from q and k
// in backward in fp32, as flash attention does (attention_kernel.cpp: keeps_probabilities).
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
