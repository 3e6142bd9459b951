#include "sct/model/frozen_linear.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include "sct/kernels/bf16_kernels.h"
#include "sct/model/autocast.h"

namespace sct {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

at::Tensor compute(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  const auto dtype = weight.scalar_type();
  return at::linear(x.to(dtype), weight, bias.defined() ? bias.to(dtype) : bias);
}

struct FrozenLinearFunction : torch::autograd::Function<FrozenLinearFunction> {
  // bias and weight_t optional (optional_arg): weight_t is W transposed, (in, out), to multiply with
  // in backward, or none to use W itself.
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight,
                            const at::Tensor& bias, const at::Tensor& weight_t) {
    const at::Tensor transposed = optional_value(weight_t);
    ctx->save_for_backward({transposed.defined() ? transposed : weight});
    ctx->saved_data["transposed"] = transposed.defined();
    ctx->saved_data["x_dtype"] = static_cast<int64_t>(x.scalar_type());
    ctx->saved_data["bias_dtype"] = static_cast<int64_t>(bias.scalar_type());
    return compute(x, weight, optional_value(bias));
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const at::Tensor kept = ctx->get_saved_variables()[0];
    const at::Tensor weight = ctx->saved_data["transposed"].toBool() ? kept.t() : kept;  // (out, in)
    const at::Tensor& g = grads[0];  // (..., out)
    at::Tensor grad_x, grad_bias;
    if (ctx->needs_input_grad(0))
      grad_x = at::matmul(g.to(weight.scalar_type()), weight)
                   .to(static_cast<at::ScalarType>(ctx->saved_data["x_dtype"].toInt()));
    if (ctx->needs_input_grad(2))
      grad_bias = bias_gradient(g, static_cast<at::ScalarType>(ctx->saved_data["bias_dtype"].toInt()));
    return {grad_x, at::Tensor(), grad_bias, at::Tensor()};
  }
};

}  // namespace

at::Tensor bias_gradient(const at::Tensor& g, at::ScalarType dtype) {
  return g.reshape({-1, g.size(-1)}).sum(0, /*keepdim=*/false, at::promote_types(g.scalar_type(), at::kFloat)).to(dtype);
}

bool bias_deferrable(const torch::nn::Linear& m, const at::Tensor& x) {
  // Whatever trains (the weight under full fine-tuning, the bias under bias tuning): a task folder
  // evaluated later, all frozen, must compute exactly as the run did.
  return m->bias.defined() && x.is_cpu() && pass_dtype(x) == at::kBFloat16;
}

const at::Tensor& TransposedWeight::of(const at::Tensor& weight) {
  // The data pointer, not the tensor: set_precision swaps a parameter's data in place.
  if (weight.data_ptr() != source_ || weight._version() != version_ || !transposed_.defined()) {
    transposed_ = weight.detach().t().contiguous();
    source_ = weight.data_ptr();
    version_ = weight._version();
  }
  return transposed_;
}

at::Tensor frozen_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                         TransposedWeight* for_backward) {
  if (weight.requires_grad()) return at::linear(x, weight, bias);
  if (!at::GradMode::is_enabled()) return compute(x, weight, bias);
  const bool transpose = for_backward && x.requires_grad() && kernels::on_cpu_bf16(weight);
  return FrozenLinearFunction::apply(x, weight, optional_arg(bias, weight.options()),
                                     optional_arg(transpose ? for_backward->of(weight) : at::Tensor(), weight.options()));
}

}  // namespace sct
