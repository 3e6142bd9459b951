#include "sct/model/parameter_count.h"

#include <cstdio>

namespace sct {

void freeze_all_but_head(BackboneImpl& model) {
  for (auto& kv : model.named_parameters(true)) kv.value().set_requires_grad(kv.key().rfind("head.", 0) == 0);
}

ParameterCount count_parameters(BackboneImpl& model) {
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
