// Adapter (Houlsby et al. 2019): a bottleneck (down, GELU, up) with a residual connection on the output of
// the attention and of the MLP sub-block, before each joins the residual stream:
//   h = attn(norm1(x)); h = h + up(gelu(down(h))); x = x + h      (the same after the MLP)
// Tensors blocks.<i>.adapter.{attn,mlp}.{down,up}.{weight,bias}. `placement` "mlp" keeps only the
// MLP one (the 0.16M "Adapter-8" rows of the SCT paper's tables count one per block).
#pragma once
#include <string>

#include "sct/model/block_hook.h"
#include "sct/peft/bottleneck.h"

namespace sct {

class AdapterImpl : public BlockHookImpl {
 public:
  AdapterImpl(int64_t width, int64_t bottleneck, const std::string& placement, const at::TensorOptions& options);
  uint32_t sites() const override;
  at::Tensor apply(HookSite site, const at::Tensor& input, at::Tensor output) override;

  Bottleneck attn{nullptr}, mlp{nullptr};  // attn is null for placement "mlp"
};
TORCH_MODULE(Adapter);

}  // namespace sct
