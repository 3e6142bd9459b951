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

#include "sct/model/backbone.h"
#include "sct/model/block.h"
#include "sct/model/vit_config.h"

namespace sct {

class PatchEmbedImpl : public torch::nn::Module {
 public:
  explicit PatchEmbedImpl(const VitConfig& cfg);
  at::Tensor forward(const at::Tensor& images);  // (B, 3, S, S) -> (B, G*G, D)
  torch::nn::Conv2d proj{nullptr};
};
TORCH_MODULE(PatchEmbed);

class VisionTransformerImpl : public BackboneImpl {
 public:
  explicit VisionTransformerImpl(VitConfig cfg);

  at::Tensor forward_features(const at::Tensor& images) override;  // -> (B, N, D), after the final norm
  at::Tensor pool(const at::Tensor& features) const override { return features.select(1, 0); }  // CLS
  torch::nn::Linear classifier() const override { return head; }
  void reset_head(int64_t num_classes) override;
  // timm's initialisation: trunc-normal(0.02) linears and position embedding, zero biases.
  void reset_parameters() override;
  nlohmann::json config_json() const override;
  const std::string& name() const override { return cfg_.name; }
  int64_t img_size() const override { return cfg_.img_size; }
  int64_t num_classes() const override { return cfg_.num_classes; }
  double drop_path_rate() const override { return cfg_.drop_path_rate; }
  int64_t site_width(HookSite) const override { return cfg_.width; }
  int64_t prefix_tokens() const override { return 1; }
  std::pair<at::Tensor, at::Tensor> site_output_parameters(HookSite site) override;

  const VitConfig& config() const { return cfg_; }

  PatchEmbed patch_embed{nullptr};
  at::Tensor cls_token;  // (1, 1, D)
  at::Tensor pos_embed;  // (1, N, D)
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear head{nullptr};  // empty when num_classes == 0

 private:
  VitConfig cfg_;
};
TORCH_MODULE(VisionTransformer);

}  // namespace sct
