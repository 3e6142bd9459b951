// Mixed precision as PyTorch's autocast does it, on the model's device, for one forward pass.
//
// Inside the guard LibTorch casts the inputs of GEMM-like ops (linear, matmul, conv) to bf16 and runs
// precision-sensitive ones (cross-entropy, ...) in fp32; everything else runs in its inputs' dtype.
// sct adds what autocast alone does not give (vision_transformer.cpp): the frozen backbone's GEMM weights
// are bf16 once (set_precision), not cast again every step, and the residual stream, LayerNorm and
// softmax statistics stay fp32. Trainable tensors stay fp32 (master weights); autocast casts their
// bf16 copies once per forward and the gradients flow back to the fp32 tensors.
#pragma once
#include <ATen/autocast_mode.h>
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <torch/version.h>

namespace sct {

// The dtype autocast computes a GEMM of `t` in: bf16 inside a region for t's device, else t's own.
inline at::ScalarType pass_dtype(const at::Tensor& t) {
  const bool on = t.is_cuda() ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
  if (!on) return t.scalar_type();
  return t.is_cuda() ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}

class AutocastGuard {
 public:
  // Enables bf16 autocast for `device` when `enabled`; otherwise does nothing.
  AutocastGuard(const c10::Device& device, bool enabled) : cuda_(device.is_cuda()), active_(enabled) {
    if (!active_) return;
    prev_enabled_ = cuda_ ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
    prev_dtype_ = cuda_ ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
    if (cuda_) {
      at::autocast::set_enabled(true);
      at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    } else {
      at::autocast::set_cpu_enabled(true);
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    }
    at::autocast::increment_nesting();
  }
  ~AutocastGuard() {
    if (!active_) return;
    // The casts of trainable weights are cached for one forward; they change after every step.
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    if (cuda_) {
      at::autocast::set_enabled(prev_enabled_);
      at::autocast::set_autocast_gpu_dtype(prev_dtype_);
    } else {
      at::autocast::set_cpu_enabled(prev_enabled_);
      at::autocast::set_autocast_cpu_dtype(prev_dtype_);
    }
  }
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool cuda_, active_;
  bool prev_enabled_ = false;
  at::ScalarType prev_dtype_ = at::kBFloat16;
};

}  // namespace sct
