// One task adapted by one method under one protocol: what `sct train` does, as a library call.
//
// The run's TrainConfig is layered: defaults, the task recipe, the method recipe, the spec's own
// fields, then every override. The method comes from the registry; a method that needs data first
// (SCT's channel selection) is prepared once per training split and seed and reused across a tune grid.
// The run folder gets what the protocol writes (protocol.h), the method's outputs (SCT: selection.json,
// selection.png) and the task folder <out>/task (task_dir.h).
#pragma once
#include <c10/core/Device.h>

#include <cstdint>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sct/data/task_data.h"
#include "sct/model/backbone.h"
#include "sct/runtime/precision.h"
#include "sct/train/method_recipe.h"
#include "sct/train/protocol.h"
#include "sct/train/recipe.h"

namespace sct {

struct TaskRunSpec {
  // {"name": ..., options}; an option given as "recipe" takes the task recipe's value (sct's scale).
  nlohmann::json method = {{"name", "sct"}};
  std::string recipe;         // "" = the task's own when there is one; "none"; a task name or a .json
  std::string method_recipe;  // "" = configs/methods/<model>.json's entry for the method; "none"; a .json
  std::string protocol;       // "" = final
  int64_t epochs = 0;         // 0 = the recipe's
  Precision precision = Precision::fp32;  // resolved (not automatic)
  bool recompute = false;
  uint64_t seed = 42;
  std::vector<std::string> overrides;  // "key=value" over the TrainConfig, last
  int64_t data_pass_batch = 32;        // batch of a method's pass over the training data
  std::string out;                     // the run folder
  TrainerOptions trainer;              // resume, log, progress bar
};

// The pretrained backbone every training of a run starts from a copy of.
struct PretrainedBackbone {
  Backbone model{nullptr};  // on `device`, no method attached
  c10::Device device = c10::kCPU;
  std::string name;    // the checkpoint file, or "<model> (random init)"
  std::string sha256;  // backbone_fingerprint()
};

// What a run reports: `sct train --json` prints it, compare and suite read it.
struct TaskSummary {
  std::string task, method, protocol;
  double test_acc = 0.0;
  bool optimistic = false;
  double lr = 0.0, weight_decay = 0.0;
  std::string method_recipe;  // the file the method's settings came from; "" for none
  int64_t epochs = 0;
  std::string precision;
  int64_t trainable_params = 0, head_params = 0, total_params = 0;  // trainable excludes the head
  double train_seconds = 0.0, peak_rss_mb = 0.0, infer_ms_per_image = 0.0;
  std::string task_dir;
  int64_t task_dir_bytes = 0;
  int64_t skipped_images = 0;  // unreadable images left out (--skip-bad-images)

  nlohmann::json to_json() const;
  static TaskSummary from_json(const nlohmann::json& j);  // every field required; throws sct::Error
};

struct TaskRunResult {
  Backbone model{nullptr};  // the reported run's trained model, method attached
  nlohmann::json method;             // its config(), as stored in the task folder
  TrainConfig config;                // as resolved (tune: the grid's base)
  ProtocolResult protocol;
  TaskSummary summary;
};

// The layered TrainConfig of a run of `spec` on `task` with a backbone named `model_name`, with the
// recipes it used; messages (which recipe, which lr) go to `log`.
struct ResolvedConfig {
  TrainConfig config;
  std::optional<VtabRecipe> recipe;
  std::optional<MethodRecipe> method_recipe;
};
ResolvedConfig resolve_task_config(const TaskRunSpec& spec, const std::string& task, const std::string& model_name,
                                   std::ostream& log);

// `method` with every "recipe" value replaced by the recipe's method option (VtabRecipe::method_option).
nlohmann::json resolve_method_options(nlohmann::json method, const std::optional<VtabRecipe>& recipe);

// Trains and evaluates by the protocol and writes the run folder. The method config is checked before
// any work; a run stopped before its last epoch throws sct::Error (resume continues it).
TaskRunResult run_task(const TaskRunSpec& spec, const PretrainedBackbone& backbone, const TaskData& data, std::ostream& log);

}  // namespace sct
