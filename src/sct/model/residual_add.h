// x + branch (+ bias): a block's residual add, with the bias of the branch's last linear when the block
// deferred it (frozen_linear.h: bias_deferrable).
//
// On the CPU bf16 pass one kernel reads the fp32 stream and the bf16 branch and writes the fp32 sum:
// autocast's eager add would first cast the branch to fp32 (a pass), and the linear would have broadcast
// its bias into its output (another). The bias is added in fp32, not rounded to bf16 first as in
// autocast's linear: the sum differs from autocast's by at most that rounding.
#pragma once
#include <ATen/core/Tensor.h>

namespace sct {

// x: (..., D) fp32 stream; branch: x's shape; bias: (D) or undefined.
at::Tensor residual_add(const at::Tensor& x, const at::Tensor& branch, const at::Tensor& bias);

}  // namespace sct
