// Top-1 accuracy of a classifier over an evaluation set.
#pragma once
#include <cstdint>

#include "sct/data/class_subset.h"
#include "sct/data/eval_source.h"
#include "sct/model/backbone.h"

namespace sct {

struct Top1 {
  int64_t correct = 0;
  int64_t total = 0;
  double percent() const { return total ? 100.0 * double(correct) / double(total) : 0.0; }
};

// Runs the model in eval mode (no drop path) under inference mode, on the device of its parameters,
// and restores its previous train/eval mode. The count stays on the device until the end: one host
// sync per pass, not per batch. With `classes`, the prediction is the argmax over those logits only
// (ImageNet-A and -R: 200 of the 1000 classes).
Top1 evaluate_top1(BackboneImpl& model, EvalSource& source, const ClassSubset* classes = nullptr);

}  // namespace sct
