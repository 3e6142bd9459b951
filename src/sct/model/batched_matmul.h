// a @ b over matching leading dimensions, (..., m, k) @ (..., k, n), with autograd. fp32 on the CPU runs
// sct's batched kernel (kernels/small_gemm.h), forward and backward; any other dtype or device at::matmul.
#pragma once
#include <ATen/core/Tensor.h>

namespace sct {

at::Tensor batched_matmul(const at::Tensor& a, const at::Tensor& b);

}  // namespace sct
