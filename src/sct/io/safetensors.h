// safetensors (https://github.com/huggingface/safetensors) reader and writer.
// Used for timm / Hugging Face checkpoints and for every file sct writes itself.
#pragma once
#include <string>

#include "sct/core/tensor_map.h"

namespace sct {

// Reads every tensor (F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL) into CPU tensors that own
// their memory. Validates the header: JSON well formed, dtypes known, shape x itemsize == byte length,
// offsets inside the file, no two tensors overlapping. Throws sct::Error naming the file and tensor.
// `metadata`, when given, receives the string map stored under "__metadata__".
TensorMap load_safetensors(const std::string& path, StringMap* metadata = nullptr);

// Writes atomically (temporary file in the same folder, then rename): a crash never leaves a
// half-written file under `path`. Tensors may live on any device and need not be contiguous.
void save_safetensors(const std::string& path, const TensorMap& tensors, const StringMap& metadata = {});

}  // namespace sct
