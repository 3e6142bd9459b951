#include "sct/model/backbone.h"

#include <algorithm>
#include <type_traits>
#include <unordered_set>

#include <torch/csrc/autograd/grad_mode.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "sct/core/error.h"
#include "sct/core/shape.h"
#include "sct/model/autocast.h"
#include "sct/model/swin_transformer.h"
#include "sct/model/vision_transformer.h"

namespace sct {

at::Tensor BackboneImpl::forward_head(const at::Tensor& features) const {
  const torch::nn::Linear head = classifier();
  return head ? forward_head(features, head) : pool(features);
}

at::Tensor BackboneImpl::forward_head(const at::Tensor& features, const torch::nn::Linear& classifier) const {
  const at::Tensor pooled = pool(features);
  torch::nn::Linear head = classifier;  // a handle; the module itself is not const
  const AutocastGuard autocast(features.device(), precision_ == Precision::bf16);
  return head->forward(pooled).to(features.scalar_type());  // the loss and the softmax of predictions in fp32
}

int64_t BackboneImpl::checked_classes(int64_t num_classes) {
  if (num_classes < 0) throw Error("number of classes must be >= 0, got " + std::to_string(num_classes));
  return num_classes;
}

void BackboneImpl::check_images(const at::Tensor& images) const {
  const int64_t s = img_size();
  if (images.dim() != 4 || images.size(1) != 3 || images.size(2) != s || images.size(3) != s)
    throw Error("model '" + name() + "' expects images of shape (B, 3, " + std::to_string(s) + ", " +
                std::to_string(s) + "), got " + shape_str(images.sizes()));
}

namespace {

// The architecture's own config type, parsed and validated, handed to `use`.
template <typename Use>
auto with_config(const nlohmann::json& config, Use&& use) {
  if (!config.is_object()) throw Error("backbone config must be a JSON object, got " + config.dump());
  nlohmann::json shape = config;
  const auto arch = shape.find("arch");
  const std::string name = arch == shape.end() ? "vit" : arch->is_string() ? arch->get<std::string>() : arch->dump();
  shape.erase("arch");
  if (name == "vit") return use(VitConfig::from_json(shape));
  if (name == "swin") return use(SwinConfig::from_json(shape));
  throw Error("backbone config: unknown arch '" + name + "' (vit or swin)");
}

}  // namespace

Backbone make_backbone(const nlohmann::json& config, double drop_path_rate) {
  return with_config(config, [&](auto c) {
    c.drop_path_rate = drop_path_rate;
    using Model = std::conditional_t<std::is_same_v<decltype(c), VitConfig>, VisionTransformerImpl, SwinTransformerImpl>;
    return Backbone(std::shared_ptr<BackboneImpl>(std::make_shared<Model>(c)));
  });
}

nlohmann::json checked_backbone_config(nlohmann::json config) {
  return with_config(config, [](const auto& c) {
    nlohmann::json j = c.to_json();
    j["arch"] = std::is_same_v<std::decay_t<decltype(c)>, VitConfig> ? "vit" : "swin";
    return j;
  });
}

nlohmann::json named_backbone_config(const std::string& name) {
  nlohmann::json j;
  if (is_swin_config_name(name)) {
    j = swin_config(name).to_json();
    j["arch"] = "swin";
    return j;
  }
  const auto vits = vit_config_names();
  if (std::find(vits.begin(), vits.end(), name) == vits.end()) {
    std::string known;
    for (const auto& n : vits) known += " " + n;
    for (const auto& n : swin_config_names()) known += " " + n;
    throw Error("unknown model '" + name + "'; known:" + known + " custom");
  }
  j = vit_config(name).to_json();
  j["arch"] = "vit";
  return j;
}

nlohmann::json with_classes(nlohmann::json config, int64_t num_classes) {
  config["num_classes"] = num_classes;
  return config;
}

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
