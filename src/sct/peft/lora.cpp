#include "sct/peft/lora.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <cmath>

#include "sct/core/error.h"
#include "sct/model/block.h"

namespace sct {

LowRankImpl::LowRankImpl(int64_t width, int64_t rank, const at::TensorOptions& options) {
  if (rank < 1) throw Error("lora: rank must be >= 1, got " + std::to_string(rank));
  a = register_parameter("a", at::empty({rank, width}, options));
  b = register_parameter("b", at::zeros({width, rank}, options));
  torch::NoGradGuard no_grad;
  const double bound = 1.0 / std::sqrt(double(width));  // kaiming_uniform_(a=sqrt(5)) of a (r, D) weight
  a.uniform_(-bound, bound);
}

at::Tensor LowRankImpl::delta(const at::Tensor& x) const { return at::matmul(at::matmul(x, a.t()), b.t()); }

at::Tensor LowRankImpl::weight() const { return at::matmul(b, a); }

LoraImpl::LoraImpl(int64_t width, int64_t rank, double alpha, const at::TensorOptions& options)
    : scaling(alpha / double(rank)) {
  q = register_module("q", LowRank(width, rank, options));
  v = register_module("v", LowRank(width, rank, options));
}

at::Tensor LoraImpl::apply(HookSite, const at::Tensor& input, at::Tensor output) {
  const at::Tensor dq = q->delta(input) * scaling;
  const at::Tensor dv = v->delta(input) * scaling;
  return output + at::cat({dq, at::zeros_like(dq), dv}, -1);
}

void LoraImpl::merge_into(BlockImpl& block) {
  torch::NoGradGuard no_grad;
  const at::Tensor wq = q->weight() * scaling;
  block.attn->qkv->weight.add_(at::cat({wq, at::zeros_like(wq), v->weight() * scaling}, 0));
}

}  // namespace sct
