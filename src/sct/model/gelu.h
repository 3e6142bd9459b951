// GELU(h) = h Φ(h) for the MLP: LibTorch's own, but with the fused kernel for its backward on CPU bf16
// tensors, where LibTorch 1.13 calls libm's erff once per element (its bf16 forward is vectorised).
#pragma once
#include <ATen/core/Tensor.h>

namespace sct {

at::Tensor gelu(const at::Tensor& h);

}  // namespace sct
