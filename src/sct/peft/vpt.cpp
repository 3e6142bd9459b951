#include "sct/peft/vpt.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <cmath>

#include "sct/core/error.h"

namespace sct {

VptImpl::VptImpl(int64_t width, int64_t patch_size, int64_t length, const at::TensorOptions& options) {
  if (length < 1) throw Error("vpt: prompt length must be >= 1, got " + std::to_string(length));
  prompts = register_parameter("prompts", at::empty({length, width}, options));
  torch::NoGradGuard no_grad;
  const double v = std::sqrt(6.0 / double(3 * patch_size * patch_size + width));
  prompts.uniform_(-v, v);
}

at::Tensor VptImpl::apply(HookSite site, const at::Tensor&, at::Tensor x) {  // x: (B, N(+P), D)
  const int64_t p = prompts.size(0);
  if (site == HookSite::BlockInput)
    return at::cat(
        {x.narrow(1, 0, 1), prompts.unsqueeze(0).expand({x.size(0), p, x.size(2)}), x.narrow(1, 1, x.size(1) - 1)}, 1);
  return at::cat({x.narrow(1, 0, 1), x.narrow(1, 1 + p, x.size(1) - 1 - p)}, 1);
}

}  // namespace sct
