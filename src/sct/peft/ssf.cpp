#include "sct/peft/ssf.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "sct/model/backbone.h"

namespace sct {

namespace {

// y = y * scale + shift folded into the layer that produced y: weight (out, ...) scaled along its
// output dimension, bias scaled and shifted.
void fold(const ScaleShiftImpl& op, at::Tensor weight, at::Tensor bias) {
  std::vector<int64_t> shape(weight.dim(), 1);
  shape[0] = -1;
  weight.mul_(op.scale.view(shape));
  bias.mul_(op.scale).add_(op.shift);
}

}  // namespace

ScaleShiftImpl::ScaleShiftImpl(int64_t width, const at::TensorOptions& options) {
  scale = register_parameter("scale", at::empty({width}, options));
  shift = register_parameter("shift", at::empty({width}, options));
  torch::NoGradGuard no_grad;
  scale.normal_(1.0, 0.02);
  shift.normal_(0.0, 0.02);
}

std::vector<SsfImpl::Site> SsfImpl::block_sites(int64_t width, int64_t hidden) {
  return {{"norm1", HookSite::Norm1, width}, {"qkv", HookSite::Qkv, 3 * width}, {"proj", HookSite::AttnProj, width},
          {"norm2", HookSite::Norm2, width}, {"fc1", HookSite::Fc1, hidden},    {"fc2", HookSite::Fc2, width}};
}

std::vector<SsfImpl::Site> SsfImpl::model_sites(int64_t patch_embed_width, int64_t final_width) {
  return {{"patch_embed", HookSite::PatchEmbed, patch_embed_width}, {"norm", HookSite::FinalNorm, final_width}};
}

SsfImpl::SsfImpl(const std::vector<Site>& sites, const at::TensorOptions& options) {
  for (const Site& s : sites) parts.push_back({s.name, s.site, register_module(s.name, ScaleShift(s.width, options))});
}

uint32_t SsfImpl::sites() const {
  uint32_t mask = 0;
  for (const auto& p : parts) mask |= site_bit(p.site);
  return mask;
}

at::Tensor SsfImpl::apply(HookSite site, const at::Tensor&, at::Tensor output) {
  for (const auto& p : parts)
    if (p.site == site) return p.op->forward(output);
  return output;
}

void SsfImpl::merge_into(BlockImpl& block) {
  torch::NoGradGuard no_grad;
  for (const auto& p : parts) {
    switch (p.site) {
      case HookSite::Norm1:
        fold(*p.op, block.norm1->weight, block.norm1->bias);
        break;
      case HookSite::Qkv:
        fold(*p.op, block.attn->qkv->weight, block.attn->qkv->bias);
        break;
      case HookSite::AttnProj:
        fold(*p.op, block.attn->proj->weight, block.attn->proj->bias);
        break;
      case HookSite::Norm2:
        fold(*p.op, block.norm2->weight, block.norm2->bias);
        break;
      case HookSite::Fc1:
        fold(*p.op, block.mlp->fc1->weight, block.mlp->fc1->bias);
        break;
      case HookSite::Fc2:
        fold(*p.op, block.mlp->fc2->weight, block.mlp->fc2->bias);
        break;
      default:
        break;
    }
  }
}

void SsfImpl::merge_into_model(BackboneImpl& model) {
  torch::NoGradGuard no_grad;
  for (const auto& p : parts) {
    auto [weight, bias] = model.site_output_parameters(p.site);
    fold(*p.op, weight, bias);
  }
}

}  // namespace sct
