#include "sct/model/batched_matmul.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include "sct/kernels/small_gemm.h"

namespace sct {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Flattens the leading dimensions into one batch.
at::Tensor bmm3(const at::Tensor& a, const at::Tensor& b) {
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  std::vector<int64_t> out_shape(a.sizes().begin(), a.sizes().end());
  out_shape.back() = n;
  return kernels::small_bmm_f32(a.reshape({-1, m, k}), b.reshape({-1, k, n})).view(out_shape);
}

struct BatchedMatmul : torch::autograd::Function<BatchedMatmul> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& a, const at::Tensor& b) {
    ctx->save_for_backward({a, b});
    return bmm3(a, b);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor &a = saved[0], &b = saved[1], &g = grads[0];
    at::Tensor grad_a, grad_b;
    if (ctx->needs_input_grad(0)) grad_a = bmm3(g, b.transpose(-2, -1));
    if (ctx->needs_input_grad(1)) grad_b = bmm3(a.transpose(-2, -1), g);
    return {grad_a, grad_b};
  }
};

}  // namespace

at::Tensor batched_matmul(const at::Tensor& a, const at::Tensor& b) {
  // Matrices up to kSmall on a side (windows up to 16 x 16 tokens, head widths up to 256): larger ones
  // are BLAS's, whose cache blocking this kernel does not have.
  constexpr int64_t kSmall = 256;
  const bool own = a.is_cpu() && b.is_cpu() && a.scalar_type() == at::kFloat && b.scalar_type() == at::kFloat &&
                   a.dim() >= 3 && a.dim() == b.dim() && a.sizes().slice(0, a.dim() - 2) == b.sizes().slice(0, b.dim() - 2) &&
                   a.size(-2) <= kSmall && a.size(-1) <= kSmall && b.size(-1) <= kSmall;
  if (!own) return at::matmul(a, b);
  return BatchedMatmul::apply(a, b);
}

}  // namespace sct
