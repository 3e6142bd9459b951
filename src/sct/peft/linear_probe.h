// Linear probing: a frozen backbone and a new trainable head.
#pragma once
#include <nlohmann/json.hpp>

#include "sct/peft/peft_method.h"

namespace sct {

class LinearProbe : public PeftMethod {
 public:
  std::string name() const override { return "linear"; }
  void attach(BackboneImpl& model) override { freeze_all_but_head(model); }
  nlohmann::json config() const override { return {{"name", name()}}; }
};

}  // namespace sct
