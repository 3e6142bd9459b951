// LoRA (Hu et al. 2022) on the q and v parts of the fused qkv projection:
//   qkv[..., 0:D]  += (alpha / r) * x A_q^T B_q^T       x = norm1(x), the qkv input
//   qkv[..., 2D:3D] += (alpha / r) * x A_v^T B_v^T
// A (r, D) ~ PyTorch's default Linear init (kaiming-uniform, as the LoRA reference), B (D, r) = 0, so
// training starts from the backbone. Tensors blocks.<i>.lora.{q,v}.{a,b}. Mergeable into qkv.weight.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "sct/model/block_hook.h"

namespace sct {

class LowRankImpl : public torch::nn::Module {
 public:
  LowRankImpl(int64_t width, int64_t rank, const at::TensorOptions& options);
  at::Tensor delta(const at::Tensor& x) const;  // x A^T B^T: (..., D) -> (..., D)
  at::Tensor weight() const;                    // B A: (D, D)
  at::Tensor a, b;
};
TORCH_MODULE(LowRank);

class LoraImpl : public BlockHookImpl {
 public:
  LoraImpl(int64_t width, int64_t rank, double alpha, const at::TensorOptions& options);
  uint32_t sites() const override { return site_bit(HookSite::Qkv); }
  at::Tensor apply(HookSite site, const at::Tensor& input, at::Tensor output) override;
  // qkv.weight += the (3D, D) update B A * alpha / r (q and v rows).
  bool mergeable() const override { return true; }
  void merge_into(BlockImpl& block) override;

  LowRank q{nullptr}, v{nullptr};
  double scaling;  // alpha / r
};
TORCH_MODULE(Lora);

}  // namespace sct
