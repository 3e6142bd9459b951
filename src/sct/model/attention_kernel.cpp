#include "sct/model/attention_kernel.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>

#include "sct/model/autocast.h"

namespace sct {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

double scale_of(const at::Tensor& q) { return 1.0 / std::sqrt(double(q.size(-1))); }

// (scaled q, probabilities)
std::pair<at::Tensor, at::Tensor> probabilities(const at::Tensor& q, const at::Tensor& k) {
  const at::Tensor qs = q * scale_of(q);
  return {qs, at::matmul(qs, k.transpose(-2, -1)).softmax(-1)};
}

struct SoftmaxAttentionFunction : torch::autograd::Function<SoftmaxAttentionFunction> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
    // In the pass's dtype, as autocast would cast them, so that backward (which runs outside autocast)
    // recomputes exactly the forward's probabilities.
    const at::ScalarType dtype = pass_dtype(q);
    const at::Tensor qc = q.to(dtype), kc = k.to(dtype), vc = v.to(dtype);
    ctx->save_for_backward({qc, kc, vc});
    ctx->saved_data["dtypes"] = std::vector<int64_t>{int64_t(q.scalar_type()), int64_t(k.scalar_type()),
                                                     int64_t(v.scalar_type())};
    return at::matmul(probabilities(qc, kc).second, vc);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor &q = saved[0], &k = saved[1], &v = saved[2];
    const at::Tensor g = grads[0].to(v.scalar_type());  // dL/d context, (B, H, N, hd)
    const auto [qs, p] = probabilities(q, k);           // as in forward, bit for bit
    const at::Tensor grad_v = at::matmul(p.transpose(-2, -1), g);
    const at::Tensor grad_scores = at::_softmax_backward_data(at::matmul(g, v.transpose(-2, -1)), p, -1, p.scalar_type());
    const at::Tensor grad_q = at::matmul(grad_scores, k).mul_(scale_of(q));
    const at::Tensor grad_k = at::matmul(grad_scores.transpose(-2, -1), qs);
    const std::vector<int64_t> dtypes = ctx->saved_data["dtypes"].toIntVector();
    return {grad_q.to(at::ScalarType(dtypes[0])), grad_k.to(at::ScalarType(dtypes[1])),
            grad_v.to(at::ScalarType(dtypes[2]))};
  }
};

}  // namespace

at::Tensor softmax_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  if (!at::GradMode::is_enabled()) return at::matmul(probabilities(q, k).second, v);
  return SoftmaxAttentionFunction::apply(q, k, v);
}

}  // namespace sct
