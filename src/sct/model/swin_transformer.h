// Swin Transformer (Liu et al. 2021) with timm's structure and parameter names, so that timm and
// Hugging Face checkpoints load directly and Microsoft's after renaming (swin_checkpoint.h):
//   patch_embed.{proj, norm},
//   layers.<s>.downsample.{norm, reduction}   (s >= 1: patch merging at the start of the stage),
//   layers.<s>.blocks.<j>.{norm1, attn.{qkv, proj, relative_position_bias_table}, norm2, mlp.fc1, mlp.fc2},
//   norm, head.fc.
// Blocks alternate unshifted and shifted (by window/2) windows. Tokens are kept as (B, L, C), L = R*R
// row-major on an R x R grid. Shapes: B batch, C_s stage width, classes K.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include "sct/model/backbone.h"
#include "sct/model/swin_config.h"

namespace sct {

class SwinPatchEmbedImpl : public torch::nn::Module {
 public:
  explicit SwinPatchEmbedImpl(const SwinConfig& cfg);
  at::Tensor forward(const at::Tensor& images);  // (B, 3, S, S) -> (B, R*R, C_0), normalised
  torch::nn::Conv2d proj{nullptr};
  torch::nn::LayerNorm norm{nullptr};
};
TORCH_MODULE(SwinPatchEmbed);

// 2 x 2 neighbouring tokens concatenated (offsets (0,0), (1,0), (0,1), (1,1) as (row, column)), then
// LayerNorm and a linear map 4C -> 2C without bias.
class PatchMergingImpl : public torch::nn::Module {
 public:
  PatchMergingImpl(int64_t width, double ln_eps);
  at::Tensor forward(const at::Tensor& x, int64_t resolution);  // (B, R*R, C) -> (B, R*R/4, 2C)
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear reduction{nullptr};
};
TORCH_MODULE(PatchMerging);

class SwinStageImpl : public torch::nn::Module {
 public:
  SwinStageImpl(const SwinConfig& cfg, int64_t stage, const std::vector<double>& drop_path_rates);
  at::Tensor forward(at::Tensor x);  // (B, L_{s-1}, C_{s-1}) -> (B, L_s, C_s)
  PatchMerging downsample{nullptr};  // none in stage 0
  torch::nn::ModuleList blocks{nullptr};
  const int64_t input_resolution;
};
TORCH_MODULE(SwinStage);

class ClassifierHeadImpl : public torch::nn::Module {
 public:
  ClassifierHeadImpl(int64_t width, int64_t classes);
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(ClassifierHead);

class SwinTransformerImpl : public BackboneImpl {
 public:
  explicit SwinTransformerImpl(SwinConfig cfg);

  at::Tensor forward_features(const at::Tensor& images) override;  // -> (B, L_last, C_last), after the final norm
  at::Tensor pool(const at::Tensor& features) const override { return features.mean(1); }
  torch::nn::Linear classifier() const override { return head ? head->fc : torch::nn::Linear(nullptr); }
  void reset_head(int64_t num_classes) override;
  // timm's initialisation: trunc-normal(0.02) linears and bias tables, zero biases, unit LayerNorms.
  void reset_parameters() override;
  nlohmann::json config_json() const override;
  const std::string& name() const override { return cfg_.name; }
  int64_t img_size() const override { return cfg_.img_size; }
  int64_t num_classes() const override { return cfg_.num_classes; }
  double drop_path_rate() const override { return cfg_.drop_path_rate; }
  int64_t site_width(HookSite site) const override;
  int64_t prefix_tokens() const override { return 0; }
  std::pair<at::Tensor, at::Tensor> site_output_parameters(HookSite site) override;

  const SwinConfig& config() const { return cfg_; }

  SwinPatchEmbed patch_embed{nullptr};
  torch::nn::ModuleList layers{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  ClassifierHead head{nullptr};  // empty when num_classes == 0

 private:
  SwinConfig cfg_;
};
TORCH_MODULE(SwinTransformer);

}  // namespace sct
