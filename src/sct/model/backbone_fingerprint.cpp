#include "sct/model/backbone_fingerprint.h"

#include <algorithm>

#include <ATen/ATen.h>

#include "sct/core/sha256.h"

namespace sct {

std::string backbone_fingerprint(BackboneImpl& model) {
  auto tensors = model.backbone_tensors();
  std::sort(tensors.begin(), tensors.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  Sha256 h;
  for (const auto& [name, t] : tensors) {
    const at::Tensor cpu = t.detach().to(at::kCPU, at::kFloat).contiguous();
    h.update(name + "|" + c10::str(cpu.sizes()) + "|");
    h.update(cpu.data_ptr<float>(), static_cast<size_t>(cpu.numel()) * sizeof(float));
  }
  return h.hex_digest();
}

}  // namespace sct
