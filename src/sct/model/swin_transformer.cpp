#include "sct/model/swin_transformer.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "sct/core/error.h"
#include "sct/model/autocast.h"
#include "sct/model/init.h"
#include "sct/model/layer_norm.h"
#include "sct/model/window_attention.h"

namespace sct {

SwinPatchEmbedImpl::SwinPatchEmbedImpl(const SwinConfig& cfg) {
  proj = register_module(
      "proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, cfg.embed_dim, cfg.patch_size).stride(cfg.patch_size)));
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({cfg.embed_dim}).eps(cfg.ln_eps)));
}

at::Tensor SwinPatchEmbedImpl::forward(const at::Tensor& images) {
  const at::Tensor tokens = proj(images).flatten(2).transpose(1, 2);  // (B, C, R, R) -> (B, R*R, C)
  return layer_norm(tokens.to(at::kFloat), norm);
}

PatchMergingImpl::PatchMergingImpl(int64_t width, double ln_eps) {
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({4 * width}).eps(ln_eps)));
  reduction = register_module("reduction", torch::nn::Linear(torch::nn::LinearOptions(4 * width, 2 * width).bias(false)));
}

at::Tensor PatchMergingImpl::forward(const at::Tensor& x, int64_t resolution) {
  const int64_t B = x.size(0), C = x.size(2), half = resolution / 2;
  // (B, R/2, dr, R/2, dc, C) -> (B, R/2, R/2, dc, dr, C): the 4C features ordered by column offset, then row.
  const at::Tensor merged =
      x.view({B, half, 2, half, 2, C}).permute({0, 1, 3, 4, 2, 5}).reshape({B, half * half, 4 * C});
  // The residual stream stays fp32 in either precision; the GEMM runs in the weight's.
  return frozen_linear(layer_norm(merged, norm), reduction->weight, at::Tensor()).to(at::kFloat);
}

SwinStageImpl::SwinStageImpl(const SwinConfig& cfg, int64_t s, const std::vector<double>& rates)
    : input_resolution(s == 0 ? cfg.stage_resolution(0) : cfg.stage_resolution(s - 1)) {
  if (s > 0) downsample = register_module("downsample", PatchMerging(cfg.stage_width(s - 1), cfg.ln_eps));
  blocks = register_module("blocks", torch::nn::ModuleList());
  const int64_t width = cfg.stage_width(s), res = cfg.stage_resolution(s), window = cfg.stage_window(s);
  for (int64_t j = 0; j < cfg.depths[s]; ++j) {
    const int64_t shift = (j % 2 == 1 && window < res) ? window / 2 : 0;
    auto attn = std::make_shared<WindowAttentionImpl>(width, cfg.heads[s], res, window, shift);
    Block block(width, int64_t(double(width) * cfg.mlp_ratio), cfg.ln_eps, rates.at(size_t(j)),
                Attention(std::shared_ptr<AttentionImpl>(attn)));
    // One tensor, seen by both: moving the block to a device moves the attention's mask.
    if (attn->attn_mask.defined()) block->register_buffer("attn_mask", attn->attn_mask);
    blocks->push_back(block);
  }
}

at::Tensor SwinStageImpl::forward(at::Tensor x) {
  if (downsample) x = downsample->forward(x, input_resolution);
  for (const auto& b : *blocks) x = b->as<BlockImpl>()->forward(x);
  return x;
}

ClassifierHeadImpl::ClassifierHeadImpl(int64_t width, int64_t classes) {
  fc = register_module("fc", torch::nn::Linear(width, classes));
}

SwinTransformerImpl::SwinTransformerImpl(SwinConfig cfg) : cfg_(std::move(cfg)) {
  cfg_.validate();
  patch_embed = register_module("patch_embed", SwinPatchEmbed(cfg_));
  layers = register_module("layers", torch::nn::ModuleList());
  // Stochastic depth grows linearly from 0 at the first block to the rate at the last, across stages.
  const int64_t total = cfg_.num_blocks();
  int64_t index = 0;
  for (int64_t s = 0; s < cfg_.stages(); ++s) {
    std::vector<double> rates;
    for (int64_t j = 0; j < cfg_.depths[s]; ++j, ++index)
      rates.push_back(total > 1 ? cfg_.drop_path_rate * double(index) / double(total - 1) : 0.0);
    layers->push_back(SwinStage(cfg_, s, rates));
    auto& stage = *layers[s]->as<SwinStageImpl>();
    for (int64_t j = 0; j < cfg_.depths[s]; ++j)
      register_block("layers." + std::to_string(s) + ".blocks." + std::to_string(j), stage.blocks[j]->as<BlockImpl>());
  }
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({cfg_.num_features()}).eps(cfg_.ln_eps)));
  reset_parameters();
  reset_head(cfg_.num_classes);
}

void SwinTransformerImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  init_linears_and_norms(*this);
  for (auto& m : modules(/*include_self=*/false))
    if (auto* attn = m->as<WindowAttentionImpl>()) trunc_normal_(attn->relative_position_bias_table, 0.02);
}

void SwinTransformerImpl::reset_head(int64_t num_classes) {
  cfg_.num_classes = checked_classes(num_classes);
  head = swap_head(head, num_classes ? ClassifierHead(cfg_.num_features(), num_classes) : ClassifierHead(nullptr));
}

at::Tensor SwinTransformerImpl::forward_features(const at::Tensor& images) {
  check_images(images);
  const AutocastGuard autocast(images.device(), precision() == Precision::bf16);
  // The residual stream is fp32 in either precision, as under autocast.
  at::Tensor x = model_hooks()(HookSite::PatchEmbed, images, patch_embed(images));
  for (const auto& stage : *layers) x = stage->as<SwinStageImpl>()->forward(x);
  return model_hooks()(HookSite::FinalNorm, x, layer_norm(x, norm));
}

nlohmann::json SwinTransformerImpl::config_json() const {
  nlohmann::json j = cfg_.to_json();
  j["arch"] = "swin";
  return j;
}

int64_t SwinTransformerImpl::site_width(HookSite site) const {
  return site == HookSite::PatchEmbed ? cfg_.embed_dim : cfg_.num_features();
}

std::pair<at::Tensor, at::Tensor> SwinTransformerImpl::site_output_parameters(HookSite site) {
  // The patch embedding ends with its LayerNorm, whose affine map is the last op on the tokens.
  if (site == HookSite::PatchEmbed) return {patch_embed->norm->weight, patch_embed->norm->bias};
  if (site == HookSite::FinalNorm) return {norm->weight, norm->bias};
  throw Error("site_output_parameters: not a model-level site");
}

}  // namespace sct
