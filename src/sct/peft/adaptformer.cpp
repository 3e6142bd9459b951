#include "sct/peft/adaptformer.h"

#include <ATen/ATen.h>

namespace sct {

AdaptFormerImpl::AdaptFormerImpl(int64_t width, int64_t hidden, double scale_, const at::TensorOptions& options)
    : scale(scale_) {
  bottleneck = Bottleneck(width, hidden, BottleneckImpl::Activation::Relu, options);
  // Registered as the hook's own children so the tensors read adaptformer.down.*, adaptformer.up.*.
  register_module("down", bottleneck->down);
  register_module("up", bottleneck->up);
}

at::Tensor AdaptFormerImpl::apply(HookSite, const at::Tensor& input, at::Tensor output) {
  return output + bottleneck(input) * scale;  // input: x', the MLP's residual-stream input
}

}  // namespace sct
