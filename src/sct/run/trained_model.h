// Models made from the run's pretrained backbone: a fresh copy to train, and the trained model of a
// task folder (for evaluations after training, such as `sct domain`'s shifted test sets).
#pragma once
#include <memory>
#include <string>

#include "sct/peft/task_dir.h"
#include "sct/run/task_run.h"

namespace sct {

// A model of architecture `config` (a config_json(), its own head size) with stochastic depth
// `drop_path_rate`, holding the backbone's weights,
// on the backbone's device. Throws sct::Error when the backbone tensors differ in names or shapes.
Backbone copy_of_backbone(const PretrainedBackbone& backbone, const nlohmann::json& config, double drop_path_rate = 0.0);

// The backbone of architecture `config` with `checkpoint`'s weights ("" = random init, seeded by the
// caller) on `device`, named and fingerprinted as `sct train` does.
PretrainedBackbone load_backbone(const nlohmann::json& config, const std::string& checkpoint, c10::Device device);

struct TrainedTask {
  TaskDir task;
  Backbone model{nullptr};  // eval mode, on the backbone's device
  std::unique_ptr<PeftMethod> method;
};

// The task folder `dir` applied to a copy of `backbone` (whose fingerprint it must carry).
TrainedTask load_trained_task(const std::string& dir, const PretrainedBackbone& backbone);

}  // namespace sct
