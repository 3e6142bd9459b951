#include "sct/model/bias_gelu.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include "sct/kernels/bf16_kernels.h"
#include "sct/model/frozen_linear.h"

namespace sct {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct BiasGeluFunction : torch::autograd::Function<BiasGeluFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& h, const at::Tensor& bias) {
    at::Tensor u;
    const at::Tensor y = kernels::bias_gelu_bf16(h, bias, &u);
    ctx->save_for_backward({u});
    ctx->saved_data["bias_dtype"] = static_cast<int64_t>(bias.scalar_type());
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const at::Tensor u = ctx->get_saved_variables()[0];
    const at::Tensor grad_u = kernels::gelu_backward_bf16(grads[0], u);
    at::Tensor grad_bias;
    if (ctx->needs_input_grad(1))
      grad_bias = bias_gradient(grad_u, static_cast<at::ScalarType>(ctx->saved_data["bias_dtype"].toInt()));
    return {grad_u, grad_bias};
  }
};

}  // namespace

at::Tensor bias_gelu(const at::Tensor& h, const at::Tensor& bias) {
  if (!kernels::on_cpu_bf16(h)) return at::gelu(h + bias);
  const bool tracked = at::GradMode::is_enabled() && (h.requires_grad() || bias.requires_grad());
  if (!tracked) return kernels::bias_gelu_bf16(h.contiguous(), bias, nullptr);
  return BiasGeluFunction::apply(h.contiguous(), bias);
}

}  // namespace sct
