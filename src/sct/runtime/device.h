// The `--device` flag: cpu, cuda or cuda:N. Code everywhere else stays device-agnostic.
#pragma once
#include <string>

#include <c10/core/Device.h>

namespace sct {

bool cuda_available();
int cuda_device_count();

// Parses and validates a device name; asking for CUDA where there is none is an sct::Error.
c10::Device parse_device(const std::string& name);

}  // namespace sct
