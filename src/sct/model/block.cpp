#include "sct/model/block.h"

#include "sct/model/drop_path.h"
#include "sct/model/frozen_linear.h"
#include "sct/model/layer_norm.h"
#include "sct/model/recompute.h"
#include "sct/model/residual_add.h"

#include <tuple>

namespace sct {

BlockImpl::BlockImpl(const VitConfig& cfg, double drop_path_rate_)
    : BlockImpl(cfg.width, cfg.mlp_hidden(), cfg.ln_eps, drop_path_rate_, Attention(cfg.width, cfg.heads)) {}

BlockImpl::BlockImpl(int64_t width, int64_t mlp_hidden, double ln_eps, double drop_path_rate_, Attention attention)
    : drop_path_rate(drop_path_rate_) {
  const auto ln = torch::nn::LayerNormOptions({width}).eps(ln_eps);
  norm1 = register_module("norm1", torch::nn::LayerNorm(ln));
  attn = register_module("attn", std::move(attention));
  norm2 = register_module("norm2", torch::nn::LayerNorm(ln));
  mlp = register_module("mlp", Mlp(width, mlp_hidden));
}

at::Tensor BlockImpl::forward(at::Tensor x) {
  if (recompute && is_training()) return recompute_in_backward(x, [this](const at::Tensor& in) { return compute(in); });
  return compute(std::move(x));
}

at::Tensor BlockImpl::compute(at::Tensor x) {
  const HookChain& hooks = hooks_.chain();
  x = hooks(HookSite::BlockInput, x, x);
  at::Tensor h1;
  std::tie(h1, x) = layer_norm_of_stream(x, norm1, !hooks.has(HookSite::Norm1));
  h1 = hooks(HookSite::Norm1, x, h1);
  // proj's and fc2's biases join the residual add's pass where nothing sees the branch before it.
  const bool drops = drop_path_rate > 0 && is_training();
  const bool defer_proj = !drops && !hooks.has(HookSite::AttnProj) && !hooks.has(HookSite::AttnBranch) &&
                          bias_deferrable(attn->proj, x);
  const bool defer_fc2 = !drops && !hooks.has(HookSite::Fc2) && !hooks.has(HookSite::MlpBranch) &&
                         bias_deferrable(mlp->fc2, x);
  const at::Tensor a = hooks(HookSite::AttnBranch, x, attn(h1, hooks, defer_proj));
  at::Tensor x1 = hooks(HookSite::AttnResidual, x,
                        residual_add(x, drop_path(a, drop_path_rate, is_training()),
                                     defer_proj ? attn->proj->bias : at::Tensor()));
  at::Tensor h2;
  std::tie(h2, x1) = layer_norm_of_stream(x1, norm2, !hooks.has(HookSite::Norm2));
  h2 = hooks(HookSite::Norm2, x1, h2);
  const at::Tensor m = hooks(HookSite::MlpBranch, x1, mlp(h2, hooks, defer_fc2));
  const at::Tensor x2 = residual_add(x1, drop_path(m, drop_path_rate, is_training()),
                                     defer_fc2 ? mlp->fc2->bias : at::Tensor());
  return hooks(HookSite::BlockOutput, x1, x2);
}

}  // namespace sct
