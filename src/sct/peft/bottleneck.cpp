#include "sct/peft/bottleneck.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "sct/core/error.h"

namespace sct {

BottleneckImpl::BottleneckImpl(int64_t width, int64_t hidden, const at::TensorOptions& options) {
  if (hidden < 1) throw Error("bottleneck size must be >= 1, got " + std::to_string(hidden));
  down = register_module("down", torch::nn::Linear(width, hidden));
  up = register_module("up", torch::nn::Linear(hidden, width));
  torch::NoGradGuard no_grad;
  up->weight.zero_();
  up->bias.zero_();
  to(options.device(), c10::typeMetaToScalarType(options.dtype()));
}

at::Tensor BottleneckImpl::forward(const at::Tensor& x) { return up(at::gelu(down(x))); }

}  // namespace sct
