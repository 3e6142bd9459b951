#include "sct/model/window_attention.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/custom_function.h>

#include "sct/model/batched_matmul.h"
#include "sct/model/frozen_linear.h"

namespace sct {
namespace {

// (B, R, R, C) -> (B * (R/w)^2, w*w, C), windows in row-major order.
at::Tensor partition(const at::Tensor& x, int64_t w) {
  const int64_t B = x.size(0), R = x.size(1), C = x.size(3);
  return x.view({B, R / w, w, R / w, w, C}).permute({0, 1, 3, 2, 4, 5}).reshape({-1, w * w, C});
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
  // The shift and the partition as one permutation of the tokens: window-major position i holds the
  // token that roll(-shift) then partition put there.
  const at::Tensor grid = at::arange(resolution * resolution, at::kLong).view({1, resolution, resolution, 1});
  order_ = partition(shift > 0 ? at::roll(grid, {-shift, -shift}, {1, 2}) : grid, window).reshape({-1});
  inverse_ = at::empty_like(order_).index_put_({order_}, at::arange(order_.numel(), at::kLong));
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

namespace {

// Rows of x (R, D) in `order`; the gradient goes back through the inverse permutation, a gather as well
// (autograd's index_select would scatter-add).
struct PermuteRows : torch::autograd::Function<PermuteRows> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& order,
                            const at::Tensor& inverse) {
    ctx->saved_data["inverse"] = inverse;
    return x.index_select(0, order);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    return {grads[0].index_select(0, ctx->saved_data["inverse"].toTensor()), at::Tensor(), at::Tensor()};
  }
};

at::Tensor permute_rows(const at::Tensor& x, const at::Tensor& order, const at::Tensor& inverse) {
  return PermuteRows::apply(x, order, inverse);
}

// `order` (L) repeated for each of `batch` images, offset into the flattened (B * L) rows.
at::Tensor batched(const at::Tensor& order, int64_t batch, const at::Device& device) {
  const int64_t L = order.numel();
  return (order.unsqueeze(0) + at::arange(batch, at::kLong).unsqueeze(1) * L).reshape({-1}).to(device);
}

}  // namespace

const at::Tensor& WindowAttentionImpl::into_windows(int64_t batch, const at::Device& device) {
  if (!batch_order_.defined() || batch_order_.numel() != batch * order_.numel() || batch_order_.device() != device) {
    // Normal tensors even when first made under inference mode: training saves them for backward.
    const c10::InferenceMode normal(false);
    batch_order_ = batched(order_, batch, device);
    batch_inverse_ = batched(inverse_, batch, device);
  }
  return batch_order_;
}

const at::Tensor& WindowAttentionImpl::out_of_windows(int64_t batch, const at::Device& device) {
  into_windows(batch, device);
  return batch_inverse_;
}

at::Tensor WindowAttentionImpl::forward(const at::Tensor& x, const HookChain& hooks, bool defer_proj_bias) {
  const int64_t B = x.size(0), L = x.size(1), D = x.size(2), n = window * window, hd = D / heads;
  // One row gather does the shift and the partition (a contiguous copy of each token's D values).
  const at::Tensor& order = into_windows(B, x.device());
  const at::Tensor& inverse = out_of_windows(B, x.device());
  const at::Tensor windows = permute_rows(x.reshape({B * L, D}), order, inverse).view({-1, n, D});
  const int64_t Bw = windows.size(0);

  const at::Tensor qkv_out = hooks(HookSite::Qkv, windows, frozen_linear(windows, qkv, &qkv_t_));
  const at::Tensor parts = qkv_out.reshape({Bw, n, 3, heads, hd}).permute({2, 0, 3, 1, 4});  // (3, B', h, n, hd)
  const at::Tensor q = parts[0] * (1.0 / std::sqrt(double(hd)));
  at::Tensor scores = batched_matmul(q, parts[1].transpose(-2, -1));  // (B', h, n, n)
  scores = scores + relative_position_bias().to(scores.scalar_type());
  if (attn_mask.defined()) {
    const int64_t nw = attn_mask.size(0);
    scores = (scores.view({Bw / nw, nw, heads, n, n}) + attn_mask.to(scores.dtype()).unsqueeze(1).unsqueeze(0))
                 .view({Bw, heads, n, n});
  }
  const at::Tensor context =
      batched_matmul(at::softmax(scores, -1), parts[2]).transpose(1, 2).reshape({Bw, n, D});
  const at::Tensor out = hooks(HookSite::AttnProj, context,
                               frozen_linear(context, proj->weight, defer_proj_bias ? at::Tensor() : proj->bias, &proj_t_));
  return permute_rows(out.reshape({B * L, D}), inverse, order).view({B, L, D});
}

}  // namespace sct
