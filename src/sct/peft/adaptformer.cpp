#include "sct/peft/adaptformer.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "sct/core/error.h"
#include "sct/model/batch_shard.h"

namespace sct {

AdaptFormerImpl::AdaptFormerImpl(int64_t width, int64_t hidden, double scale_, double dropout_,
                                 const at::TensorOptions& options)
    : scale(scale_), dropout(dropout_) {
  if (hidden < 1) throw Error("adaptformer: bottleneck must be >= 1, got " + std::to_string(hidden));
  if (!(dropout >= 0.0 && dropout < 1.0))
    throw Error("adaptformer: dropout must be in [0, 1), got " + std::to_string(dropout));
  down = register_module("down", torch::nn::Linear(width, hidden));
  up = register_module("up", torch::nn::Linear(hidden, width));
  torch::NoGradGuard no_grad;
  down->bias.zero_();
  up->weight.zero_();
  up->bias.zero_();
  to(options.device(), c10::typeMetaToScalarType(options.dtype()));
}

at::Tensor AdaptFormerImpl::apply(HookSite, const at::Tensor& input, at::Tensor output) {
  // input: x', the MLP's residual-stream input (B, N, D); output: x' + drop_path(mlp(norm2(x'))).
  at::Tensor h = at::relu(down(input));  // (B, N, hidden)
  // at::dropout's draws, over the global batch (batch_shard.h).
  if (is_training() && dropout > 0.0) h = h * keep_noise(h.sizes().vec(), 1.0 - dropout, h.options());
  return output + up(h) * scale;
}

}  // namespace sct
