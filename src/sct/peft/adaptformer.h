// AdaptFormer (Chen et al. 2022): a scaled bottleneck (down, ReLU, up) in parallel with the MLP:
//   x' = x + attn(norm1(x));  x = x' + mlp(norm2(x')) + s * up(relu(down(x')))      s = 0.1
// Tensors blocks.<i>.adaptformer.{down,up}.{weight,bias}.
#pragma once
#include "sct/model/block_hook.h"
#include "sct/peft/bottleneck.h"

namespace sct {

class AdaptFormerImpl : public BlockHookImpl {
 public:
  AdaptFormerImpl(int64_t width, int64_t bottleneck, double scale, const at::TensorOptions& options);
  uint32_t sites() const override { return site_bit(HookSite::MlpBranch); }
  at::Tensor apply(HookSite site, const at::Tensor& input, at::Tensor output) override;

  Bottleneck bottleneck{nullptr};
  double scale;
};
TORCH_MODULE(AdaptFormer);

}  // namespace sct
