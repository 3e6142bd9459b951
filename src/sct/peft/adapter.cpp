#include "sct/peft/adapter.h"

#include <ATen/ATen.h>

#include "sct/core/error.h"

namespace sct {

AdapterImpl::AdapterImpl(int64_t width, int64_t bottleneck, const std::string& placement,
                         const at::TensorOptions& options) {
  if (placement != "both" && placement != "mlp")
    throw Error("adapter: placement must be both or mlp, got '" + placement + "'");
  if (placement == "both")
    attn = register_module("attn", Bottleneck(width, bottleneck, options));
  mlp = register_module("mlp", Bottleneck(width, bottleneck, options));
}

uint32_t AdapterImpl::sites() const {
  return (attn ? site_bit(HookSite::AttnBranch) : 0u) | site_bit(HookSite::MlpBranch);
}

at::Tensor AdapterImpl::apply(HookSite site, const at::Tensor&, at::Tensor output) {
  Bottleneck& b = site == HookSite::AttnBranch ? attn : mlp;
  return output + b(output);
}

}  // namespace sct
