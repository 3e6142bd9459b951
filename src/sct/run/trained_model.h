// Models made from the run's pretrained backbone: a fresh copy to train, and the trained model of a
// task folder (for evaluations after training, such as `sct domain`'s shifted test sets).
#pragma once
#include <memory>
#include <string>

#include "sct/peft/task_dir.h"
#include "sct/run/task_run.h"

namespace sct {

// A model of architecture `config` (its own head size and drop path) holding the backbone's weights,
// on the backbone's device. Throws sct::Error when the backbone tensors differ in names or shapes.
VisionTransformer copy_of_backbone(const Backbone& backbone, const VitConfig& config);

// The backbone of architecture `config` with `checkpoint`'s weights ("" = random init, seeded by the
// caller) on `device`, named and fingerprinted as `sct train` does.
Backbone load_backbone(const VitConfig& config, const std::string& checkpoint, c10::Device device);

struct TrainedTask {
  TaskDir task;
  VisionTransformer model{nullptr};  // eval mode, on the backbone's device
  std::unique_ptr<PeftMethod> method;
};

// The task folder `dir` applied to a copy of `backbone` (whose fingerprint it must carry).
TrainedTask load_trained_task(const std::string& dir, const Backbone& backbone);

}  // namespace sct
