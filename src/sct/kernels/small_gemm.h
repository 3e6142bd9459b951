// Batched products of small fp32 matrices on the CPU: a Swin's window attention multiplies thousands of
// 49 x 32 by 32 x 49 matrices per block. LibTorch 1.13's CPU bmm without MKL (Debian's build) runs one
// GEMM call per batch entry, after select / as_strided views of each, on one thread: per entry that costs
// as much as the arithmetic. Here each entry is one register-blocked loop, the batch split across threads.
#pragma once
#include <ATen/core/Tensor.h>

namespace sct::kernels {

// a (batch, m, k) @ b (batch, k, n) -> (batch, m, n), fp32 CPU tensors of any strides. fp32 accumulation
// in k order (a different summation order from BLAS: results agree to fp32 rounding, not bit for bit).
// Throws sct::Error for other dtypes, devices or mismatched shapes.
at::Tensor small_bmm_f32(const at::Tensor& a, const at::Tensor& b);

}  // namespace sct::kernels
