// The training settings each method trains with on a given backbone (configs/methods/<model>.json).
// A task recipe (recipe.h) is SCT's per-task setting; the other methods need learning rates of their
// own -- full fine-tuning wants rates ten times below those that suit a 0.1%-sized module -- and the
// published baselines train without SCT's RandAugment and label smoothing, so sct train lays the
// method's entry over the task recipe. The file names its source: a published script, or the
// `sct compare --protocol tune` run that chose the values on val200.
//
//   {"model": "vit_base_patch16_224", "source": "...",
//    "methods": {"lora": {"lr": 0.001, "weight_decay": 0.0001, "train_aug": false, "label_smoothing": 0.0,
//                         "tune_lrs": [0.0003, 0.001, 0.003]},
//                "vpt": {..., "task_method_options": {"cifar100": {"length": 10}, ...},
//                        "tune_method_options": {"length": [1, 5, 10, 50, 100, 200]}}, ...}}
//
// Every entry field is optional; a method without an entry keeps the task recipe's values.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sct/train/train_config.h"

namespace sct {

struct MethodRecipe {
  std::string file;  // where it came from, for messages and run summaries
  std::string model;
  std::string method;
  std::string source;
  std::optional<double> lr, weight_decay;
  std::optional<bool> train_aug;           // flip + RandAugment, or none
  std::optional<double> label_smoothing;  // in [0, 1)
  std::vector<double> tune_lrs, tune_weight_decays;  // the --protocol tune grid around lr
  // Method options per task (VPT's published prompt length per VTAB task), keyed by the task recipe's
  // name, and the tune axes over method options.
  std::map<std::string, std::map<std::string, double>> task_method_options;
  std::map<std::string, std::vector<double>> tune_method_options;

  // Sets the fields the entry names; the method options of config.task when the entry has them.
  void apply_to(TrainConfig& config) const;
};

// `method`'s entry in a method-recipe file; std::nullopt when the file has none for it. Throws
// sct::Error naming the file for unreadable JSON, unknown methods or fields, or bad values.
std::optional<MethodRecipe> load_method_recipe(const std::string& path, const std::string& method);

// `method`'s entry in <dir>/<model>.json for the first of `dirs` holding that file (default: the
// configs/methods folders, found like the task recipes); std::nullopt without a file or an entry.
std::optional<MethodRecipe> find_method_recipe(const std::string& model, const std::string& method,
                                               const std::vector<std::string>& dirs);
std::optional<MethodRecipe> find_method_recipe(const std::string& model, const std::string& method);

}  // namespace sct
