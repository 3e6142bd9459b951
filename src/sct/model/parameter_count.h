// Which parameters of a model train, and how many there are: what every method and report shares.
#pragma once
#include <cstdint>
#include <string>

#include "sct/model/backbone.h"

namespace sct {

// Sets requires_grad on every parameter: true for the head, false for the rest.
void freeze_all_but_head(BackboneImpl& model);

struct ParameterCount {
  int64_t trainable = 0;       // everything with requires_grad, head included
  int64_t trainable_head = 0;  // of which the head
  int64_t total = 0;
};
ParameterCount count_parameters(BackboneImpl& model);
// PEFT-style: "trainable params: 111,744 (+ head 76,900) || all params: ... || trainable%: 0.2202"
std::string describe(const ParameterCount& count);

}  // namespace sct
