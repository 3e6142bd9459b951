// Bias tuning (BitFit, Zaken et al. 2022): every bias of the backbone and the head train; nothing is added.
#pragma once
#include <nlohmann/json.hpp>

#include "sct/peft/peft_method.h"

namespace sct {

class BiasTuning : public PeftMethod {
 public:
  std::string name() const override { return "bias"; }
  void attach(BackboneImpl& model) override {
    freeze_all_but_head(model);
    for (auto& kv : model.named_parameters(true)) {
      const std::string& n = kv.key();
      if (n.size() >= 5 && n.compare(n.size() - 5, 5, ".bias") == 0) kv.value().set_requires_grad(true);
    }
  }
  nlohmann::json config() const override { return {{"name", name()}}; }
};

}  // namespace sct
