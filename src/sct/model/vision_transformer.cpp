#include "sct/model/vision_transformer.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/nn/init.h>

#include "sct/core/error.h"
#include "sct/model/autocast.h"
#include "sct/model/init.h"
#include "sct/model/layer_norm.h"

namespace sct {

PatchEmbedImpl::PatchEmbedImpl(const VitConfig& cfg) {
  proj = register_module(
      "proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(cfg.in_chans, cfg.width, cfg.patch_size)
                                    .stride(cfg.patch_size)));
}

at::Tensor PatchEmbedImpl::forward(const at::Tensor& images) {
  return proj(images).flatten(2).transpose(1, 2);  // (B, D, G, G) -> (B, G*G, D)
}

VisionTransformerImpl::VisionTransformerImpl(VitConfig cfg) : cfg_(std::move(cfg)) {
  cfg_.validate();
  patch_embed = register_module("patch_embed", PatchEmbed(cfg_));
  cls_token = register_parameter("cls_token", at::zeros({1, 1, cfg_.width}));
  pos_embed = register_parameter("pos_embed", at::zeros({1, cfg_.num_tokens(), cfg_.width}));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < cfg_.depth; ++i) {
    // Stochastic depth grows linearly from 0 at the first block to the rate at the last.
    const double rate = cfg_.depth > 1 ? cfg_.drop_path_rate * double(i) / double(cfg_.depth - 1) : 0.0;
    blocks->push_back(Block(cfg_, rate));
    register_block("blocks." + std::to_string(i), blocks[i]->as<BlockImpl>());
  }
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({cfg_.width}).eps(cfg_.ln_eps)));
  reset_parameters();
  reset_head(cfg_.num_classes);
}

void VisionTransformerImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  trunc_normal_(pos_embed, 0.02);
  cls_token.normal_(0.0, 1e-6);
  init_linears_and_norms(*this);
}

void VisionTransformerImpl::reset_head(int64_t num_classes) {
  cfg_.num_classes = checked_classes(num_classes);
  // PyTorch's default Linear init: U(+-1/sqrt(D)).
  head = swap_head(head, num_classes ? torch::nn::Linear(cfg_.width, num_classes) : torch::nn::Linear(nullptr));
}

at::Tensor VisionTransformerImpl::forward_features(const at::Tensor& images) {
  check_images(images);
  const AutocastGuard autocast(images.device(), precision() == Precision::bf16);
  // The residual stream is fp32 in either precision (the class token's dtype), as under autocast.
  at::Tensor x = model_hooks()(HookSite::PatchEmbed, images, patch_embed(images).to(cls_token.scalar_type()));  // (B, G*G, D)
  x = at::cat({cls_token.expand({x.size(0), -1, -1}), x}, 1) + pos_embed;  // (B, N, D)
  for (const auto& b : *blocks) x = b->as<BlockImpl>()->forward(x);
  return model_hooks()(HookSite::FinalNorm, x, layer_norm(x, norm));
}

nlohmann::json VisionTransformerImpl::config_json() const {
  nlohmann::json j = cfg_.to_json();
  j["arch"] = "vit";
  return j;
}

std::pair<at::Tensor, at::Tensor> VisionTransformerImpl::site_output_parameters(HookSite site) {
  if (site == HookSite::PatchEmbed) return {patch_embed->proj->weight, patch_embed->proj->bias};
  if (site == HookSite::FinalNorm) return {norm->weight, norm->bias};
  throw Error("site_output_parameters: not a model-level site");
}

}  // namespace sct
