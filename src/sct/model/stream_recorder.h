// An observer hook that keeps what passes one site of a block (e.g. the residual stream after the
// block), for feature extraction and tests. It changes nothing.
#pragma once
#include <vector>

#include "sct/model/block_hook.h"

namespace sct {

class StreamRecorderImpl : public BlockHookImpl {
 public:
  explicit StreamRecorderImpl(HookSite site) : site_(site) {}
  uint32_t sites() const override { return site_bit(site_); }
  at::Tensor apply(HookSite, const at::Tensor&, at::Tensor output) override {
    recorded.push_back(output.detach());
    return output;
  }
  std::vector<at::Tensor> recorded;  // one (B, N, D) tensor per forward call

 private:
  HookSite site_;
};

}  // namespace sct
