// Full fine-tuning: every tensor of the model trains (the paper's "Full" baseline, 86M on ViT-B/16).
#pragma once
#include <nlohmann/json.hpp>

#include "sct/peft/peft_method.h"

namespace sct {

class FullFinetune : public PeftMethod {
 public:
  std::string name() const override { return "full"; }
  void attach(BackboneImpl& model) override {
    for (auto& p : model.parameters()) p.set_requires_grad(true);
  }
  nlohmann::json config() const override { return {{"name", name()}}; }
};

}  // namespace sct
