// x.gather(1, index) for a (M, W) x and an (M, K) index, keeping for backward only the index and x's
// shape. LibTorch 1.13's gather keeps x itself (its backward reads x's sizes from it): under SCT that is
// each block's whole fp32 residual stream held until backward to pass a gradient to K of its W channels,
// 4 bytes x N x D per image per block, more than the bf16 pass keeps for the block's attention and MLP.
#pragma once
#include <ATen/core/Tensor.h>

namespace sct {

at::Tensor gather_columns(const at::Tensor& x, const at::Tensor& index);

}  // namespace sct
