#include "sct/model/layer_norm.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include "sct/model/autocast.h"

namespace sct {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct LayerNormFunction : torch::autograd::Function<LayerNormFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight,
                            const at::Tensor& bias, double eps) {
    const int64_t d = x.size(-1);
    auto [y, mean, rstd] = at::native_layer_norm(x, {d}, weight, bias, eps);
    std::vector<int64_t> stat_shape(x.sizes().begin(), x.sizes().end());
    stat_shape.back() = 1;
    mean = mean.reshape(stat_shape);
    rstd = rstd.reshape(stat_shape);
    const at::Tensor x_hat = ((x - mean) * rstd).to(pass_dtype(x));
    ctx->save_for_backward({x_hat, rstd, weight});
    ctx->saved_data["x_dtype"] = static_cast<int64_t>(x.scalar_type());
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor &rstd = saved[1], &weight = saved[2];
    // Backward arithmetic in fp32 at least (in the statistics' dtype), whatever x̂ was kept in.
    const at::ScalarType acc = rstd.scalar_type();
    const at::Tensor x_hat = saved[0].to(acc), g = grads[0].to(acc);  // (..., D)
    const int64_t d = g.size(-1);
    at::Tensor grad_x, grad_w, grad_b;
    if (ctx->needs_input_grad(0)) {
      const at::Tensor gw = g * weight.to(acc);
      const at::Tensor mean_g = gw.mean(-1, /*keepdim=*/true);
      const at::Tensor mean_gx = (gw * x_hat).mean(-1, /*keepdim=*/true);
      grad_x = ((gw - mean_g - x_hat * mean_gx) * rstd)
                   .to(static_cast<at::ScalarType>(ctx->saved_data["x_dtype"].toInt()));
    }
    if (ctx->needs_input_grad(1)) grad_w = (g * x_hat).reshape({-1, d}).sum(0).to(weight.scalar_type());
    if (ctx->needs_input_grad(2)) grad_b = g.reshape({-1, d}).sum(0).to(weight.scalar_type());
    return {grad_x, grad_w, grad_b, at::Tensor()};
  }
};

}  // namespace

at::Tensor layer_norm(const at::Tensor& x, const torch::nn::LayerNorm& m) {
  const double eps = m->options.eps();
  // Keeping x̂ instead of x saves memory only when the pass is narrower than x; otherwise LibTorch's fused
  // kernels are faster than this one's unfused backward.
  if (!at::GradMode::is_enabled() || pass_dtype(x) == x.scalar_type())
    return at::layer_norm(x, {x.size(-1)}, m->weight, m->bias, eps);
  return LayerNormFunction::apply(x, m->weight, m->bias, eps);
}

}  // namespace sct
