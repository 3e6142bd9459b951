// Vision Transformer (Dosovitskiy et al. 2021) with timm's structure and parameter names, so that
// timm, Hugging Face and (after key mapping) Google checkpoints load directly:
//   patch_embed.proj, cls_token, pos_embed, blocks.<i>.{norm1, attn.qkv, attn.proj, norm2,
//   mlp.fc1, mlp.fc2}, norm, head.
// Shapes: B batch, N = 1 + G*G tokens, D width, C classes.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include "sct/model/block.h"
#include "sct/model/vit_config.h"
#include "sct/runtime/precision.h"

namespace sct {

class PatchEmbedImpl : public torch::nn::Module {
 public:
  explicit PatchEmbedImpl(const VitConfig& cfg);
  at::Tensor forward(const at::Tensor& images);  // (B, 3, S, S) -> (B, G*G, D)
  torch::nn::Conv2d proj{nullptr};
};
TORCH_MODULE(PatchEmbed);

class VisionTransformerImpl : public torch::nn::Module {
 public:
  explicit VisionTransformerImpl(VitConfig cfg);

  at::Tensor forward(const at::Tensor& images);                 // (B, 3, S, S) -> (B, C) or (B, D)
  at::Tensor forward_features(const at::Tensor& images);        // -> (B, N, D), after the final norm
  at::Tensor forward_head(const at::Tensor& features);          // (B, N, D) -> (B, C), CLS pooling
  // The same with another classifier (sct serve: one head per task on one backbone).
  at::Tensor forward_head(const at::Tensor& features, torch::nn::Linear& classifier) const;

  // timm's initialisation: trunc-normal(0.02) linears and position embedding, zero biases.
  void reset_parameters();
  // A new classifier with PyTorch's default Linear init (what SCT trains); 0 removes the head.
  void reset_head(int64_t num_classes);

  // Registers `hook` as submodule `name` (its parameters become <name>.*) and calls it at the
  // model-level sites it asks for (HookSite::PatchEmbed, FinalNorm), as BlockImpl::attach for a block;
  // it takes the model's train/eval mode.
  void attach(const std::string& name, std::shared_ptr<BlockHookImpl> hook) { hooks_.attach(*this, name, std::move(hook)); }
  void detach(const std::string& name) { hooks_.detach(*this, name); }
  const std::shared_ptr<BlockHookImpl>& hook(const std::string& name) const { return hooks_.hook(*this, name); }
  // Detaches every hook: the model's and every block's.
  void detach_all();
  const std::vector<std::string>& hook_names() const { return hooks_.names(); }

  // True for tensors of attached hooks (PEFT modules, observers): "<hook>.*" and "blocks.<i>.<hook>.*".
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

  const VitConfig& config() const { return cfg_; }
  int64_t depth() const { return cfg_.depth; }
  BlockImpl& block(int64_t i) { return *blocks[i]->as<BlockImpl>(); }

  PatchEmbed patch_embed{nullptr};
  at::Tensor cls_token;  // (1, 1, D)
  at::Tensor pos_embed;  // (1, N, D)
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear head{nullptr};  // empty when num_classes == 0

 private:
  VitConfig cfg_;
  Precision precision_ = Precision::fp32;
  bool weights_bf16_ = false;
  HookSet hooks_;
};
TORCH_MODULE(VisionTransformer);

}  // namespace sct
