// The `--device` flag: cpu, cuda or cuda:N. Code everywhere else stays device-agnostic.
#pragma once
#include <string>

#include <c10/core/Device.h>

namespace sct {

bool cuda_available();
int cuda_device_count();
// major * 10 + minor of a CUDA device (86 for an RTX 3090); 0 when this build has no CUDA.
int cuda_compute_capability(int index);

// Parses and validates a device name; asking for CUDA where there is none is an sct::Error.
c10::Device parse_device(const std::string& name);

}  // namespace sct
