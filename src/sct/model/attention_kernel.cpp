#include "sct/model/attention_kernel.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>

#include "sct/kernels/bf16_kernels.h"
#include "sct/model/autocast.h"
#include "sct/model/frozen_linear.h"

namespace sct {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// (B, N, 3D) + bias -> contiguous (3, B, H, N, hd) in `dtype`.
at::Tensor split_heads(const at::Tensor& qkv, const at::Tensor& bias, int64_t heads, at::ScalarType dtype) {
  if (dtype == at::kBFloat16 && kernels::on_cpu_bf16(qkv)) return kernels::split_heads_bf16(qkv.contiguous(), bias, heads);
  const int64_t B = qkv.size(0), N = qkv.size(1), hd = qkv.size(2) / (3 * heads);
  const at::Tensor biased = bias.defined() ? qkv + bias : qkv;
  return biased.to(dtype).view({B, N, 3, heads, hd}).permute({2, 0, 3, 1, 4}).contiguous();
}

// (B, H, N, hd) -> (B, N, H * hd)
at::Tensor merge_heads(const at::Tensor& t) {
  return t.transpose(1, 2).reshape({t.size(0), t.size(2), t.size(1) * t.size(3)});
}

double scale_of(const at::Tensor& q) { return 1.0 / std::sqrt(double(q.size(-1))); }

// softmax(scale q k^T), (B, H, N, N).
at::Tensor probabilities(const at::Tensor& q, const at::Tensor& k) {
  const double scale = scale_of(q);
  if (kernels::on_cpu_bf16(q)) return kernels::scaled_softmax_bf16(at::matmul(q, k.transpose(-2, -1)), scale);
  return at::matmul(q * scale, k.transpose(-2, -1)).softmax(-1);
}

// d loss / d (q k^T), the scale included, from d loss / d p.
at::Tensor scores_grad(const at::Tensor& grad_p, const at::Tensor& p, double scale) {
  if (kernels::on_cpu_bf16(p)) return kernels::scaled_softmax_backward_bf16(grad_p, p, scale);
  return at::_softmax_backward_data(grad_p, p, -1, p.scalar_type()).mul_(scale);
}

// (3, B, H, N, hd) -> (B, N, H * hd): the forward, with or without autograd.
at::Tensor attend(const at::Tensor& qkv_heads) {
  return merge_heads(at::matmul(probabilities(qkv_heads[0], qkv_heads[1]), qkv_heads[2]));
}

struct AttentionFunction : torch::autograd::Function<AttentionFunction> {
  // bias optional (optional_arg).
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& qkv, const at::Tensor& bias, int64_t heads) {
    // In the pass's dtype, as autocast would cast them, so that backward (which runs outside autocast)
    // recomputes exactly the forward's probabilities.
    const at::Tensor qkv_heads = split_heads(qkv, optional_value(bias), heads, pass_dtype(qkv));
    ctx->save_for_backward({qkv_heads});
    ctx->saved_data["qkv_dtype"] = static_cast<int64_t>(qkv.scalar_type());
    ctx->saved_data["bias_dtype"] = static_cast<int64_t>(bias.scalar_type());
    return attend(qkv_heads);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const at::Tensor qkv_heads = ctx->get_saved_variables()[0];
    const at::Tensor q = qkv_heads[0], k = qkv_heads[1], v = qkv_heads[2];  // (B, H, N, hd)
    const int64_t B = q.size(0), H = q.size(1), N = q.size(2), hd = q.size(3);
    // dL/d context, (B, H, N, hd)
    const at::Tensor g = grads[0].to(v.scalar_type()).view({B, N, H, hd}).transpose(1, 2).contiguous();
    const at::Tensor p = probabilities(q, k);  // as in forward, bit for bit
    const at::Tensor grad_scores = scores_grad(at::matmul(g, v.transpose(-2, -1)), p, scale_of(q));
    // Written straight into the slices of one (3, B, H, N, hd) tensor, batched over B * H.
    const at::Tensor grad_heads = at::empty_like(qkv_heads);
    const auto batched = [&](const at::Tensor& t) { return t.reshape({B * H, t.size(-2), t.size(-1)}); };
    at::Tensor grad_q = grad_heads[0].view({B * H, N, hd}), grad_k = grad_heads[1].view({B * H, N, hd}),
               grad_v = grad_heads[2].view({B * H, N, hd});
    at::bmm_out(grad_q, batched(grad_scores), batched(k));
    at::bmm_out(grad_k, batched(grad_scores).transpose(1, 2), batched(q));
    at::bmm_out(grad_v, batched(p).transpose(1, 2), batched(g));
    const at::Tensor grad_qkv = grad_heads.permute({1, 3, 0, 2, 4}).reshape({B, N, 3 * H * hd});
    at::Tensor grad_bias;
    if (ctx->needs_input_grad(1))
      grad_bias = bias_gradient(grad_qkv, static_cast<at::ScalarType>(ctx->saved_data["bias_dtype"].toInt()));
    return {grad_qkv.to(static_cast<at::ScalarType>(ctx->saved_data["qkv_dtype"].toInt())), grad_bias, at::Tensor()};
  }
};

}  // namespace

at::Tensor multi_head_attention(const at::Tensor& qkv, const at::Tensor& qkv_bias, int64_t heads) {
  if (at::GradMode::is_enabled() && (qkv.requires_grad() || (qkv_bias.defined() && qkv_bias.requires_grad())))
    return AttentionFunction::apply(qkv, optional_arg(qkv_bias, qkv.options()), heads);
  return attend(split_heads(qkv, qkv_bias, heads, pass_dtype(qkv)));
}

}  // namespace sct
