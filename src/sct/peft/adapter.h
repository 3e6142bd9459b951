// Adapter (Houlsby et al. 2019): a bottleneck (down, GELU, up) with a residual connection on the output of
// a sub-block, before it joins the residual stream:
//   m = mlp(norm2(x)); m = m + up(gelu(down(m))); x = x + m
// By default one per block, after the MLP: the "Adapter-8" rows of the SCT paper's and NOAH's VTAB
// tables count 0.16M on ViT-B, one adapter per block. `placement` "both" adds Houlsby's second one on
// the attention output (h = attn(norm1(x)); h = h + up(gelu(down(h)))), twice the parameters.
// Tensors blocks.<i>.adapter.{attn,mlp}.{down,up}.{weight,bias}.
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

  Bottleneck attn{nullptr}, mlp{nullptr};  // attn is null unless placement is "both"
};
TORCH_MODULE(Adapter);

}  // namespace sct
