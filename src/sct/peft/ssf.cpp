#include "sct/peft/ssf.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "sct/model/block.h"

namespace sct {

ScaleShiftImpl::ScaleShiftImpl(int64_t width, const at::TensorOptions& options) {
  scale = register_parameter("scale", at::empty({width}, options));
  shift = register_parameter("shift", at::empty({width}, options));
  torch::NoGradGuard no_grad;
  scale.normal_(1.0, 0.02);
  shift.normal_(0.0, 0.02);
}

SsfImpl::SsfImpl(int64_t width, int64_t hidden, const at::TensorOptions& options) {
  const std::pair<const char*, HookSite> sites[] = {{"norm1", HookSite::Norm1},   {"qkv", HookSite::Qkv},
                                                    {"proj", HookSite::AttnProj}, {"norm2", HookSite::Norm2},
                                                    {"fc1", HookSite::Fc1},       {"fc2", HookSite::Fc2}};
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

}  // namespace sct

namespace sct {

void SsfImpl::merge_into(BlockImpl& block) {
  torch::NoGradGuard no_grad;
  for (const auto& p : parts) {
    at::Tensor weight, bias;
    switch (p.site) {
      case HookSite::Norm1:
        weight = block.norm1->weight, bias = block.norm1->bias;
        break;
      case HookSite::Qkv:
        weight = block.attn->qkv->weight, bias = block.attn->qkv->bias;
        break;
      case HookSite::AttnProj:
        weight = block.attn->proj->weight, bias = block.attn->proj->bias;
        break;
      case HookSite::Norm2:
        weight = block.norm2->weight, bias = block.norm2->bias;
        break;
      case HookSite::Fc1:
        weight = block.mlp->fc1->weight, bias = block.mlp->fc1->bias;
        break;
      case HookSite::Fc2:
        weight = block.mlp->fc2->weight, bias = block.mlp->fc2->bias;
        break;
      default:
        continue;
    }
    // (out, in) linear weights scale by row; LayerNorm weights are (D) like the scale.
    weight.mul_(weight.dim() == 2 ? p.op->scale.unsqueeze(1) : p.op->scale);
    bias.mul_(p.op->scale).add_(p.op->shift);
  }
}

}  // namespace sct
