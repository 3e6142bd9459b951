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

  at::Tensor forward(const at::Tensor& images);                 // (B, 3, S, S) -> (B, C) or (B, D)
  at::Tensor forward_features(const at::Tensor& images);        // -> (B, N, D), after the final norm
  at::Tensor forward_head(const at::Tensor& features);          // (B, N, D) -> (B, C), CLS pooling
  // The same with another classifier (sct serve: one head per task on one backbone).
  at::Tensor forward_head(const at::Tensor& features, torch::nn::Linear& classifier) const;

  // timm's initialisation: trunc-normal(0.02) linears and position embedding, zero biases.
  void reset_parameters();
  // A new classifier with PyTorch's default Linear init (what SCT trains); 0 removes the head.
  void reset_head(int64_t num_classes);

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
