// Fine-tuning a Backbone with whatever PEFT method is attached to it, by the SCT reference's
// recipe (SCT-REFERENCE.md §3): AdamW with PyTorch's defaults (betas 0.9/0.999, eps 1e-8), one group,
// weight decay on every trainable tensor; the cosine schedule of lr_schedule.h set once per epoch;
// timm's label-smoothing cross-entropy; batches of a shuffled, drop_last BatchLoader.
//
// The trainer does not know the method: it trains every parameter with requires_grad and nothing else.
// The caller builds the model (drop path included), attaches the method and moves it to its device.
//
// Run directory:
//   config.json              the resolved TrainConfig
//   train_state.safetensors  everything `resume` needs (train_state.h), rewritten after every epoch
//   metrics.jsonl / .csv     one row per epoch (metrics.h)
//   result.json              when the run is complete: final / best evaluation
//   trained.safetensors      when complete: the trained tensors (trainable parameters and buffers)
//
// Determinism: torch's generators are seeded with config.seed at the start and saved with every
// state, the loader draws from (seed, epoch), so on the CPU the same seed and configuration give the
// same metrics, and a stopped run resumed from its state ends bit-identical to an uninterrupted one.
#pragma once
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sct/core/error.h"
#include "sct/data/image_cache.h"
#include "sct/model/backbone.h"
#include "sct/data/eval_source.h"
#include "sct/train/metrics.h"
#include "sct/train/train_config.h"

namespace sct {

// The error a non-finite training loss raises (a diverging learning rate, typically).
class NonFiniteLoss : public Error {
 public:
  using Error::Error;
};

struct TrainInputs {
  std::shared_ptr<const ImageCache> train;  // the training images
  std::shared_ptr<EvalSource> eval;         // evaluated after the last epoch (and periodically); may be null
  std::string eval_name = "test";           // names the metric: "test" -> test_acc
  int64_t eval_every = 0;                   // > 0: also after every eval_every-th epoch (epochs 9, 19, ...)
  bool optimistic = false;                  // model selection on this evaluation set: flag every output
};

struct TrainerOptions {
  bool resume = false;              // continue from an existing train_state.safetensors (else it is an error)
  std::ostream* log = nullptr;      // progress and per-epoch lines; nullptr: std::cerr
  std::optional<bool> interactive;  // a self-overwriting step line; default: log is a terminal's stderr
  // Called after each epoch, once its state is on disk. Returning false stops the run there, as if
  // it had been killed (fit() then returns with complete = false); resume continues it.
  std::function<bool(const EpochMetrics&)> on_epoch_end;
};

struct TrainResult {
  bool complete = false;
  std::string eval_name;
  bool optimistic = false;
  std::vector<EpochMetrics> epochs;
  std::optional<double> final_acc;  // evaluation after the last epoch
  std::optional<double> best_acc;   // the best periodic evaluation (the first epoch reaching it)
  int64_t best_epoch = -1;

  // Training and evaluation time of all its epochs, from their metrics: a resumed run counts the
  // epochs of earlier sessions too, and re-reading a finished run gives its original time.
  double seconds() const;
  nlohmann::json to_json() const;
};

class Trainer {
 public:
  // Throws sct::Error for an invalid config, a model without trainable parameters, a model whose
  // drop path differs from config.drop_path, or missing training images.
  Trainer(Backbone model, TrainInputs inputs, TrainConfig config, std::string run_dir,
          TrainerOptions options = {});

  // Trains the remaining epochs. A non-finite loss stops the run with NonFiniteLoss naming the epoch
  // and step; the state saved after the previous epoch stays on disk.
  TrainResult fit();

 private:
  struct Session;
  EpochMetrics train_epoch(Session& s, int64_t epoch);

  Backbone model_;
  TrainInputs inputs_;
  TrainConfig config_;
  std::string run_dir_;
  TrainerOptions options_;
};

}  // namespace sct
