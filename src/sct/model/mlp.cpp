#include "sct/model/mlp.h"

#include <ATen/ATen.h>

#include "sct/model/bias_gelu.h"
#include "sct/model/frozen_linear.h"

namespace sct {

MlpImpl::MlpImpl(int64_t width, int64_t hidden) {
  fc1 = register_module("fc1", torch::nn::Linear(width, hidden));
  fc2 = register_module("fc2", torch::nn::Linear(hidden, width));
}

at::Tensor MlpImpl::forward(const at::Tensor& x, const HookChain& hooks, bool defer_fc2_bias) {
  // Where no hook reads fc1's output, its bias joins GELU's pass.
  const at::Tensor h = !hooks.has(HookSite::Fc1) && bias_deferrable(fc1, x)
                           ? bias_gelu(frozen_linear(x, fc1->weight, {}, &fc1_t_), fc1->bias)
                           : at::gelu(hooks(HookSite::Fc1, x, frozen_linear(x, fc1, &fc1_t_)));  // (B, N, hidden)
  return hooks(HookSite::Fc2, h, frozen_linear(h, fc2->weight, defer_fc2_bias ? at::Tensor() : fc2->bias, &fc2_t_));
}

}  // namespace sct
