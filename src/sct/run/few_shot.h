// `sct fewshot` as a library call: NOAH's few-shot protocol (configs/fewshot/noah.json): every row
// (method) trained on every dataset at every shot count for every list seed, each run an `sct train`
// on `--data <root>/<dataset> --shots K --shot-seed S`, and one table in the layout of the paper's
// few-shot figure: test top-1, mean +- std over the seeds, a row per (dataset, method), a column per
// shot count; and a PNG of accuracy against shots, a panel per dataset, a line per method.
// The built-in dataset "fashion-mnist" (K per class drawn from Fashion-MNIST's training images by the
// seed) runs it offline.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sct/run/compare.h"

namespace sct {

// A few-shot protocol: where it comes from, its grid and its training settings.
struct FewShotRecipe {
  std::string name, source, not_reproduced;
  std::vector<std::string> datasets;
  std::vector<int64_t> shots, seeds;
  nlohmann::json train;  // TrainConfig fields, given to every run as --set key=value

  // `sct train` options for `train`: --epochs N and --set key=value, leaving out what `user_args`
  // (the options the user gives every run) set themselves, so that the user's word is the last.
  std::vector<std::string> train_args(const std::vector<std::string>& user_args = {}) const;
};

// `name_or_path`: a .json file, or a name looked up as configs/fewshot/<name>.json
// (default_config_dirs("fewshot")). Every field is required; unknown fields are errors.
FewShotRecipe load_few_shot_recipe(const std::string& name_or_path);

struct FewShotSpec {
  std::vector<ExperimentRow> rows;
  std::vector<std::string> datasets;  // folders under `data`, or "fashion-mnist" (built in, no data)
  std::string data;                   // NOAH's data/few-shot root
  std::vector<int64_t> shots, seeds;  // the list seeds (NOAH: 0, 1, 2)
  uint64_t seed = 42;                 // the training seed, the same for every run
  std::vector<std::string> train_args;  // given to every run after the recipe's (task data, model, ...)
  std::string out;                      // runs in <out>/<method>/<dataset>/shot<K>/seed<S>, table <out>/fewshot.*
};

ExperimentReport run_few_shot(const FewShotSpec& spec, ExperimentRunner& runner, std::ostream& log);

}  // namespace sct
