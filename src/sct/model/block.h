// A pre-norm transformer block (timm's Block, and Swin's with window attention as `attn`):
//   x = x + drop_path(attn(norm1(x)));  x = x + drop_path(mlp(norm2(x)))
// with hook sites around every step (block_hook.h).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include "sct/model/attention.h"
#include "sct/model/block_hook.h"
#include "sct/model/mlp.h"
#include "sct/model/vit_config.h"

namespace sct {

class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(const VitConfig& cfg, double drop_path_rate);
  // Any block of this shape: Swin's blocks pass their (shifted) window attention.
  BlockImpl(int64_t width, int64_t mlp_hidden, double ln_eps, double drop_path_rate, Attention attention);
  at::Tensor forward(at::Tensor x);  // (B, N, D) -> (B, N, D)
  int64_t width() const { return mlp->fc2->options.out_features(); }        // D
  int64_t mlp_hidden() const { return mlp->fc1->options.out_features(); }   // the MLP's hidden size

  // Registers `hook` as submodule `name` (its parameters become blocks.<i>.<name>.*) and calls it
  // at the sites it asks for, after the hooks attached before it. The hook takes the block's train/eval mode.
  void attach(const std::string& name, std::shared_ptr<BlockHookImpl> hook) { hooks_.attach(*this, name, std::move(hook)); }
  // Removes hook `name` (the others keep their order); throws if there is none.
  void detach(const std::string& name) { hooks_.detach(*this, name); }
  void detach_all() { hooks_.detach_all(*this); }
  const std::shared_ptr<BlockHookImpl>& hook(const std::string& name) const { return hooks_.hook(*this, name); }
  const std::vector<std::string>& hook_names() const { return hooks_.names(); }

  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  Attention attn{nullptr};
  Mlp mlp{nullptr};
  double drop_path_rate;
  // Training keeps only the block's input for backward and runs the block again there (recompute.h).
  bool recompute = false;

 private:
  at::Tensor compute(at::Tensor x);

  HookSet hooks_;
};
TORCH_MODULE(Block);

}  // namespace sct
