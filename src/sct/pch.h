// Precompiled header: the LibTorch pieces nearly every translation unit needs.
// Kept to ATen + the nn module machinery; heavier headers are included where used.
#pragma once
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/functional/activation.h>
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>
