#include "sct/train/evaluate.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <limits>
#include <string>

#include "sct/core/error.h"
#include "sct/parallel/process_group.h"

namespace sct {

Top1 evaluate_top1(BackboneImpl& model, EvalSource& source, const ClassSubset* classes) {
  const std::vector<at::Tensor> params = model.parameters();
  if (params.empty()) throw Error("evaluate_top1: the model has no parameters");
  const at::Device device = params.front().device();
  // Restores the caller's mode on every exit, exceptions included.
  struct ModeGuard {
    BackboneImpl& m;
    bool was_training;
    ~ModeGuard() { m.train(was_training); }
  } mode{model, model.is_training()};
  model.eval();
  Top1 result;
  {
    c10::InferenceMode inference;
    at::Tensor correct = at::zeros({}, at::TensorOptions().dtype(at::kLong).device(device));
    at::Tensor kept;  // (C) bool
    if (classes != nullptr) kept = classes->mask().to(device);
    // Data-parallel: each rank scores its piece of the set, and the counts are summed.
    source.for_each_batch([&](const Batch& batch) {
      at::Tensor logits = model.forward(batch.images.to(device, /*non_blocking=*/true));  // (B, C)
      if (kept.defined()) {
        if (logits.size(1) != kept.size(0))
          throw Error("evaluate_top1: the model has " + std::to_string(logits.size(1)) + " classes, the class subset " +
                      std::to_string(kept.size(0)));
        logits = logits.masked_fill(kept.logical_not(), -std::numeric_limits<float>::infinity());
      }
      correct.add_(logits.argmax(1).eq(batch.labels.to(device, /*non_blocking=*/true)).sum());
      result.total += batch.labels.size(0);
    }, parallel::shard());
    at::Tensor counts = at::stack({correct, at::full({}, result.total, correct.options())});
    parallel::all_reduce_sum(counts);
    result.correct = counts[0].item<int64_t>();
    result.total = counts[1].item<int64_t>();
  }
  return result;
}

}  // namespace sct
