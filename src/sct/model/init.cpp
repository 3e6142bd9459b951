#include "sct/model/init.h"

#include <cmath>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

namespace sct {

void trunc_normal_(at::Tensor t, double std, double mean, double a, double b) {
  // Inverse-CDF sampling, as PyTorch's nn.init.trunc_normal_.
  auto cdf = [](double x) { return (1.0 + std::erf(x / std::sqrt(2.0))) / 2.0; };
  const double lo = cdf((a - mean) / std), hi = cdf((b - mean) / std);
  torch::NoGradGuard no_grad;
  t.uniform_(2 * lo - 1, 2 * hi - 1);
  t.erfinv_();
  t.mul_(std * std::sqrt(2.0)).add_(mean);
  t.clamp_(a, b);
}

}  // namespace sct
