#include "sct/model/block.h"

#include "sct/core/error.h"
#include "sct/model/drop_path.h"
#include "sct/model/layer_norm.h"
#include "sct/model/recompute.h"

namespace sct {

BlockImpl::BlockImpl(const VitConfig& cfg, double drop_path_rate_) : drop_path_rate(drop_path_rate_) {
  const auto ln = torch::nn::LayerNormOptions({cfg.width}).eps(cfg.ln_eps);
  norm1 = register_module("norm1", torch::nn::LayerNorm(ln));
  attn = register_module("attn", Attention(cfg.width, cfg.heads));
  norm2 = register_module("norm2", torch::nn::LayerNorm(ln));
  mlp = register_module("mlp", Mlp(cfg.width, cfg.mlp_hidden()));
}

at::Tensor BlockImpl::forward(at::Tensor x) {
  if (recompute && is_training()) return recompute_in_backward(x, [this](const at::Tensor& in) { return compute(in); });
  return compute(std::move(x));
}

at::Tensor BlockImpl::compute(at::Tensor x) {
  x = hooks_(HookSite::BlockInput, x, x);
  const at::Tensor h1 = hooks_(HookSite::Norm1, x, layer_norm(x, norm1));
  const at::Tensor a = hooks_(HookSite::AttnBranch, x, attn(h1, hooks_));
  const at::Tensor x1 = hooks_(HookSite::AttnResidual, x, x + drop_path(a, drop_path_rate, is_training()));
  const at::Tensor h2 = hooks_(HookSite::Norm2, x1, layer_norm(x1, norm2));
  const at::Tensor m = hooks_(HookSite::MlpBranch, x1, mlp(h2, hooks_));
  const at::Tensor x2 = x1 + drop_path(m, drop_path_rate, is_training());
  return hooks_(HookSite::BlockOutput, x1, x2);
}

void BlockImpl::attach(const std::string& name, std::shared_ptr<BlockHookImpl> hook) {
  for (const auto& n : hook_names_)
    if (n == name) throw Error("a hook named '" + name + "' is already attached to this block");
  register_module(name, hook);
  hook->train(is_training());  // a new module trains by default; it joins in the mode of what it joins
  hooks_.add(std::move(hook));
  hook_names_.push_back(name);
}

void BlockImpl::detach_all() {
  for (const auto& n : hook_names_) unregister_module(n);
  hooks_.clear();
  hook_names_.clear();
}

}  // namespace sct
