// A trained task as a folder of two files, PEFT-style, a few hundred KB for SCT on ViT-B:
//   adapter_config.json        what rebuilds the model: the method's config() (for SCT its position,
//                              strategy, K and indices per block, scale), the backbone's name,
//                              architecture and SHA-256 fingerprint (backbone_fingerprint.h), the
//                              classes and their names, the preprocessing, and how the run scored
//   adapter_model.safetensors  the trained tensors under the model's own names: every trainable
//                              parameter (the method's modules and the head) and the modules' buffers
//                              (SCT: blocks.<i>.sct.<part>.indices)
// The backbone weights are not in it: the user loads the same pretrained checkpoint, and the
// fingerprint refuses another one.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sct/core/tensor_map.h"
#include "sct/data/normalize.h"
#include "sct/model/backbone.h"
#include "sct/peft/peft_method.h"

namespace sct {

struct TaskInfo {
  int64_t num_classes() const;
  int64_t img_size() const;
  nlohmann::json method;        // PeftMethod::config()
  nlohmann::json backbone;      // architecture, BackboneImpl::config_json() (num_classes is the task's)
  std::string backbone_sha256;  // fingerprint of the pretrained weights it was trained on
  std::vector<std::string> class_names;
  Normalization normalization;
  std::string task;       // informational: the dataset it was trained on
  nlohmann::json result;  // informational: how the run scored (protocol summary)

  nlohmann::json to_json() const;
  static TaskInfo from_json(const nlohmann::json& j);  // throws sct::Error
};

// Writes <dir>/adapter_config.json and <dir>/adapter_model.safetensors (each atomically) from a
// trained model. Creates the folder.
void save_task_dir(const std::string& dir, const TaskInfo& info, BackboneImpl& model);

struct TaskDir {
  TaskInfo info;
  TensorMap tensors;
};
// Reads and validates both files; errors name the file.
TaskDir read_task_dir(const std::string& dir);

// Turns `model`, built with info.backbone and holding the pretrained weights, into the trained task
// model: checks the backbone fingerprint (a mismatch is an error unless `force`), attaches the method,
// and loads every tensor of the file (strict: names and shapes must match exactly). Returns the method.
std::unique_ptr<PeftMethod> apply_task(BackboneImpl& model, const TaskDir& task, const std::string& dir,
                                       bool force = false);

// The two halves of apply_task, for a caller that knows its backbone's fingerprint already (sct serve
// computes it once for every task it loads):
// throws unless `sha256` is the task's backbone fingerprint (with `force`: warns on stderr instead)...
void check_task_backbone(const TaskDir& task, const std::string& dir, const std::string& sha256, bool force);
// ...and attaches the method and loads the task's tensors (strict), as apply_task.
std::unique_ptr<PeftMethod> attach_task(BackboneImpl& model, const TaskDir& task, const std::string& dir);

}  // namespace sct
