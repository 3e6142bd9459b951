// Per-task training recipes of the SCT reference for the 19 VTAB-1K tasks, shipped as JSON files
// (configs/vtab1k/<task>.json, transcribed from shared/reference/vtab1k.tsv).
#pragma once
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "sct/train/train_config.h"

namespace sct {

struct VtabRecipe {
  std::string task;   // canonical name, e.g. "cifar100"
  std::string group;  // natural | specialized | structured
  int64_t classes = 0;
  double lr = 0.0;
  double weight_decay = 0.0;
  double label_smoothing = 0.0;
  bool train_aug = false;
  double scale = 1.0;          // the SCT module's scale (a method option, not the trainer's)
  bool scale_on_x = false;     // "scaleonx" in the file
  double reported_top1 = 0.0;  // the paper's SCT K=96 test top-1 (%)

  // Copies task, lr, weight_decay, label_smoothing and train_aug into `config`.
  void apply_to(TrainConfig& config) const;
  // A method option the recipe sets: "scale" or "scale_on_x" (sct's); throws sct::Error for others.
  nlohmann::json method_option(const std::string& key) const;
};

// Where configuration files of one kind ("vtab1k", "methods") are looked up, in order:
// $SCT_CONFIG_DIR/<kind>, ./configs/<kind>, and configs/<kind> beside the running executable and
// beside its parent folder (a build folder inside the source tree).
std::vector<std::string> default_config_dirs(const std::string& kind);

// `task_or_path`: a .json file, or a task name or alias (e.g. "cifar") looked up as <dir>/<task>.json
// in `dirs`. Every field is required; unknown fields are errors. Throws sct::Error naming the file or
// the folders searched.
VtabRecipe load_recipe(const std::string& task_or_path, const std::vector<std::string>& dirs = default_config_dirs("vtab1k"));

}  // namespace sct
