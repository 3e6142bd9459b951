// A pretrained backbone (ViT, Swin) as the code that adapts it sees it: images in, the final norm's
// tokens out, a pooled summary and a linear head; its transformer blocks in forward order, the hooks
// attached to them and to the model (block_hook.h), which tensors are pretrained, freezing, the compute
// precision and activation recomputation. Methods, the trainer, task folders and the server hold a
// Backbone and never ask which one. A model registers its blocks once, by the path its checkpoints
// name them ("blocks.3", "layers.2.blocks.5").
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include "sct/model/block.h"
#include "sct/model/block_hook.h"
#include "sct/runtime/precision.h"

namespace sct {

class BackboneImpl : public torch::nn::Module {
 public:
  // (B, 3, S, S) -> the final norm's tokens (B, N, D).
  virtual at::Tensor forward_features(const at::Tensor& images) = 0;
  // What the head reads, (B, N, D) -> (B, D): ViT's class token, Swin's token average.
  virtual at::Tensor pool(const at::Tensor& features) const = 0;
  // classifier()(pool(features)), (B, C); without a head the pooled (B, D).
  at::Tensor forward_head(const at::Tensor& features) const;
  // The same with another classifier (sct serve: one head per task on one backbone).
  at::Tensor forward_head(const at::Tensor& features, const torch::nn::Linear& classifier) const;
  at::Tensor forward(const at::Tensor& images) { return forward_head(forward_features(images)); }

  // The head's linear map (parameters "head.*"); empty when num_classes() == 0.
  virtual torch::nn::Linear classifier() const = 0;
  // A new classifier with PyTorch's default Linear init (what every method trains); 0 removes the head.
  virtual void reset_head(int64_t num_classes) = 0;
  // timm's initialisation of the whole model.
  virtual void reset_parameters() = 0;

  // The architecture, {"arch": "vit" | "swin", ...}: make_backbone() builds it again (task folders).
  virtual nlohmann::json config_json() const = 0;
  virtual const std::string& name() const = 0;
  virtual int64_t img_size() const = 0;
  virtual int64_t num_classes() const = 0;
  virtual double drop_path_rate() const = 0;
  // Channels at a model-level site (HookSite::PatchEmbed, FinalNorm), and the weight and bias of the
  // op whose output it is, one row per channel (SSF folds its scale and shift into them).
  virtual int64_t site_width(HookSite site) const = 0;
  // Tokens before the image's own in every block's stream (ViT's class token; Swin has none).
  virtual int64_t prefix_tokens() const = 0;
  virtual std::pair<at::Tensor, at::Tensor> site_output_parameters(HookSite site) = 0;

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
  // Where the parameters live (walks them all: callers on a hot path read it once).
  at::Device device() const { return parameters().front().device(); }

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
  // The message for images of the wrong shape, naming the model.
  void check_images(const at::Tensor& images) const;
  // `num_classes`, or an error when it is negative.
  static int64_t checked_classes(int64_t num_classes);
  // Makes `fresh` the submodule "head" in place of `current` (nothing when `fresh` is empty); returns it.
  template <typename Head>
  Head swap_head(const Head& current, Head fresh) {
    if (!fresh) {
      if (current) unregister_module("head");
      return fresh;
    }
    return current ? replace_module("head", fresh) : register_module("head", fresh);
  }

 private:
  std::vector<std::pair<std::string, BlockImpl*>> blocks_;  // owned by the model's module tree
  Precision precision_ = Precision::fp32;
  bool weights_bf16_ = false;
  HookSet hooks_;
};
// The handle every user of a backbone holds. Any concrete backbone's handle (VisionTransformer,
// SwinTransformer) converts to it.
class Backbone : public torch::nn::ModuleHolder<BackboneImpl> {
 public:
  using torch::nn::ModuleHolder<BackboneImpl>::ModuleHolder;
  using Impl_t = BackboneImpl;
  template <typename Holder, typename Impl = typename std::decay_t<Holder>::ContainedType,
            typename = std::enable_if_t<std::is_base_of_v<BackboneImpl, Impl> && !std::is_same_v<Impl, BackboneImpl>>>
  Backbone(Holder&& model) : ModuleHolder(std::shared_ptr<BackboneImpl>(model.ptr())) {}
};

// A model of `config` (a config_json(), or a task folder's from before Swin, which has no "arch": a
// ViT), with stochastic depth `drop_path_rate` (a training setting, not part of the architecture).
// Throws sct::Error naming a bad field.
Backbone make_backbone(const nlohmann::json& config, double drop_path_rate = 0.0);
// The config of a named architecture: timm's ViTs and Swins and sct's embedded backbones.
nlohmann::json named_backbone_config(const std::string& name);
// `config` with its head size set (0: no head).
nlohmann::json with_classes(nlohmann::json config, int64_t num_classes);
// `config` validated without building the model, with "arch" made explicit ("vit" where a task folder
// from before Swin left it out). Throws sct::Error naming a bad field.
nlohmann::json checked_backbone_config(nlohmann::json config);

}  // namespace sct
