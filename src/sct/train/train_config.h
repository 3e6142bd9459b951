// Everything that decides a training run, with the SCT reference's values as defaults
// (SCT-REFERENCE.md §3). Serialised to JSON with every field, written into each run directory, and
// every field can be overridden from JSON or from a "key=value" string.
#pragma once
#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "sct/data/normalize.h"
#include "sct/train/lr_schedule.h"

namespace sct {

// How a run chooses and reports its number (SCT-REFERENCE.md §3, "Evaluation").
enum class Protocol {
  Final,                // train on train800val200, report test top-1 after the last epoch (default)
  Tune,                 // grid over lr x wd on train800 -> val200, retrain the best on all 1000, report test
  ReferenceBestOfTest,  // the released code: test every eval_every epochs, report the best (optimistic)
};

const char* protocol_name(Protocol p);             // "final" | "tune" | "reference-best-of-test"
Protocol parse_protocol(const std::string& name);  // throws sct::Error listing the names

struct TrainConfig {
  std::string task;  // informational: the recipe the run was built from ("" for none)
  int64_t epochs = 100;
  int64_t batch_size = 64;     // shuffled, drop_last: 15 steps per epoch on 1000 images
  double lr = 1e-3;            // peak learning rate (per task in the recipes)
  double weight_decay = 1e-4;  // AdamW's decoupled decay, on every trainable tensor
  int64_t warmup_epochs = 10;
  double warmup_lr = 1e-6;
  double min_lr = 1e-5;
  double label_smoothing = 0.1;  // 0.1 on natural, specialized and kitti; 0 on the other structured tasks
  double drop_path = 0.1;        // stochastic depth of the last block; applied by whoever builds the model
  uint64_t seed = 42;            // torch's generators at the start, and the loader's (seed, epoch) streams
  bool train_aug = false;        // horizontal flip 0.5, then RandAugment `rand_augment`
  std::string rand_augment = "rand-m9-mstd0.5-inc1";
  std::string normalization = "imagenet";  // imagenet | inception (0.5 / 0.5)
  int64_t eval_every = 10;                 // reference-best-of-test: evaluate after every eval_every-th epoch
  int64_t eval_batch_size = 64;            // for the caller's evaluation sources
  Protocol protocol = Protocol::Final;
  std::vector<double> tune_lrs;            // tune: the grid; empty = {lr}
  std::vector<double> tune_weight_decays;  // tune: the grid; empty = {weight_decay}
  // Numeric options of the comparison method laid over its config, e.g. {"length": 50} for vpt: what
  // the tune protocol varies, one grid per option (e.g. {"length": [1, 10, 50]}), crossed with lr x wd.
  std::map<std::string, double> method_options;
  std::map<std::string, std::vector<double>> tune_method_options;
  int workers = 0;                         // loader threads (<= 0: automatic); results do not depend on it
  std::string precision = "fp32";          // fp32 | bf16: what the model was set to (checked by the trainer)
  bool recompute = false;                  // per-block activation recomputation; results do not depend on it

  void validate() const;  // throws sct::Error naming the field

  CosineSchedule schedule() const;  // t_initial = epochs, as the reference
  Normalization resolved_normalization() const;

  nlohmann::json to_json() const;
  // `j` overrides the fields it names on top of `base` (or of the defaults); unknown keys and wrong
  // types are errors. Values are checked by validate().
  static TrainConfig from_json(const nlohmann::json& j, const TrainConfig& base);
  static TrainConfig from_json(const nlohmann::json& j);
};

// "key=value": value parsed as JSON when it is valid JSON (numbers, true, [0.1,0.2]), else taken as
// a string ("protocol=tune"). Throws sct::Error for an unknown key or a badly typed value.
void apply_override(TrainConfig& config, const std::string& assignment);

}  // namespace sct
