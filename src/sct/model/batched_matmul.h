// a @ b over matching leading dimensions, (..., m, k) @ (..., k, n), with autograd. Small fp32 matrices on
// the CPU (each side up to 256: a window's attention) run sct's batched kernel (kernels/small_gemm.h),
// forward and backward; anything else at::matmul.
#pragma once
#include <ATen/core/Tensor.h>

namespace sct {

at::Tensor batched_matmul(const at::Tensor& a, const at::Tensor& b);

}  // namespace sct
