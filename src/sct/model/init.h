// Parameter initialisers shared by the backbone and the PEFT modules.
#pragma once
#include <ATen/core/Tensor.h>

namespace sct {

// timm's trunc_normal_: N(mean, std^2) restricted to [a, b] (absolute bounds, as timm), in place.
void trunc_normal_(at::Tensor t, double std, double mean = 0.0, double a = -2.0, double b = 2.0);

}  // namespace sct
