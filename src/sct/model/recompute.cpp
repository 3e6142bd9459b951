#include "sct/model/recompute.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/utils.h>
#include <torch/csrc/autograd/grad_mode.h>
#ifdef SCT_WITH_CUDA
#include <ATen/cuda/CUDAGeneratorImpl.h>
#endif

#include "sct/core/error.h"
#include "sct/model/autocast.h"

namespace sct {
namespace {

at::Generator default_generator(const c10::Device& device) {
#ifdef SCT_WITH_CUDA
  if (device.is_cuda()) return at::cuda::detail::getDefaultCUDAGenerator(device.index());
#endif
  if (!device.is_cpu()) throw Error("recompute: no generator for device " + device.str());
  return at::detail::getDefaultCPUGenerator();
}

class RecomputeNode : public torch::autograd::Node {
 public:
  RecomputeNode(at::Tensor x, std::function<at::Tensor(const at::Tensor&)> step, at::Tensor rng_state,
                bool autocast)
      : x_(std::move(x)), step_(std::move(step)), rng_state_(std::move(rng_state)), autocast_(autocast) {}

  torch::autograd::variable_list apply(torch::autograd::variable_list&& grads) override {
    const at::Tensor x = x_.detach().requires_grad_(true);
    at::Tensor y;
    {
      at::Generator gen = default_generator(x.device());
      const at::Tensor now = gen.get_state();
      gen.set_state(rng_state_);
      torch::AutoGradMode grad(true);
      const AutocastGuard guard(x.device(), autocast_);
      y = step_(x);
      gen.set_state(now);  // the recompute must not change the draws of later steps
    }
    // Re-entrant backward: the step's trainable tensors accumulate their gradients here.
    torch::autograd::backward({y}, {grads[0]});
    return {x.grad()};
  }

  void release_variables() override {
    x_.reset();
    step_ = nullptr;
  }

 private:
  at::Tensor x_;
  std::function<at::Tensor(const at::Tensor&)> step_;
  at::Tensor rng_state_;
  bool autocast_;
};

}  // namespace

at::Tensor recompute_in_backward(const at::Tensor& x, std::function<at::Tensor(const at::Tensor&)> step) {
  if (!at::GradMode::is_enabled() || !x.requires_grad()) return step(x);
  const at::Tensor rng_state = default_generator(x.device()).get_state();
  const bool autocast = x.is_cuda() ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
  at::Tensor y;
  {
    torch::NoGradGuard no_grad;
    y = step(x);
  }
  auto node = std::make_shared<RecomputeNode>(x.detach(), std::move(step), rng_state, autocast);
  node->set_next_edges(torch::autograd::collect_next_edges(x));
  torch::autograd::set_history(y, node);
  return y;
}

}  // namespace sct
