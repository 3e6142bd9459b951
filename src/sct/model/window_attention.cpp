#include "sct/model/window_attention.h"

#include <ATen/ATen.h>

#include "sct/model/frozen_linear.h"

namespace sct {
namespace {

// (B, R, R, C) -> (B * (R/w)^2, w*w, C), windows in row-major order.
at::Tensor partition(const at::Tensor& x, int64_t w) {
  const int64_t B = x.size(0), R = x.size(1), C = x.size(3);
  return x.view({B, R / w, w, R / w, w, C}).permute({0, 1, 3, 2, 4, 5}).reshape({-1, w * w, C});
}

// The inverse of partition.
at::Tensor merge(const at::Tensor& windows, int64_t w, int64_t R) {
  const int64_t C = windows.size(2), B = windows.size(0) / ((R / w) * (R / w));
  return windows.view({B, R / w, R / w, w, w, C}).permute({0, 1, 3, 2, 4, 5}).reshape({B, R, R, C});
}

}  // namespace

at::Tensor swin_relative_position_index(int64_t window) {
  const at::Tensor coords = at::arange(window, at::kLong);
  const at::Tensor h = coords.repeat_interleave(window), w = coords.repeat({window});  // (w*w,) row-major
  const at::Tensor dh = h.unsqueeze(1) - h.unsqueeze(0) + (window - 1);
  const at::Tensor dw = w.unsqueeze(1) - w.unsqueeze(0) + (window - 1);
  return dh * (2 * window - 1) + dw;
}

at::Tensor swin_attention_mask(int64_t resolution, int64_t window, int64_t shift) {
  // Label the regions the cyclic shift brings together: 3 bands per axis, 9 regions.
  at::Tensor regions = at::zeros({1, resolution, resolution, 1}, at::kFloat);
  const int64_t bounds[4] = {0, resolution - window, resolution - shift, resolution};
  int64_t label = 0;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      regions.slice(1, bounds[i], bounds[i + 1]).slice(2, bounds[j], bounds[j + 1]).fill_(double(label++));
  const at::Tensor labels = partition(regions, window).squeeze(2);  // (windows, w*w)
  const at::Tensor differ = labels.unsqueeze(1) != labels.unsqueeze(2);
  return at::zeros(differ.sizes(), at::kFloat).masked_fill_(differ, -100.0);
}

WindowAttentionImpl::WindowAttentionImpl(int64_t width, int64_t heads_, int64_t resolution_, int64_t window_,
                                         int64_t shift_)
    : AttentionImpl(width, heads_), resolution(resolution_), window(window_), shift(shift_) {
  relative_position_bias_table = register_parameter(
      "relative_position_bias_table", at::zeros({(2 * window - 1) * (2 * window - 1), heads}, at::kFloat));
  relative_position_index = register_buffer("relative_position_index", swin_relative_position_index(window));
  if (shift > 0) attn_mask = swin_attention_mask(resolution, window, shift);
}

at::Tensor WindowAttentionImpl::relative_position_bias() const {
  const int64_t n = window * window;
  return relative_position_bias_table.index_select(0, relative_position_index.view(-1))
      .view({n, n, heads})
      .permute({2, 0, 1});
}

at::Tensor WindowAttentionImpl::forward(const at::Tensor& x, const HookChain& hooks, bool defer_proj_bias) {
  const int64_t B = x.size(0), D = x.size(2), n = window * window, hd = D / heads;
  at::Tensor grid = x.view({B, resolution, resolution, D});
  if (shift > 0) grid = at::roll(grid, {-shift, -shift}, {1, 2});
  const at::Tensor windows = partition(grid, window);  // (B', n, D)
  const int64_t Bw = windows.size(0);

  const at::Tensor qkv_out = hooks(HookSite::Qkv, windows, frozen_linear(windows, qkv, &qkv_t_));
  const at::Tensor parts = qkv_out.reshape({Bw, n, 3, heads, hd}).permute({2, 0, 3, 1, 4});  // (3, B', h, n, hd)
  const at::Tensor q = parts[0] * (1.0 / std::sqrt(double(hd)));
  at::Tensor scores = at::matmul(q, parts[1].transpose(-2, -1));  // (B', h, n, n)
  scores = scores + relative_position_bias().to(scores.scalar_type());
  if (attn_mask.defined()) {
    const int64_t nw = attn_mask.size(0);
    scores = (scores.view({Bw / nw, nw, heads, n, n}) + attn_mask.to(scores.dtype()).unsqueeze(1).unsqueeze(0))
                 .view({Bw, heads, n, n});
  }
  const at::Tensor context =
      at::matmul(at::softmax(scores, -1), parts[2]).transpose(1, 2).reshape({Bw, n, D});
  const at::Tensor out = hooks(HookSite::AttnProj, context,
                               frozen_linear(context, proj->weight, defer_proj_bias ? at::Tensor() : proj->bias, &proj_t_));
  grid = merge(out, window, resolution);
  if (shift > 0) grid = at::roll(grid, {shift, shift}, {1, 2});
  return grid.reshape({B, resolution * resolution, D});
}

}  // namespace sct
