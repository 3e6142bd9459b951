// Parameter initialisers shared by the backbone and the PEFT modules.
#pragma once
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

namespace sct {

// timm's trunc_normal_: N(mean, std^2) restricted to [a, b] (absolute bounds, as timm), in place.
void trunc_normal_(at::Tensor t, double std, double mean = 0.0, double a = -2.0, double b = 2.0);

// timm's initialisation of every Linear below `module` (trunc-normal 0.02 weights, zero biases) and
// every LayerNorm (unit scale, zero shift).
void init_linears_and_norms(torch::nn::Module& module);

}  // namespace sct
