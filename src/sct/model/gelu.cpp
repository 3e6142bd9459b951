#include "sct/model/gelu.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include "sct/kernels/bf16_kernels.h"

namespace sct {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct GeluFunction : torch::autograd::Function<GeluFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& h) {
    ctx->save_for_backward({h});
    return at::gelu(h);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return {kernels::gelu_backward_bf16(grads[0], ctx->get_saved_variables()[0])};
  }
};

}  // namespace

at::Tensor gelu(const at::Tensor& h) {
  if (!kernels::on_cpu_bf16(h) || !at::GradMode::is_enabled() || !h.requires_grad()) return at::gelu(h);
  return GeluFunction::apply(h.contiguous());
}

}  // namespace sct
