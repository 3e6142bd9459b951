// The transformer's feed-forward branch: fc1, exact (erf) GELU, fc2 (timm's Mlp).
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "sct/model/block_hook.h"
#include "sct/model/frozen_linear.h"

namespace sct {

class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int64_t width, int64_t hidden);
  // x: (B, N, D) -> (B, N, D). `hooks` sees the Fc1 and Fc2 sites. With defer_fc2_bias the output lacks
  // fc2's bias, which the caller adds (residual_add.h).
  at::Tensor forward(const at::Tensor& x, const HookChain& hooks, bool defer_fc2_bias = false);

  torch::nn::Linear fc1{nullptr};  // D -> hidden
  torch::nn::Linear fc2{nullptr};  // hidden -> D

 private:
  TransposedWeight fc1_t_, fc2_t_;  // for backward
};
TORCH_MODULE(Mlp);

}  // namespace sct
