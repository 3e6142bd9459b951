#include "sct/model/attention.h"

#include <ATen/ATen.h>
#include <torch/version.h>

#include "sct/model/attention_kernel.h"
#include "sct/model/frozen_linear.h"

namespace sct {

AttentionImpl::AttentionImpl(int64_t width, int64_t heads_) : heads(heads_) {
  qkv = register_module("qkv", torch::nn::Linear(torch::nn::LinearOptions(width, 3 * width).bias(true)));
  proj = register_module("proj", torch::nn::Linear(width, width));
}

at::Tensor AttentionImpl::forward(const at::Tensor& x, const HookChain& hooks, bool defer_proj_bias) {
  const at::Tensor proj_bias = defer_proj_bias ? at::Tensor() : proj->bias;
#if TORCH_VERSION_MAJOR >= 2
  const at::Tensor qkv_out = hooks(HookSite::Qkv, x, frozen_linear(x, qkv, &qkv_t_));  // (B, N, 3D)
  // Fused kernels (flash / memory-efficient) where the build has them.
  const int64_t B = x.size(0), N = x.size(1), D = x.size(2), hd = D / heads;
  const at::Tensor parts = qkv_out.reshape({B, N, 3, heads, hd}).permute({2, 0, 3, 1, 4});
  const at::Tensor merged =
      at::scaled_dot_product_attention(parts[0], parts[1], parts[2]).transpose(1, 2).reshape({B, N, D});
#else
  // Where no hook reads qkv's output, its bias goes into the head split's pass.
  const bool split_adds_bias = !hooks.has(HookSite::Qkv) && bias_deferrable(qkv, x);
  const at::Tensor qkv_bias = split_adds_bias ? qkv->bias : at::Tensor();
  const at::Tensor qkv_out =
      hooks(HookSite::Qkv, x, frozen_linear(x, qkv->weight, split_adds_bias ? at::Tensor() : qkv->bias, &qkv_t_));
  const at::Tensor merged = multi_head_attention(qkv_out, qkv_bias, heads);  // (B, N, D)
#endif
  return hooks(HookSite::AttnProj, merged, frozen_linear(merged, proj->weight, proj_bias, &proj_t_));
}

}  // namespace sct
