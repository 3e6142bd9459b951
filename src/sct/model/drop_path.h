// Stochastic depth (Huang et al. 2016) on a residual branch, per sample, as timm's DropPath.
#pragma once
#include <ATen/ATen.h>

#include "sct/model/batch_shard.h"

namespace sct {

// branch: (B, ...). In training, zeroes whole samples with probability p and rescales the rest.
inline at::Tensor drop_path(const at::Tensor& branch, double p, bool training) {
  if (p <= 0.0 || !training) return branch;
  std::vector<int64_t> shape(branch.dim(), 1);
  shape[0] = branch.size(0);
  return branch * keep_noise(shape, 1.0 - p, branch.options());
}

}  // namespace sct
