#include "sct/model/layer_norm.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include "sct/kernels/bf16_kernels.h"
#include "sct/model/autocast.h"

namespace sct {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The fused kernel takes fp32 rows on the CPU and writes bf16 (output and x̂) in one pass.
bool fused_bf16(const at::Tensor& x) { return x.is_cpu() && x.scalar_type() == at::kFloat; }

// Outputs: y, and x itself as the stream that flows on past the norm (see layer_norm_of_stream).
struct LayerNormFunction : torch::autograd::Function<LayerNormFunction> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight,
                               const at::Tensor& bias, double eps, bool bf16_output) {
    at::Tensor y, x_hat, rstd;
    if (bf16_output) {
      std::tie(y, x_hat, rstd) = kernels::layer_norm_bf16(x.contiguous(), weight, bias, eps, /*keep_x_hat=*/true);
    } else {
      const int64_t d = x.size(-1);
      at::Tensor mean;
      std::tie(y, mean, rstd) = at::native_layer_norm(x, {d}, weight, bias, eps);
      std::vector<int64_t> stat_shape(x.sizes().begin(), x.sizes().end());
      stat_shape.back() = 1;
      rstd = rstd.reshape(stat_shape);
      // Row-major whatever x's layout (a Swin's transposed patch tokens): the backward kernel walks rows.
      x_hat = ((x - mean.reshape(stat_shape)) * rstd).to(pass_dtype(x)).contiguous();
    }
    ctx->save_for_backward({x_hat, rstd, weight});
    ctx->saved_data["x_dtype"] = static_cast<int64_t>(x.scalar_type());
    return {y, x};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const at::Tensor& grad_stream = grads[1];  // undefined where nothing used the stream output
    if (!grads[0].defined()) return {grad_stream, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor &x_hat_kept = saved[0], &rstd = saved[1], &weight = saved[2];
    const auto x_dtype = static_cast<at::ScalarType>(ctx->saved_data["x_dtype"].toInt());
    // Backward arithmetic in fp32 at least (in the statistics' dtype), whatever x̂ was kept in.
    const at::ScalarType acc = rstd.scalar_type();
    const int64_t d = x_hat_kept.size(-1);
    at::Tensor grad_x, grad_w, grad_b;
    if (ctx->needs_input_grad(0)) {
      if (kernels::on_cpu_bf16(x_hat_kept) && acc == at::kFloat && x_dtype == at::kFloat) {
        grad_x = kernels::layer_norm_backward_bf16(grads[0], x_hat_kept, rstd, weight, grad_stream);
      } else {
        const at::Tensor x_hat = x_hat_kept.to(acc), g = grads[0].to(acc);
        const at::Tensor gw = g * weight.to(acc);
        const at::Tensor mean_g = gw.mean(-1, /*keepdim=*/true);
        const at::Tensor mean_gx = (gw * x_hat).mean(-1, /*keepdim=*/true);
        grad_x = ((gw - mean_g - x_hat * mean_gx) * rstd).to(x_dtype);
        if (grad_stream.defined()) grad_x = grad_x + grad_stream;
      }
    }
    if (ctx->needs_input_grad(1) || ctx->needs_input_grad(2)) {
      const at::Tensor g = grads[0].to(acc).reshape({-1, d});
      if (ctx->needs_input_grad(1)) grad_w = (g * x_hat_kept.to(acc).reshape({-1, d})).sum(0).to(weight.scalar_type());
      if (ctx->needs_input_grad(2)) grad_b = g.sum(0).to(weight.scalar_type());
    }
    return {grad_x, grad_w, grad_b, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

std::pair<at::Tensor, at::Tensor> layer_norm_of_stream(const at::Tensor& x, const torch::nn::LayerNorm& m,
                                                       bool feeds_gemm_only) {
  const double eps = m->options.eps();
  const bool bf16_pass = pass_dtype(x) == at::kBFloat16 && x.scalar_type() != at::kBFloat16;
  const bool bf16_output = feeds_gemm_only && bf16_pass && fused_bf16(x);
  const bool tracked = at::GradMode::is_enabled() &&
                       (x.requires_grad() || m->weight.requires_grad() || m->bias.requires_grad());
  if (bf16_output && !tracked)
    return {std::get<0>(kernels::layer_norm_bf16(x.contiguous(), m->weight, m->bias, eps, /*keep_x_hat=*/false)), x};
  // Keeping x̂ instead of x saves memory only when the pass is narrower than x; otherwise LibTorch's fused
  // kernels are faster than this one's unfused backward.
  if (!tracked || !bf16_pass) return {at::layer_norm(x, {x.size(-1)}, m->weight, m->bias, eps), x};
  const variable_list out = LayerNormFunction::apply(x, m->weight, m->bias, eps, bf16_output);
  return {out[0], out[1]};
}

at::Tensor layer_norm(const at::Tensor& x, const torch::nn::LayerNorm& m, bool feeds_gemm_only) {
  return layer_norm_of_stream(x, m, feeds_gemm_only).first;
}

}  // namespace sct
