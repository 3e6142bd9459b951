// softmax(q k^T / sqrt(hd)) v that keeps only q, k and v for backward and recomputes the probabilities
// there, as flash attention does, instead of holding a (B, H, N, N) tensor per block until backward:
// on ViT-B at 224 px that tensor is 3.1 (B, N, D) activations, the largest single item a block keeps.
// The recompute costs one extra q k^T GEMM per block in backward (about 4% of a ViT-B training step).
// The arithmetic is the eager one step for step (q scaled first, softmax in the scores' dtype with
// fp32 accumulation, as autocast runs it), so forward results equal the plain formula bit for bit.
#pragma once
#include <ATen/core/Tensor.h>

namespace sct {

// q, k, v: (B, H, N, hd) -> (B, H, N, hd).
at::Tensor softmax_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v);

}  // namespace sct
