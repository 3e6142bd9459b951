// Per-epoch training metrics of a run, kept in memory and rewritten as a whole after every epoch into
// <run>/metrics.jsonl (one JSON object per epoch) and <run>/metrics.csv, each atomically (temporary
// file + rename), so a killed run never leaves a torn line and a resumed run rewrites exactly the
// epochs its saved state holds.
#pragma once
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

namespace sct {

struct EpochMetrics {
  int64_t epoch = 0;               // counted from 0
  double lr = 0.0;                 // the rate the epoch trained at
  double train_loss = 0.0;         // mean of the epoch's step losses
  double train_acc = 0.0;          // top-1 % on the training batches as trained (augmented, drop path on)
  std::optional<double> eval_acc;  // top-1 % on the evaluation set, when it was evaluated after this epoch
  int64_t steps = 0;
  int64_t images = 0;
  double images_per_s = 0.0;  // training throughput (evaluation excluded)
  double seconds = 0.0;       // training time of the epoch (evaluation excluded)
  double eval_seconds = 0.0;
};

class MetricsLog {
 public:
  // `eval_name` names the evaluated split in the columns ("test" -> test_acc); `optimistic` marks
  // every line of a run that selects on the test set (protocol reference-best-of-test).
  MetricsLog(std::string eval_name, bool optimistic);

  void add(const EpochMetrics& m) { epochs_.push_back(m); }
  const std::vector<EpochMetrics>& epochs() const { return epochs_; }
  const std::string& eval_name() const { return eval_name_; }
  bool optimistic() const { return optimistic_; }

  nlohmann::json epoch_json(const EpochMetrics& m) const;
  std::string csv_header() const;
  std::string csv_row(const EpochMetrics& m) const;

  // The whole log (JSON array of epoch_json) and back, for the training state.
  nlohmann::json to_json() const;
  void load_json(const nlohmann::json& j);  // replaces the epochs; throws sct::Error if malformed

  // Rewrites <dir>/metrics.jsonl and <dir>/metrics.csv.
  void write(const std::string& dir) const;

 private:
  std::string eval_name_;
  bool optimistic_;
  std::vector<EpochMetrics> epochs_;
};

}  // namespace sct
