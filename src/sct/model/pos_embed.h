// Resampling a learned position embedding to another patch grid (timm 0.6.5 resize_pos_embed).
#pragma once
#include <ATen/core/Tensor.h>

namespace sct {

// pos: (1, prefix + G*G, D) with a square grid G. Returns (1, prefix + gh*gw, D): the prefix (CLS)
// rows unchanged, the grid resized with bicubic interpolation (align_corners=false) as timm does.
at::Tensor resample_pos_embed(const at::Tensor& pos, int64_t gh, int64_t gw, int64_t prefix = 1);

}  // namespace sct
