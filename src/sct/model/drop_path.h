// Stochastic depth (Huang et al. 2016) on a residual branch, per sample, as timm's DropPath.
#pragma once
#include <ATen/ATen.h>

namespace sct {

// branch: (B, ...). In training, zeroes whole samples with probability p and rescales the rest.
inline at::Tensor drop_path(const at::Tensor& branch, double p, bool training) {
  if (p <= 0.0 || !training) return branch;
  std::vector<int64_t> shape(branch.dim(), 1);
  shape[0] = branch.size(0);
  const at::Tensor keep = at::empty(shape, branch.options()).bernoulli_(1.0 - p).div_(1.0 - p);
  return branch * keep;
}

}  // namespace sct
