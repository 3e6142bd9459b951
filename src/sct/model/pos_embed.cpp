#include "sct/model/pos_embed.h"

#include <cmath>

#include <ATen/ATen.h>

#include "sct/core/error.h"
#include "sct/core/shape.h"

namespace sct {

at::Tensor resample_pos_embed(const at::Tensor& pos, int64_t gh, int64_t gw, int64_t prefix) {
  if (pos.dim() != 3 || pos.size(0) != 1)
    throw Error("pos_embed: expected shape (1, tokens, width), found " + shape_str(pos.sizes()));
  const int64_t n = pos.size(1) - prefix, D = pos.size(2);
  const auto g = static_cast<int64_t>(std::lround(std::sqrt(double(n))));
  if (n <= 0 || g * g != n)
    throw Error("pos_embed: " + std::to_string(n) + " grid tokens do not form a square grid");
  if (g == gh && g == gw) return pos;
  const at::Tensor head = pos.narrow(1, 0, prefix);                                  // (1, prefix, D)
  const at::Tensor grid = pos.narrow(1, prefix, n).reshape({1, g, g, D}).permute({0, 3, 1, 2});
  const at::Tensor resized = at::upsample_bicubic2d(grid.to(at::kFloat), {gh, gw}, /*align_corners=*/false)
                                 .to(pos.scalar_type());                             // (1, D, gh, gw)
  return at::cat({head, resized.permute({0, 2, 3, 1}).reshape({1, gh * gw, D})}, 1);
}

}  // namespace sct
