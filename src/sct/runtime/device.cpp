#include "sct/runtime/device.h"

#include <torch/cuda.h>
#ifdef SCT_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

#include "sct/core/error.h"

namespace sct {

bool cuda_available() { return torch::cuda::is_available(); }

int cuda_device_count() { return static_cast<int>(torch::cuda::device_count()); }

int cuda_compute_capability(int index) {
#ifdef SCT_WITH_CUDA
  const cudaDeviceProp* p = at::cuda::getDeviceProperties(index);
  return p->major * 10 + p->minor;
#else
  return 0;
#endif
}

c10::Device parse_device(const std::string& name) {
  if (name == "cpu") return c10::Device(c10::kCPU);
  if (name != "cuda" && name.rfind("cuda:", 0) != 0)
    throw Error("unknown device '" + name + "': expected cpu, cuda or cuda:N");
  int index = 0;
  if (name.size() > 5) {
    const std::string digits = name.substr(5);
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos)
      throw Error("unknown device '" + name + "': expected cpu, cuda or cuda:N");
    index = std::stoi(digits);
  }
  if (!cuda_available())
    throw Error("device '" + name + "' requested, but CUDA is not available (this LibTorch build " +
                "has no CUDA support or no GPU is visible); use --device cpu");
  if (index >= cuda_device_count())
    throw Error("device '" + name + "' requested, but only " + std::to_string(cuda_device_count()) +
                " CUDA device(s) are visible");
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

}  // namespace sct
