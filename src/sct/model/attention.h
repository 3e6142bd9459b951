// Multi-head self-attention with a fused qkv projection (timm's Attention), over all tokens.
// Swin's windowed attention (window_attention.h) derives from it and overrides forward.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "sct/model/block_hook.h"
#include "sct/model/frozen_linear.h"

namespace sct {

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int64_t width, int64_t heads);
  virtual ~AttentionImpl() = default;
  // x: (B, N, D) -> (B, N, D). `hooks` sees the Qkv and AttnProj sites. With defer_proj_bias the output
  // lacks proj's bias, which the caller adds (residual_add.h).
  virtual at::Tensor forward(const at::Tensor& x, const HookChain& hooks, bool defer_proj_bias = false);

  torch::nn::Linear qkv{nullptr};   // D -> 3D, rows ordered q, k, v; each head-major
  torch::nn::Linear proj{nullptr};  // D -> D
  int64_t heads;

 protected:
  TransposedWeight qkv_t_, proj_t_;  // for backward
};
TORCH_MODULE(Attention);

}  // namespace sct
