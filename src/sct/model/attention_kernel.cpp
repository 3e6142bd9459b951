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

// The (3, B, H, Np, hd) layout holds Np >= N token rows per head: on the CPU bf16 pass N rounded up to a
// multiple of 16, with zero rows, because oneDNN's AMX bf16 batched GEMMs run 16-row tiles: at ViT-B's
// N = 197, q k^T and p v ran at 517 and 621 GFLOPS against 832 and 1058 for N = 208 (batch 16, 2 threads,
// AMX Xeon). The softmax gives the padding probability 0, so it adds nothing to the real rows.
int64_t padded_tokens(int64_t tokens, bool cpu_bf16) { return cpu_bf16 ? (tokens + 15) / 16 * 16 : tokens; }

// (B, N, 3D) + bias -> contiguous (3, B, H, Np, hd) in `dtype`.
at::Tensor split_heads(const at::Tensor& qkv, const at::Tensor& bias, int64_t heads, at::ScalarType dtype) {
  const int64_t B = qkv.size(0), N = qkv.size(1), hd = qkv.size(2) / (3 * heads);
  if (dtype == at::kBFloat16 && kernels::on_cpu_bf16(qkv))
    return kernels::split_heads_bf16(qkv.contiguous(), bias, 3, heads, padded_tokens(N, true));
  const at::Tensor biased = bias.defined() ? qkv + bias : qkv;
  return biased.to(dtype).view({B, N, 3, heads, hd}).permute({2, 0, 3, 1, 4}).contiguous();
}

// (P, B, H, Np, hd) -> (B, N, P * H * hd)
at::Tensor merge_heads(const at::Tensor& t, int64_t tokens) {
  if (kernels::on_cpu_bf16(t)) return kernels::merge_heads_bf16(t.contiguous(), tokens);
  return t.narrow(3, 0, tokens).permute({1, 3, 0, 2, 4}).reshape({t.size(1), tokens, t.size(0) * t.size(2) * t.size(4)});
}

double scale_of(const at::Tensor& q) { return 1.0 / std::sqrt(double(q.size(-1))); }

// softmax(scale q k^T), (B, H, Np, Np); the first `tokens` rows and columns real.
at::Tensor probabilities(const at::Tensor& q, const at::Tensor& k, int64_t tokens) {
  const double scale = scale_of(q);
  if (kernels::on_cpu_bf16(q)) return kernels::scaled_softmax_bf16(at::matmul(q, k.transpose(-2, -1)), scale, tokens);
  return at::matmul(q * scale, k.transpose(-2, -1)).softmax(-1);
}

// d loss / d (q k^T), the scale included, from d loss / d p.
at::Tensor scores_grad(const at::Tensor& grad_p, const at::Tensor& p, double scale) {
  if (kernels::on_cpu_bf16(p)) return kernels::scaled_softmax_backward_bf16(grad_p, p, scale);
  return at::_softmax_backward_data(grad_p, p, -1, p.scalar_type()).mul_(scale);
}

// Whether backward gets the forward's probabilities kept (bf16 on the CPU) or recomputes them from q and k
// (fp32). Kept, they are 3.1 (B, N, D) activations in bf16, a third of what a ViT-B block keeps, and
// save a q k^T GEMM and a softmax per block: 4% of a batch-16 and 9% of a batch-64 SCT training step
// (AMX Xeon). In fp32 they would cost twice the memory, and the fp32 GEMMs around them make the
// recompute a smaller part of the step. `--recompute` keeps neither (model/recompute.h).
bool keeps_probabilities(const at::Tensor& qkv_heads) { return kernels::on_cpu_bf16(qkv_heads); }

// p v, heads merged: (B, N, H * hd).
at::Tensor context(const at::Tensor& p, const at::Tensor& v, int64_t tokens) {
  return merge_heads(at::matmul(p, v).unsqueeze(0), tokens);
}

// (3, B, H, Np, hd) -> (B, N, H * hd): the forward, with or without autograd.
at::Tensor attend(const at::Tensor& qkv_heads, int64_t tokens) {
  return context(probabilities(qkv_heads[0], qkv_heads[1], tokens), qkv_heads[2], tokens);
}

struct AttentionFunction : torch::autograd::Function<AttentionFunction> {
  // bias optional (optional_arg).
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& qkv, const at::Tensor& bias, int64_t heads) {
    // In the pass's dtype, as autocast would cast them, so that backward (which runs outside autocast)
    // recomputes exactly the forward's probabilities.
    const at::Tensor qkv_heads = split_heads(qkv, optional_value(bias), heads, pass_dtype(qkv));
    const int64_t tokens = qkv.size(1);
    ctx->saved_data["tokens"] = tokens;
    ctx->saved_data["qkv_dtype"] = static_cast<int64_t>(qkv.scalar_type());
    ctx->saved_data["bias_dtype"] = static_cast<int64_t>(bias.scalar_type());
    if (!keeps_probabilities(qkv_heads)) {
      ctx->save_for_backward({qkv_heads});
      return attend(qkv_heads, tokens);
    }
    const at::Tensor p = probabilities(qkv_heads[0], qkv_heads[1], tokens);
    ctx->save_for_backward({qkv_heads, p});
    return context(p, qkv_heads[2], tokens);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor& qkv_heads = saved[0];
    const at::Tensor q = qkv_heads[0], k = qkv_heads[1], v = qkv_heads[2];  // (B, H, Np, hd)
    const int64_t B = q.size(0), H = q.size(1), Np = q.size(2), hd = q.size(3);
    const int64_t N = ctx->saved_data["tokens"].toInt();
    // dL/d context in the heads layout, (B, H, Np, hd), zero in the pad rows.
    const at::Tensor g = kernels::on_cpu_bf16(v)
                             ? kernels::split_heads_bf16(grads[0].to(at::kBFloat16).contiguous(), {}, 1, H, Np)[0]
                             : grads[0].to(v.scalar_type()).view({B, N, H, hd}).transpose(1, 2).contiguous();
    const at::Tensor p = saved.size() > 1 ? saved[1] : probabilities(q, k, N);  // recomputed: bit for bit
    const at::Tensor grad_scores = scores_grad(at::matmul(g, v.transpose(-2, -1)), p, scale_of(q));
    // Written straight into the slices of one (3, B, H, Np, hd) tensor, batched over B * H.
    const at::Tensor grad_heads = at::empty_like(qkv_heads);
    const auto batched = [&](const at::Tensor& t) { return t.reshape({B * H, t.size(-2), t.size(-1)}); };
    at::Tensor grad_q = grad_heads[0].view({B * H, Np, hd}), grad_k = grad_heads[1].view({B * H, Np, hd}),
               grad_v = grad_heads[2].view({B * H, Np, hd});
    at::bmm_out(grad_q, batched(grad_scores), batched(k));
    at::bmm_out(grad_k, batched(grad_scores).transpose(1, 2), batched(q));
    at::bmm_out(grad_v, batched(p).transpose(1, 2), batched(g));
    const at::Tensor grad_qkv = merge_heads(grad_heads, N);
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
  return attend(split_heads(qkv, qkv_bias, heads, pass_dtype(qkv)), qkv.size(1));
}

}  // namespace sct
