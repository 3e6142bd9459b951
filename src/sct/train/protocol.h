// The three ways a run turns training into one reported number (SCT-REFERENCE.md §3):
//   final                   train on train800val200, report test top-1 after the last epoch (default)
//   tune                    the paper's protocol: for every (lr, wd) of the grid train on train800 and
//                           score on val200; retrain the best on train800val200 and report test top-1.
//                           tune_method_options adds axes over method options (vpt's prompt length)
//   reference-best-of-test  the released code: train on train800val200, evaluate test every eval_every
//                           epochs, report the best -- model selection on the test set, so every output
//                           says optimistic: true
// The models come from a factory, so that the driver, like the trainer, never knows the method.
//
// Run directory: final and reference-best-of-test train in <run> itself; tune trains each grid point
// in <run>/tune/lr<lr>_wd<wd>[_<option><value>...] and the retraining in <run>/final.
// <run>/summary.json holds the outcome.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "sct/data/image_cache.h"
#include "sct/model/backbone.h"
#include "sct/data/eval_source.h"
#include "sct/train/train_config.h"
#include "sct/train/trainer.h"

namespace sct {

// Builds a fresh model with its method attached, on the device to train on, for one training run of
// `config` on `train` (a method that selects channels from data selects them on `train`). The driver
// seeds torch's generators with config.seed before each call, so every run starts from the same
// initialisation.
using ModelFactory = std::function<Backbone(const TrainConfig& config, const ImageCache& train)>;

struct ProtocolData {
  std::shared_ptr<const ImageCache> train800val200;  // every protocol's final training set
  std::shared_ptr<EvalSource> test;
  std::shared_ptr<const ImageCache> train800;  // tune only
  std::shared_ptr<EvalSource> val200;          // tune only
};

struct TuneTrial {
  double lr = 0.0;
  double weight_decay = 0.0;
  std::map<std::string, double> method_options;  // the point on the tune_method_options axes
  double val_acc = 0.0;   // top-1 % on val200 after the last epoch
  bool diverged = false;  // stopped by a non-finite loss; never chosen
};

struct ProtocolResult {
  Protocol protocol = Protocol::Final;
  bool complete = false;  // false when a run was stopped through on_epoch_end
  double test_acc = 0.0;  // the reported number (top-1 %), once complete
  bool optimistic = false;
  double lr = 0.0;  // of the reported run (tune: the chosen point)
  double weight_decay = 0.0;
  std::map<std::string, double> method_options;
  std::vector<TuneTrial> trials;  // tune: the grid in order
  TrainResult run;                // the reported run
  double train_seconds = 0.0;     // TrainResult::seconds() of every training, the grid's included

  nlohmann::json to_json() const;
};

// Runs `config.protocol`. options.resume continues stopped runs and skips finished ones.
// Throws sct::Error when data the protocol needs is missing. `finish`, when given, runs once the
// reported training is complete and before summary.json says so: what a complete run also consists of
// (the task folder) is then on disk whenever summary.json is, even if the process is killed between.
ProtocolResult run_protocol(const ModelFactory& make_model, const ProtocolData& data, const TrainConfig& config,
                            const std::string& run_dir, const TrainerOptions& options = {},
                            const std::function<void(const ProtocolResult&)>& finish = {});

}  // namespace sct
