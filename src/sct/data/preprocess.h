// Image files -> the exact tensor the model sees at evaluation: decode (PIL rules), resize to S x S with
// PIL's bicubic, ToTensor, Normalize. What `sct preprocess` writes, and what evaluation feeds the model.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sct/data/normalize.h"

namespace sct {

// Returns a float32 (N, 3, S, S) tensor, image i in row i. Decodes on `threads` threads (<= 0: all
// CPUs). Throws sct::Error naming the first image that cannot be read.
at::Tensor preprocess_image_files(const std::vector<std::string>& paths, int64_t size,
                                  const Normalization& normalization = {}, int threads = 0);

// The same for one image already in memory (an HTTP request's body): a float32 (3, S, S) tensor,
// computed by the same code. `name` stands for the file in error messages.
at::Tensor preprocess_image_bytes(const uint8_t* data, size_t bytes, const std::string& name, int64_t size,
                                  const Normalization& normalization = {});

}  // namespace sct
