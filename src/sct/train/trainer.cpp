#include "sct/train/trainer.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/optim/adamw.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "sct/core/error.h"
#include "sct/core/fault_point.h"
#include "sct/data/batch_loader.h"
#include "sct/data/rand_augment.h"
#include "sct/io/atomic_file.h"
#include "sct/io/safetensors.h"
#include "sct/model/batch_shard.h"
#include "sct/model/parameter_count.h"
#include "sct/parallel/process_group.h"
#include "sct/train/evaluate.h"
#include "sct/train/loss.h"
#include "sct/core/progress.h"
#include "sct/train/train_state.h"

namespace sct {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Fields that do not change what one run computes: a resumed run may differ in them. (The tune grid
// is the protocol driver's; a run trains at one lr.)
const char* const kResumeFreeFields[] = {"workers", "eval_batch_size", "tune_lrs", "tune_weight_decays",
                                         "tune_method_options", "recompute"};

// The keys whose values differ, for a resume refused because the configuration changed.
std::string config_differences(json saved, json current) {
  for (const char* key : kResumeFreeFields) {
    saved.erase(key);
    current.erase(key);
  }
  std::string diff;
  for (const auto& item : current.items()) {
    const auto it = saved.find(item.key());
    if (it == saved.end() || *it != item.value())
      diff += "\n  " + item.key() + ": saved " + (it == saved.end() ? std::string("(absent)") : it->dump()) + ", now " +
              item.value().dump();
  }
  for (const auto& item : saved.items())
    if (!current.contains(item.key()))
      diff += "\n  " + item.key() + ": saved " + item.value().dump() + ", now (absent)";
  return diff;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

std::string scientific(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.3e", v);
  return buf;
}

// Data parallelism's one collective per step: every trainable gradient, the step's loss and its
// correct count in one flat fp32 buffer, summed over the ranks. Each rank weighted its loss by its
// share of the global batch, so the sums are the global batch's mean loss and that loss's gradient.
struct StepTotals {
  double loss = 0.0;
  int64_t correct = 0;
  int64_t floats = 0;  // the buffer's length
};

StepTotals all_reduce_step(const std::vector<at::Tensor>& trainable, const at::Tensor& weighted_loss,
                           const at::Tensor& correct) {
  std::vector<at::Tensor> parts;
  for (const at::Tensor& p : trainable)
    if (p.grad().defined()) parts.push_back(p.grad().flatten());  // undefined on every rank alike
  parts.push_back(weighted_loss.detach().to(at::kFloat).reshape({1}));
  parts.push_back(correct.to(at::kFloat).reshape({1}));
  at::Tensor flat = at::cat(parts);
  parallel::all_reduce_sum(flat);
  int64_t pos = 0;
  for (const at::Tensor& p : trainable)
    if (p.grad().defined()) {
      at::Tensor g = p.grad();
      g.copy_(flat.narrow(0, pos, g.numel()).view_as(g));
      pos += g.numel();
    }
  const at::Tensor totals = flat.narrow(0, pos, 2).to(at::kCPU, at::kDouble);
  return {totals[0].item<double>(), std::llround(totals[1].item<double>()), flat.numel()};
}

// Every rank starts from the writer's trainable tensors, whatever initialised or loaded them.
void broadcast_trainable(const std::vector<at::Tensor>& trainable) {
  if (!parallel::active()) return;
  std::vector<at::Tensor> flat_parts;
  for (const at::Tensor& p : trainable) flat_parts.push_back(p.detach().flatten());
  at::Tensor flat = at::cat(flat_parts);
  parallel::broadcast_from_writer(flat);
  torch::NoGradGuard no_grad;
  int64_t pos = 0;
  for (const at::Tensor& p : trainable) {
    p.detach().copy_(flat.narrow(0, pos, p.numel()).view_as(p));
    pos += p.numel();
  }
}

}  // namespace

double TrainResult::seconds() const {
  double total = 0.0;
  for (const EpochMetrics& m : epochs) total += m.seconds + m.eval_seconds;
  return total;
}

nlohmann::json TrainResult::to_json() const {
  const auto opt = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
  return {{"complete", complete},
          {"eval", eval_name},
          {"final_" + eval_name + "_acc", opt(final_acc)},
          {"best_" + eval_name + "_acc", opt(best_acc)},
          {"best_epoch", best_epoch},
          {"epochs_done", static_cast<int64_t>(epochs.size())},
          {"optimistic", optimistic}};
}

// What lives for one fit(): optimizer, loader, progress, clocks.
struct Trainer::Session {
  at::Device device{at::kCPU};
  std::vector<at::Tensor> trainable;
  std::unique_ptr<torch::optim::AdamW> optimizer;
  std::unique_ptr<BatchLoader> loader;
  std::unique_ptr<ProgressBar> bar;
  CosineSchedule schedule;
  std::string state_path;
  int64_t epochs_done = 0;  // what the state on disk holds
  Clock::time_point start;
  int64_t steps_this_session = 0;
  int64_t steps_left = 0;
  // Data parallelism's per-step all-reduce: how many, of how many floats, how long (waiting included).
  int64_t reduces = 0, reduce_floats = 0;
  double reduce_seconds = 0.0;
};

Trainer::Trainer(Backbone model, TrainInputs inputs, TrainConfig config, std::string run_dir,
                 TrainerOptions options)
    : model_(std::move(model)),
      inputs_(std::move(inputs)),
      config_(std::move(config)),
      run_dir_(std::move(run_dir)),
      options_(std::move(options)) {
  config_.validate();
  if (!inputs_.train || inputs_.train->num_images() == 0) throw Error("no training images");
  if (inputs_.eval_every < 0) throw Error("eval_every must be >= 0, got " + std::to_string(inputs_.eval_every));
  // The trainer does not build the model, so it can only check that the recipe's drop path is the one built in.
  if (model_->drop_path_rate() != config_.drop_path)
    throw Error("the model was built with drop path " + std::to_string(model_->drop_path_rate()) +
                " but the configuration says " + std::to_string(config_.drop_path));
  if (to_string(model_->precision()) != config_.precision)
    throw Error("the model runs in " + to_string(model_->precision()) + " but the configuration says " +
                config_.precision);
  bool any = false;
  for (const auto& p : model_->named_parameters()) {
    any = any || p.value().requires_grad();
    // Mixed precision keeps master weights: AdamW's small updates vanish in bf16's 8-bit mantissa.
    if (p.value().requires_grad() && p.value().scalar_type() != at::kFloat)
      throw Error("trainable tensor " + p.key() + " is " + std::string(c10::toString(p.value().scalar_type())) +
                  "; trainable tensors must be fp32 (set_precision converts only frozen ones)");
  }
  if (!any) throw Error("the model has no trainable parameters (attach a method first)");
}

TrainResult Trainer::fit() {
  std::ostream& log = options_.log ? *options_.log : std::cerr;
  const bool interactive = options_.interactive.value_or(options_.log == nullptr && stderr_is_tty());
  // Data-parallel: rank 0 alone writes the run folder; every rank computes the same state.
  const bool writer = parallel::is_writer();
  if (writer) fs::create_directories(run_dir_);

  Session s;
  s.device = model_->parameters().front().device();
  model_->set_recompute(config_.recompute);
  s.schedule = config_.schedule();
  s.state_path = (fs::path(run_dir_) / "train_state.safetensors").string();

  std::vector<at::Tensor>& trainable = s.trainable;
  for (const at::Tensor& p : model_->parameters())
    if (p.requires_grad()) trainable.push_back(p);
  // lr is set per epoch from the schedule; betas (0.9, 0.999) and eps 1e-8 are AdamWOptions' defaults.
  s.optimizer = std::make_unique<torch::optim::AdamW>(
      trainable, torch::optim::AdamWOptions(s.schedule.epoch_lr(0)).weight_decay(config_.weight_decay));

  MetricsLog metrics(inputs_.eval_name, inputs_.optimistic);
  const json config_json = config_.to_json();
  if (parallel::broadcast_from_writer(int64_t(writer && fs::exists(s.state_path))) != 0) {
    if (!options_.resume)
      throw Error(run_dir_ + " already holds a training state; resume it or choose another run directory");
    if (!fs::exists(s.state_path))
      throw Error("rank " + std::to_string(parallel::rank()) + " cannot read " + s.state_path +
                  ": a data-parallel run resumes where every rank reads rank 0's run folder (a shared file system)");
    const TrainStateInfo info = read_train_state_info(s.state_path);
    if (const std::string diff = config_differences(info.config, config_json); !diff.empty())
      throw Error("cannot resume " + run_dir_ + " with a different configuration:" + diff);
    load_train_state(s.state_path, *model_, *s.optimizer);
    metrics.load_json(info.metrics);
    s.epochs_done = info.epochs_done;
    if (static_cast<int64_t>(metrics.epochs().size()) != s.epochs_done)
      throw Error(s.state_path + ": holds " + std::to_string(metrics.epochs().size()) + " metric rows for " +
                  std::to_string(s.epochs_done) + " epochs");
    log << "resuming " << run_dir_ << " after epoch " << s.epochs_done << " of " << config_.epochs << "\n";
  } else {
    at::manual_seed(config_.seed);
    // The start is a state too: a failure in epoch 0 leaves something to resume from.
    if (writer) save_train_state(s.state_path, *model_, *s.optimizer, {0, config_json, metrics.to_json()});
  }
  broadcast_trainable(trainable);
  if (writer) {
    write_file_atomically((fs::path(run_dir_) / "config.json").string(),
                          [&](std::ostream& out) { out << config_json.dump(2) << '\n'; });
    metrics.write(run_dir_);  // a resumed run drops rows written after its state was saved
  }

  BatchLoaderOptions lo;
  // A few-shot set smaller than one batch trains on all of it each step (drop_last would leave none).
  lo.batch_size = std::min(config_.batch_size, inputs_.train->num_images());
  if (lo.batch_size < config_.batch_size)
    log << "train: " << inputs_.train->num_images() << " training images, fewer than batch_size " << config_.batch_size
        << ": one batch of " << lo.batch_size << " per epoch\n";
  lo.shuffle = true;
  lo.drop_last = true;
  lo.normalization = config_.resolved_normalization();
  lo.seed = config_.seed;
  lo.workers = config_.workers;
  lo.shard = parallel::shard();
  if (config_.train_aug) {
    lo.hflip = true;
    lo.augment = [ra = std::make_shared<const RandAugment>(RandAugmentConfig::parse(config_.rand_augment))](
                     cv::Mat& rgb, std::mt19937_64& rng) { (*ra)(rgb, rng); };
  }
  s.loader = std::make_unique<BatchLoader>(inputs_.train, lo);
  const int64_t steps_per_epoch = s.loader->batches_per_epoch();
  s.bar = std::make_unique<ProgressBar>(log, interactive, config_.epochs, steps_per_epoch);
  s.steps_left = (config_.epochs - s.epochs_done) * steps_per_epoch;
  s.start = Clock::now();

  log << "train: " << config_json.dump() << "\n"
      << "train: " << describe(count_parameters(*model_)) << "; " << inputs_.train->num_images() << " images, "
      << steps_per_epoch << " steps per epoch on " << s.device.str()
      << (inputs_.eval ? "; " + inputs_.eval_name + " set " + std::to_string(inputs_.eval->num_images()) + " images"
                       : std::string())
      << (inputs_.optimistic ? " (model selection on it: optimistic)" : "") << "\n";

  for (int64_t epoch = s.epochs_done; epoch < config_.epochs; ++epoch) {
    EpochMetrics m = train_epoch(s, epoch);
    const bool last = epoch + 1 == config_.epochs;
    const bool periodic = inputs_.eval_every > 0 && (epoch + 1) % inputs_.eval_every == 0;
    if (inputs_.eval && (last || periodic)) {
      if (last) fault_point("final-eval");
      const Clock::time_point t = Clock::now();
      m.eval_acc = evaluate_top1(*model_, *inputs_.eval).percent();
      m.eval_seconds = seconds_since(t);
    }
    metrics.add(m);
    if (writer) {
      save_train_state(s.state_path, *model_, *s.optimizer, {epoch + 1, config_json, metrics.to_json()});
      metrics.write(run_dir_);
      fault_point("epoch-end");
    }
    s.epochs_done = epoch + 1;
    s.bar->line("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(config_.epochs) + " lr " +
                scientific(m.lr) + " loss " + fixed(m.train_loss, 4) + " train_acc " + fixed(m.train_acc, 2) +
                (m.eval_acc ? " " + inputs_.eval_name + "_acc " + fixed(*m.eval_acc, 2) : std::string()) + " " +
                fixed(m.images_per_s, 1) + " img/s " + format_duration(m.seconds) +
                (inputs_.optimistic && m.eval_acc ? " (optimistic)" : ""));
    if (options_.on_epoch_end && !options_.on_epoch_end(m)) break;
  }

  if (s.reduces > 0)
    log << "train: data-parallel over " << parallel::world_size() << " ranks: one all-reduce of " << s.reduce_floats
        << " floats (" << fixed(double(s.reduce_floats) * 4.0 / 1024.0, 1) << " KB) per step, "
        << fixed(1e3 * s.reduce_seconds / double(s.reduces), 2) << " ms on average (waiting for the slowest rank "
        << "included)\n";
  TrainResult result;
  result.complete = s.epochs_done == config_.epochs;
  result.eval_name = inputs_.eval_name;
  result.optimistic = inputs_.optimistic;
  result.epochs = metrics.epochs();
  for (const EpochMetrics& m : result.epochs)
    if (m.eval_acc && (!result.best_acc || *m.eval_acc > *result.best_acc)) {  // strict: the earliest best
      result.best_acc = m.eval_acc;
      result.best_epoch = m.epoch;
    }
  if (result.complete) result.final_acc = result.epochs.back().eval_acc;
  if (result.complete && writer) {
    // The trained tensors first: result.json, which says complete, is never there without them.
    TensorMap trained;
    for (const auto& kv : model_->named_parameters(true))
      if (kv.value().requires_grad()) trained[kv.key()] = kv.value().detach();
    for (const auto& kv : model_->named_buffers(true)) trained[kv.key()] = kv.value();
    save_safetensors((fs::path(run_dir_) / "trained.safetensors").string(), trained,
                     {{"config", config_json.dump()}, {"result", result.to_json().dump()}});
    fault_point("result-write");
    write_file_atomically((fs::path(run_dir_) / "result.json").string(),
                          [&](std::ostream& out) { out << result.to_json().dump(2) << '\n'; });
  }
  return result;
}

EpochMetrics Trainer::train_epoch(Session& s, int64_t epoch) {
  EpochMetrics m;
  m.epoch = epoch;
  m.lr = s.schedule.epoch_lr(epoch);
  for (auto& group : s.optimizer->param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(m.lr);

  model_->train();  // drop path on
  s.loader->start_epoch(epoch);
  at::Tensor correct = at::zeros({}, at::TensorOptions().dtype(at::kLong).device(s.device));
  double loss_sum = 0.0;
  const Clock::time_point t0 = Clock::now();
  Batch batch;
  while (s.loader->next(batch)) {
    const at::Tensor images = batch.images.to(s.device, /*non_blocking=*/true);  // (B, 3, S, S)
    const at::Tensor labels = batch.labels.to(s.device, /*non_blocking=*/true);  // (B)
    // Data-parallel: B of the global batch's rows, drawing their own rows' noise (batch_shard.h).
    const BatchShardScope shard_scope({batch.first_row, parallel::active() ? batch.global_rows : 0});
    const at::Tensor logits = model_->forward(images);  // (B, C)
    at::Tensor loss = label_smoothing_cross_entropy(logits, labels, config_.label_smoothing);
    if (parallel::active()) loss = loss * (double(labels.size(0)) / double(batch.global_rows));
    s.optimizer->zero_grad();
    loss.backward();
    const at::Tensor batch_correct = logits.detach().argmax(1).eq(labels).sum();
    double value = 0.0;
    if (parallel::active()) {
      const Clock::time_point t = Clock::now();
      const StepTotals totals = all_reduce_step(s.trainable, loss, batch_correct);
      s.reduce_seconds += seconds_since(t);
      ++s.reduces;
      s.reduce_floats = totals.floats;
      value = totals.loss;
      correct.add_(totals.correct);
    }
    s.optimizer->step();
    fault_point("train-step");
    // The step's one host sync, read only once the whole step is queued, so that it never splits the
    // forward from the backward on an asynchronous device. A non-finite loss has by then already
    // reached the parameters in memory, which is why the error points at the state on disk.
    if (!parallel::active()) {
      correct.add_(batch_correct);  // stays on the device until the epoch ends
      value = loss.item<double>();
    }
    if (!std::isfinite(value))
      throw NonFiniteLoss("non-finite training loss (" + std::to_string(value) + ") at epoch " + std::to_string(epoch) +
                          ", step " + std::to_string(m.steps) + " (both counted from 0), lr " + scientific(m.lr) +
                          "; the last good state, after " + std::to_string(s.epochs_done) + " epochs, is kept in " +
                          s.state_path);
    loss_sum += value;
    m.images += parallel::active() ? batch.global_rows : labels.size(0);
    ++m.steps;
    ++s.steps_this_session;
    --s.steps_left;
    const double elapsed = seconds_since(t0);
    s.bar->step(epoch, m.steps - 1, value, m.lr, double(m.images) / elapsed,
                seconds_since(s.start) / double(s.steps_this_session) * double(s.steps_left));
  }
  m.seconds = seconds_since(t0);
  m.train_loss = loss_sum / double(m.steps);
  m.train_acc = 100.0 * double(correct.item<int64_t>()) / double(m.images);
  m.images_per_s = double(m.images) / m.seconds;
  return m;
}

}  // namespace sct
