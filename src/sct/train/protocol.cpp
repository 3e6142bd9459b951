#include "sct/train/protocol.h"

#include <ATen/Context.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "sct/core/error.h"
#include "sct/core/fault_point.h"
#include "sct/io/atomic_file.h"
#include "sct/parallel/process_group.h"

namespace sct {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

TrainResult train_one(const ModelFactory& make_model, const TrainConfig& config,
                      const std::shared_ptr<const ImageCache>& train, TrainInputs inputs, const std::string& dir,
                      const TrainerOptions& options) {
  at::manual_seed(config.seed);
  Backbone model = make_model(config, *train);
  inputs.train = train;
  return Trainer(model, std::move(inputs), config, dir, options).fit();
}

// Every distinct double gets a distinct, readable folder name (nlohmann prints the shortest round trip).
std::string trial_name(double lr, double wd, const std::map<std::string, double>& options) {
  std::string name = "lr" + json(lr).dump() + "_wd" + json(wd).dump();
  for (const auto& [option, value] : options) name += "_" + option + json(value).dump();
  return name;
}

// Every point of the method-option axes (the cartesian product of the grids), in map order; one empty
// point without axes.
std::vector<std::map<std::string, double>> option_points(const std::map<std::string, std::vector<double>>& grids) {
  std::vector<std::map<std::string, double>> points{{}};
  for (const auto& [option, values] : grids) {
    std::vector<std::map<std::string, double>> next;
    for (const auto& point : points)
      for (double v : values) {
        next.push_back(point);
        next.back()[option] = v;
      }
    points = std::move(next);
  }
  return points;
}

void require(bool ok, const std::string& what) {
  if (!ok) throw Error("protocol needs " + what);
}

}  // namespace

nlohmann::json ProtocolResult::to_json() const {
  json trials_json = json::array();
  for (const TuneTrial& t : trials)
    trials_json.push_back({{"lr", t.lr},
                           {"weight_decay", t.weight_decay},
                           {"method_options", t.method_options},
                           {"val_acc", t.diverged ? json(nullptr) : json(t.val_acc)},
                           {"diverged", t.diverged}});
  return {{"protocol", protocol_name(protocol)},
          {"complete", complete},
          {"test_acc", complete ? json(test_acc) : json(nullptr)},
          {"optimistic", optimistic},
          {"lr", lr},
          {"weight_decay", weight_decay},
          {"method_options", method_options},
          {"trials", trials_json},
          {"train_seconds", train_seconds},
          {"run", run.to_json()}};
}

ProtocolResult run_protocol(const ModelFactory& make_model, const ProtocolData& data, const TrainConfig& config,
                            const std::string& run_dir, const TrainerOptions& options,
                            const std::function<void(const ProtocolResult&)>& finish) {
  config.validate();
  require(data.train800val200 != nullptr, "train800val200");
  require(data.test != nullptr, "a test set");
  ProtocolResult result;
  result.protocol = config.protocol;
  TrainConfig chosen = config;
  std::string final_dir = run_dir;

  if (config.protocol == Protocol::Tune) {
    require(data.train800 != nullptr && data.val200 != nullptr, "train800 and val200 to tune on");
    const std::vector<double> lrs = config.tune_lrs.empty() ? std::vector<double>{config.lr} : config.tune_lrs;
    const std::vector<double> wds =
        config.tune_weight_decays.empty() ? std::vector<double>{config.weight_decay} : config.tune_weight_decays;
    const std::vector<std::map<std::string, double>> points = option_points(config.tune_method_options);
    const TuneTrial* best = nullptr;
    result.trials.reserve(lrs.size() * wds.size() * points.size());  // `best` points into it
    for (double lr : lrs)
      for (double wd : wds)
        for (const auto& point : points) {
          TrainConfig trial = config;
          trial.lr = lr;
          trial.weight_decay = wd;
          for (const auto& [option, value] : point) trial.method_options[option] = value;
          TrainInputs in;
          in.eval = data.val200;
          in.eval_name = "val";
          const std::string name = trial_name(lr, wd, point);
          const std::string dir = (fs::path(run_dir) / "tune" / name).string();
          try {
            result.run = train_one(make_model, trial, data.train800, in, dir, options);
          } catch (const NonFiniteLoss& e) {
            // A rate that diverges is an outcome of the search, not a failure of it.
            result.trials.push_back({lr, wd, trial.method_options, 0.0, true});
            (options.log ? *options.log : std::cerr) << "tune: " << name << " diverged: " << e.what() << "\n";
            continue;
          }
          result.train_seconds += result.run.seconds();
          if (!result.run.complete) return result;
          result.trials.push_back({lr, wd, trial.method_options, *result.run.final_acc, false});
          if (!best || result.trials.back().val_acc > best->val_acc) best = &result.trials.back();  // first of ties
        }
    if (!best) throw Error("tune: every grid point diverged (see " + (fs::path(run_dir) / "tune").string() + ")");
    chosen.lr = best->lr;
    chosen.weight_decay = best->weight_decay;
    chosen.method_options = best->method_options;
    final_dir = (fs::path(run_dir) / "final").string();
  }

  TrainInputs in;
  in.eval = data.test;
  in.eval_name = "test";
  if (config.protocol == Protocol::ReferenceBestOfTest) {
    in.eval_every = config.eval_every;
    in.optimistic = true;
  }
  result.run = train_one(make_model, chosen, data.train800val200, in, final_dir, options);
  result.train_seconds += result.run.seconds();
  result.complete = result.run.complete;
  result.optimistic = in.optimistic;
  result.lr = chosen.lr;
  result.weight_decay = chosen.weight_decay;
  result.method_options = chosen.method_options;
  if (result.complete)
    result.test_acc = *(config.protocol == Protocol::ReferenceBestOfTest ? result.run.best_acc : result.run.final_acc);
  if (result.complete && finish) finish(result);
  if (result.complete && parallel::is_writer()) {
    fault_point("summary-write");
    write_file_atomically((fs::path(run_dir) / "summary.json").string(),
                          [&](std::ostream& out) { out << result.to_json().dump(2) << '\n'; });
  }
  return result;
}

}  // namespace sct
