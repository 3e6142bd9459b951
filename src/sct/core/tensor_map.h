// Name -> tensor, ordered so that listings and files are deterministic.
#pragma once
#include <map>
#include <string>

#include <ATen/core/Tensor.h>

namespace sct {

using TensorMap = std::map<std::string, at::Tensor>;
using StringMap = std::map<std::string, std::string>;

}  // namespace sct
