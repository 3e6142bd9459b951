// VPT-deep (Jia et al. 2022): P learned prompt tokens per block, inserted after the CLS token at the
// block's input and dropped again at its output, so every block sees its own prompts and the next
// block's input has the original token count. Prompts ~ U(-v, v), v = sqrt(6 / (3 * patch^2 + D)), as
// the VPT code. Tensor blocks.<i>.vpt.prompts (P, D).
#pragma once
#include "sct/model/block_hook.h"

namespace sct {

class VptImpl : public BlockHookImpl {
 public:
  VptImpl(int64_t width, int64_t patch_size, int64_t length, const at::TensorOptions& options);
  uint32_t sites() const override { return site_bit(HookSite::BlockInput) | site_bit(HookSite::BlockOutput); }
  at::Tensor apply(HookSite site, const at::Tensor& input, at::Tensor output) override;
  bool keeps_token_count() const override { return false; }

  at::Tensor prompts;  // (P, D)
};
TORCH_MODULE(Vpt);

}  // namespace sct
