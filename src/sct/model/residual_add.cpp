#include "sct/model/residual_add.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include "sct/kernels/bf16_kernels.h"
#include "sct/model/frozen_linear.h"

namespace sct {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct ResidualAddFunction : torch::autograd::Function<ResidualAddFunction> {
  // bias optional (optional_arg).
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& branch,
                            const at::Tensor& bias) {
    ctx->saved_data["branch_dtype"] = static_cast<int64_t>(branch.scalar_type());
    ctx->saved_data["bias_dtype"] = static_cast<int64_t>(bias.scalar_type());
    return kernels::residual_add_bf16(x, branch, optional_value(bias));
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const at::Tensor& g = grads[0];
    at::Tensor grad_branch, grad_bias;
    if (ctx->needs_input_grad(1))
      grad_branch = g.to(static_cast<at::ScalarType>(ctx->saved_data["branch_dtype"].toInt()));
    if (ctx->needs_input_grad(2))
      grad_bias = bias_gradient(g, static_cast<at::ScalarType>(ctx->saved_data["bias_dtype"].toInt()));
    return {ctx->needs_input_grad(0) ? g : at::Tensor(), grad_branch, grad_bias};
  }
};

}  // namespace

at::Tensor residual_add(const at::Tensor& x, const at::Tensor& branch, const at::Tensor& bias) {
  const bool fused = x.is_cpu() && x.scalar_type() == at::kFloat && kernels::on_cpu_bf16(branch) &&
                     x.sizes() == branch.sizes();
  if (!fused) return bias.defined() ? x + (branch + bias) : x + branch;
  const bool tracked = at::GradMode::is_enabled() &&
                       (x.requires_grad() || branch.requires_grad() || (bias.defined() && bias.requires_grad()));
  if (!tracked) return kernels::residual_add_bf16(x.contiguous(), branch.contiguous(), bias);
  return ResidualAddFunction::apply(x.contiguous(), branch.contiguous(), optional_arg(bias, x.options()));
}

}  // namespace sct
