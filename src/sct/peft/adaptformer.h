// AdaptFormer (Chen et al. 2022), as its code (AdaptMLP, ffn_option "parallel") builds it for images:
// a scaled bottleneck beside the MLP, reading the MLP's input and added after the MLP's drop path,
//   x' = x + drop_path(attn(norm1(x)));  x = x' + drop_path(mlp(norm2(x'))) + s * up(dropout(relu(down(x'))))
// s = 0.1, dropout 0.1 (training only), no LayerNorm in the branch. Init as its "lora" option: down
// weight PyTorch's default (kaiming-uniform), down bias, up weight and up bias zero, so a new branch
// adds nothing. Tensors blocks.<i>.adaptformer.{down,up}.{weight,bias}.
#pragma once
#include <torch/nn/modules/linear.h>

#include "sct/model/block_hook.h"

namespace sct {

class AdaptFormerImpl : public BlockHookImpl {
 public:
  AdaptFormerImpl(int64_t width, int64_t bottleneck, double scale, double dropout, const at::TensorOptions& options);
  // At the block output: the MLP's residual add and drop path are done, its input is the hook's input.
  uint32_t sites() const override { return site_bit(HookSite::BlockOutput); }
  at::Tensor apply(HookSite site, const at::Tensor& input, at::Tensor output) override;

  torch::nn::Linear down{nullptr}, up{nullptr};
  double scale, dropout;
};
TORCH_MODULE(AdaptFormer);

}  // namespace sct
