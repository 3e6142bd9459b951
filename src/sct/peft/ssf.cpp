#include "sct/peft/ssf.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "sct/model/vision_transformer.h"

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

SsfImpl::SsfImpl(Level level, int64_t width, int64_t hidden, const at::TensorOptions& options) {
  const std::vector<std::pair<const char*, HookSite>> sites =
      level == Level::Model ? std::vector<std::pair<const char*, HookSite>>{{"patch_embed", HookSite::PatchEmbed},
                                                                             {"norm", HookSite::FinalNorm}}
                            : std::vector<std::pair<const char*, HookSite>>{
                                  {"norm1", HookSite::Norm1}, {"qkv", HookSite::Qkv}, {"proj", HookSite::AttnProj},
                                  {"norm2", HookSite::Norm2}, {"fc1", HookSite::Fc1}, {"fc2", HookSite::Fc2}};
  for (const auto& [name, site] : sites) {
    const int64_t w = site == HookSite::Qkv ? 3 * width : site == HookSite::Fc1 ? hidden : width;
    parts.push_back({name, site, register_module(name, ScaleShift(w, options))});
  }
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

void SsfImpl::merge_into_model(VisionTransformerImpl& model) {
  torch::NoGradGuard no_grad;
  for (const auto& p : parts) {
    if (p.site == HookSite::PatchEmbed) fold(*p.op, model.patch_embed->proj->weight, model.patch_embed->proj->bias);
    if (p.site == HookSite::FinalNorm) fold(*p.op, model.norm->weight, model.norm->bias);
  }
}

}  // namespace sct
