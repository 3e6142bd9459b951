// The columns `cols` (K ascending indices) of the rows of an (M, W) x: SCT's channel gather, and its
// in-place write back for inference.
//
// gather_columns keeps only the columns and x's width for backward. LibTorch 1.13's gather keeps x itself
// (its backward reads x's sizes from it): under SCT that is each block's whole fp32 residual stream held
// until backward to pass a gradient to K of its W channels, 4 bytes x N x D per image per block, more than
// the bf16 pass keeps for the block's attention and MLP. On contiguous CPU rows both run as one loop over
// the rows (ATen's gather / scatter_ read a broadcast (M, K) index for every element).
#pragma once
#include <ATen/core/Tensor.h>

namespace sct {

// x: (M, W); cols: (K) int64 -> (M, K).
at::Tensor gather_columns(const at::Tensor& x, const at::Tensor& cols);

// x[:, cols] = values, in place; values: (M, K). Under autograd LibTorch's scatter_, which the graph records.
void put_columns_(at::Tensor& x, const at::Tensor& cols, const at::Tensor& values);

}  // namespace sct
