// A linear map on K chosen columns of an (M, W) x, written back onto them: SCT's module as one op.
//
//   out = x,  out[:, I] = alpha x[:, I] + beta (x[:, I] W^T + b)
//
// Under autograd it is one function that keeps only x[:, I] (M x K, in the GEMM's dtype) and the index:
// eager PyTorch's gather / linear / scatter keep the whole stream the gather read (LibTorch 1.13's gather
// holds its input), copy and zero-fill the stream twice more in backward (scatter's backward, then
// gather's zeros and scatter_add_) and add two (M, W) gradients. Here backward rewrites K columns of the
// stream's gradient (in place when autograd handed over its only reference, else of a copy); x's
// gradient is skipped when x needs none (SCT's first block). The GEMM runs in autocast's dtype when a region is active, as eager autocast runs addmm: a
// bf16 W x + b added to the fp32 stream in fp32, and the fp32 master W and b given fp32 gradients.
#pragma once
#include <ATen/core/Tensor.h>

namespace sct {

// x: (..., W), rows M = x.numel() / W; cols: (K) ascending int64; weight (K, K), bias (K). With
// `in_place` (the caller holds x's only reference) and x contiguous, writes into x itself, M x K values
// instead of a copy of x, and returns it; under autograd as an in-place op (nothing saved x's old values:
// backward reads the kept columns).
at::Tensor linear_on_columns(const at::Tensor& x, const at::Tensor& cols, const at::Tensor& weight,
                             const at::Tensor& bias, double alpha, double beta, bool in_place);

}  // namespace sct
