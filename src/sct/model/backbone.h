// What every backbone (ViT, Swin) shares with the code that adapts it: its transformer blocks in forward
// order, the hooks attached to them and to the model (block_hook.h), which tensors are pretrained,
// freezing, the compute precision and activation recomputation. A model registers its blocks once, by
// the path its checkpoints name them ("blocks.3", "layers.2.blocks.5").
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/nn/module.h>

#include "sct/model/block.h"
#include "sct/model/block_hook.h"
#include "sct/runtime/precision.h"

namespace sct {

class BackboneImpl : public torch::nn::Module {
 public:
  // Registers `hook` as submodule `name` (its parameters become <name>.*) and calls it at the
  // model-level sites it asks for (HookSite::PatchEmbed, FinalNorm), as BlockImpl::attach for a block;
  // it takes the model's train/eval mode.
  void attach(const std::string& name, std::shared_ptr<BlockHookImpl> hook) { hooks_.attach(*this, name, std::move(hook)); }
  void detach(const std::string& name) { hooks_.detach(*this, name); }
  const std::shared_ptr<BlockHookImpl>& hook(const std::string& name) const { return hooks_.hook(*this, name); }
  // Detaches every hook: the model's and every block's.
  void detach_all();
  const std::vector<std::string>& hook_names() const { return hooks_.names(); }

  // The transformer blocks in forward order (Swin: across its stages), and where each sits in the
  // checkpoint's names ("layers.2.blocks.5").
  int64_t depth() const { return int64_t(blocks_.size()); }
  BlockImpl& block(int64_t i) { return *blocks_.at(size_t(i)).second; }
  const std::string& block_path(int64_t i) const { return blocks_.at(size_t(i)).first; }

  // True for tensors of attached hooks (PEFT modules, observers): "<hook>.*" and "<block path>.<hook>.*".
  bool is_hook_tensor(const std::string& name);
  // The pretrained part: every parameter and buffer except the head's and the hooks'.
  std::vector<std::pair<std::string, at::Tensor>> backbone_tensors();

  // requires_grad = false on every parameter (inference, feature extraction, selection).
  void freeze();
  // Runs every forward in `p` from now on (fp32 or bf16, not automatic). bf16 converts the backbone's
  // frozen GEMM weights (Linear and Conv2d tensors without requires_grad: attach the method first) to
  // bf16 once, here; a method's tensors and the head (trained or loaded), LayerNorm parameters, the
  // class token and the position embedding stay fp32. Going back to fp32 after that is an error: the
  // bf16 weights lost their low bits.
  void set_precision(Precision p);
  Precision precision() const { return precision_; }
  // Per-block activation recomputation in training (recompute.h): less memory, about a third more compute.
  void set_recompute(bool on);

 protected:
  void register_block(std::string path, BlockImpl* block) { blocks_.emplace_back(std::move(path), block); }
  const HookChain& model_hooks() const { return hooks_.chain(); }

 private:
  std::vector<std::pair<std::string, BlockImpl*>> blocks_;  // owned by the model's module tree
  Precision precision_ = Precision::fp32;
  bool weights_bf16_ = false;
  HookSet hooks_;
};

}  // namespace sct
