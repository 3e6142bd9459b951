#include "sct/train/train_config.h"

#include <nlohmann/json.hpp>

#include "sct/core/error.h"
#include "sct/core/json_error.h"
#include "sct/core/json_fields.h"
#include "sct/data/rand_augment.h"

namespace sct {

// Found by argument-dependent lookup from json_fields' readers and writers.
static void read(const nlohmann::json& v, Protocol& out) { out = parse_protocol(v.get<std::string>()); }
static nlohmann::json write(const Protocol& p) { return protocol_name(p); }

namespace {

using nlohmann::json;

// The one list of fields: serialisation, parsing and the unknown-key check all walk it, so a field
// added here is written, read and overridable at once (a hand-kept list per direction would drift).
template <typename Config, typename Visit>
void visit_fields(Config& c, Visit&& visit) {
  visit("task", c.task);
  visit("epochs", c.epochs);
  visit("batch_size", c.batch_size);
  visit("lr", c.lr);
  visit("weight_decay", c.weight_decay);
  visit("warmup_epochs", c.warmup_epochs);
  visit("warmup_lr", c.warmup_lr);
  visit("min_lr", c.min_lr);
  visit("label_smoothing", c.label_smoothing);
  visit("drop_path", c.drop_path);
  visit("seed", c.seed);
  visit("train_aug", c.train_aug);
  visit("rand_augment", c.rand_augment);
  visit("normalization", c.normalization);
  visit("eval_every", c.eval_every);
  visit("eval_batch_size", c.eval_batch_size);
  visit("protocol", c.protocol);
  visit("tune_lrs", c.tune_lrs);
  visit("tune_weight_decays", c.tune_weight_decays);
  visit("method_options", c.method_options);
  visit("tune_method_options", c.tune_method_options);
  visit("workers", c.workers);
  visit("precision", c.precision);
  visit("recompute", c.recompute);
}

void require(bool ok, const std::string& field, const std::string& rule) {
  if (!ok) throw Error("config: " + field + " " + rule);
}

}  // namespace

const char* protocol_name(Protocol p) {
  switch (p) {
    case Protocol::Final:
      return "final";
    case Protocol::Tune:
      return "tune";
    case Protocol::ReferenceBestOfTest:
      return "reference-best-of-test";
  }
  return "?";
}

Protocol parse_protocol(const std::string& name) {
  for (Protocol p : {Protocol::Final, Protocol::Tune, Protocol::ReferenceBestOfTest})
    if (name == protocol_name(p)) return p;
  throw Error("unknown protocol '" + name + "'; known: final, tune, reference-best-of-test");
}

void TrainConfig::validate() const {
  require(epochs >= 1, "epochs", "must be >= 1");
  require(batch_size >= 1, "batch_size", "must be >= 1");
  require(eval_batch_size >= 1, "eval_batch_size", "must be >= 1");
  require(eval_every >= 1, "eval_every", "must be >= 1");
  require(lr >= 0.0, "lr", "must be >= 0");
  require(weight_decay >= 0.0, "weight_decay", "must be >= 0");
  require(label_smoothing >= 0.0 && label_smoothing < 1.0, "label_smoothing", "must be in [0, 1)");
  require(drop_path >= 0.0 && drop_path < 1.0, "drop_path", "must be in [0, 1)");
  require(normalization == "imagenet" || normalization == "inception", "normalization",
          "must be imagenet or inception, got '" + normalization + "'");
  require(precision == "fp32" || precision == "bf16", "precision",
          "must be fp32 or bf16 (auto is resolved before a run), got '" + precision + "'");
  for (double v : tune_lrs) require(v >= 0.0, "tune_lrs", "must hold rates >= 0");
  for (double v : tune_weight_decays) require(v >= 0.0, "tune_weight_decays", "must hold decays >= 0");
  for (const auto& [option, values] : tune_method_options)
    require(!values.empty(), "tune_method_options", "needs at least one value for '" + option + "'");
  if (train_aug) RandAugmentConfig::parse(rand_augment).validate();
  schedule().validate();
}

CosineSchedule TrainConfig::schedule() const {
  CosineSchedule s;
  s.lr = lr;
  s.t_initial = epochs;
  s.warmup_t = warmup_epochs;
  s.warmup_lr_init = warmup_lr;
  s.lr_min = min_lr;
  return s;
}

Normalization TrainConfig::resolved_normalization() const {
  return normalization == "inception" ? Normalization::inception() : Normalization::imagenet();
}

nlohmann::json TrainConfig::to_json() const {
  return json_fields::to_json(*this, [](auto& c, auto&& visit) { visit_fields(c, visit); });
}

TrainConfig TrainConfig::from_json(const nlohmann::json& j, const TrainConfig& base) {
  return json_fields::from_json(j, base, [](auto& c, auto&& visit) { visit_fields(c, visit); }, "config");
}

TrainConfig TrainConfig::from_json(const nlohmann::json& j) { return from_json(j, TrainConfig{}); }

void apply_override(TrainConfig& config, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) throw Error("override must be key=value, got '" + assignment + "'");
  const std::string key = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  json value = json::parse(text, refuse_huge_numbers, /*allow_exceptions=*/false);
  if (value.is_discarded()) value = text;  // a bare word: protocol=tune, normalization=inception
  try {
    config = TrainConfig::from_json(json{{key, value}}, config);
  } catch (const Error& as_json) {
    if (value.is_string()) throw;
    // Text that happens to be JSON (task=123) still suits a string field; otherwise report the first error.
    try {
      config = TrainConfig::from_json(json{{key, text}}, config);
    } catch (const Error&) {
      throw as_json;
    }
  }
}

}  // namespace sct
