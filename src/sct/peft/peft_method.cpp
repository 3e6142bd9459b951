#include "sct/peft/peft_method.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "sct/core/error.h"
#include "sct/peft/linear_probe.h"
#include "sct/peft/sct_method.h"

namespace sct {

std::unique_ptr<PeftMethod> make_peft_method(const std::string& name) {
  if (name == "none" || name == "linear") return std::make_unique<LinearProbe>();
  throw Error("unknown method '" + name + "'; known: none (= linear)");
}

std::unique_ptr<PeftMethod> make_peft_method(const nlohmann::json& config) {
  const std::string name = config.is_object() ? config.value("name", "") : "";
  if (name == "sct") return SctMethod::from_config(config);
  if (name == "linear" || name == "none") return make_peft_method(name);
  throw Error("unknown method configuration " + config.dump() + "; known names: linear, sct");
}

void freeze_all_but_head(VisionTransformerImpl& model) {
  for (auto& kv : model.named_parameters(true)) kv.value().set_requires_grad(kv.key().rfind("head.", 0) == 0);
}

ParameterCount count_parameters(VisionTransformerImpl& model) {
  ParameterCount c;
  for (const auto& kv : model.named_parameters(true)) {
    const int64_t n = kv.value().numel();
    c.total += n;
    if (!kv.value().requires_grad()) continue;
    c.trainable += n;
    if (kv.key().rfind("head.", 0) == 0) c.trainable_head += n;
  }
  return c;
}

namespace {
std::string thousands(int64_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}
}  // namespace

std::string describe(const ParameterCount& c) {
  char pct[32];
  std::snprintf(pct, sizeof(pct), "%.4f", c.total ? 100.0 * double(c.trainable) / double(c.total) : 0.0);
  return "trainable params: " + thousands(c.trainable - c.trainable_head) + " (+ head " + thousands(c.trainable_head) +
         ") || all params: " + thousands(c.total) + " || trainable%: " + pct;
}

}  // namespace sct
