// Swin's (shifted) window attention (Liu et al. 2021, timm's WindowAttention plus the block's shift and
// window partition): the token grid is cut into window x window windows, optionally after a cyclic
// shift by window/2, and each window attends within itself, with a learnt bias per head for every
// relative position and, when shifted, a mask that keeps tokens from wrapped-around regions apart.
#pragma once
#include <ATen/core/Tensor.h>

#include "sct/model/attention.h"

namespace sct {

class WindowAttentionImpl : public AttentionImpl {
 public:
  // A `resolution` x `resolution` token grid, `window` x `window` windows, cyclic shift `shift` (0: none).
  WindowAttentionImpl(int64_t width, int64_t heads, int64_t resolution, int64_t window, int64_t shift);
  // x: (B, L, D), L = resolution^2 in row-major order -> (B, L, D). The Qkv and AttnProj sites see
  // the windows' tokens, (B * windows, window^2, ...).
  at::Tensor forward(const at::Tensor& x, const HookChain& hooks, bool defer_proj_bias = false) override;

  // The bias each head adds to the scores: (heads, window^2, window^2), from the table.
  at::Tensor relative_position_bias() const;

  at::Tensor relative_position_bias_table;  // ((2 window - 1)^2, heads), a parameter (timm's name)
  at::Tensor relative_position_index;       // (window^2, window^2) int64 rows of the table; a buffer
  // (windows, window^2, window^2): 0 or -100; undefined unshifted. The block registers it as its buffer
  // `attn_mask`, where Microsoft's and timm's checkpoints name it.
  at::Tensor attn_mask;
  const int64_t resolution, window, shift;

 private:
  // Row gathers of the (B * L, D) tokens for a batch of B: into shifted windows and back.
  const at::Tensor& into_windows(int64_t batch, const at::Device& device);
  const at::Tensor& out_of_windows(int64_t batch, const at::Device& device);
  at::Tensor order_, inverse_;                 // (L): a window-major token order and its inverse
  at::Tensor batch_order_, batch_inverse_;     // the same over a batch, cached for its size and device
};

// The table row of each pair of positions in a window (Microsoft's relative_position_index).
at::Tensor swin_relative_position_index(int64_t window);
// The additive mask of a shifted block: -100 between tokens whose pre-shift regions differ (Microsoft's).
at::Tensor swin_attention_mask(int64_t resolution, int64_t window, int64_t shift);

}  // namespace sct
