#include "sct/model/backbone.h"

#include <unordered_set>

#include <torch/csrc/autograd/grad_mode.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "sct/core/error.h"

namespace sct {

void BackboneImpl::detach_all() {
  hooks_.detach_all(*this);
  for (int64_t i = 0; i < depth(); ++i) block(i).detach_all();
}

bool BackboneImpl::is_hook_tensor(const std::string& name) {
  auto under = [&](const std::string& prefix, const std::vector<std::string>& hooks) {
    for (const auto& hook : hooks)
      if (name.compare(0, prefix.size() + hook.size() + 1, prefix + hook + ".") == 0) return true;
    return false;
  };
  if (under("", hooks_.names())) return true;
  for (const auto& [path, block] : blocks_)
    if (name.compare(0, path.size() + 1, path + ".") == 0) return under(path + ".", block->hook_names());
  return false;
}

std::vector<std::pair<std::string, at::Tensor>> BackboneImpl::backbone_tensors() {
  std::vector<std::pair<std::string, at::Tensor>> out;
  auto keep = [&](const std::string& name) { return name.rfind("head.", 0) != 0 && !is_hook_tensor(name); };
  for (const auto& kv : named_parameters(true))
    if (keep(kv.key())) out.emplace_back(kv.key(), kv.value());
  for (const auto& kv : named_buffers(true))
    if (keep(kv.key())) out.emplace_back(kv.key(), kv.value());
  return out;
}

void BackboneImpl::freeze() {
  for (auto& p : parameters()) p.requires_grad_(false);
}

void BackboneImpl::set_recompute(bool on) {
  for (int64_t i = 0; i < depth(); ++i) block(i).recompute = on;
}

void BackboneImpl::set_precision(Precision p) {
  if (p == Precision::automatic) throw Error("set_precision: resolve 'auto' to fp32 or bf16 first");
  if (p == Precision::fp32 && weights_bf16_)
    throw Error("set_precision: this model's frozen weights are already bf16; build it again for fp32");
  precision_ = p;
  if (p != Precision::bf16) return;
  torch::NoGradGuard no_grad;
  // Only the backbone's GEMM weights: a method's tensors, the head and every bias stay fp32 whether
  // they train (master weights, bias tuning) or were loaded from a task folder, so that evaluating a
  // task folder computes exactly what the training run's own evaluation did.
  std::unordered_set<const void*> backbone;
  for (const auto& kv : backbone_tensors()) backbone.insert(kv.second.unsafeGetTensorImpl());
  for (auto& m : modules(/*include_self=*/false)) {
    if (!m->as<torch::nn::LinearImpl>() && !m->as<torch::nn::Conv2dImpl>()) continue;
    for (auto& kv : m->named_parameters(/*recurse=*/false)) {
      at::Tensor& t = kv.value();
      if (kv.key() == "weight" && !t.requires_grad() && backbone.count(t.unsafeGetTensorImpl())) {
        t.set_data(t.to(at::kBFloat16));
        weights_bf16_ = true;
      }
    }
  }
}

}  // namespace sct
