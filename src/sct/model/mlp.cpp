#include "sct/model/mlp.h"

#include <ATen/ATen.h>

namespace sct {

MlpImpl::MlpImpl(int64_t width, int64_t hidden) {
  fc1 = register_module("fc1", torch::nn::Linear(width, hidden));
  fc2 = register_module("fc2", torch::nn::Linear(hidden, width));
}

at::Tensor MlpImpl::forward(const at::Tensor& x, const HookChain& hooks) {
  const at::Tensor h = at::gelu(hooks(HookSite::Fc1, x, fc1(x)));  // (B, N, hidden)
  return hooks(HookSite::Fc2, h, fc2(h));                          // (B, N, D)
}

}  // namespace sct
