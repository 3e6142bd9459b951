// down -> GELU -> up, the bottleneck MLP of Adapter (Houlsby et al. 2019). The up-projection starts at
// zero, so a new bottleneck adds nothing until trained.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

namespace sct {

class BottleneckImpl : public torch::nn::Module {
 public:
  // down: PyTorch's default Linear init; up: zeros.
  BottleneckImpl(int64_t width, int64_t hidden, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);  // (..., D) -> (..., D)

  torch::nn::Linear down{nullptr}, up{nullptr};
};
TORCH_MODULE(Bottleneck);

}  // namespace sct
