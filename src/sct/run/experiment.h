// An experiment: many task runs (methods, ablation rows, tasks, seeds), each keyed by an id, run by a
// runner (one `sct train` process per run, or in process for tests), aggregated per (row, column) and
// written as one table in Markdown, CSV and JSON, with a PNG of accuracy against trainable parameters.
// `sct compare` and `sct suite` are experiments; so will be few-shot, domain shift and the frontier.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "sct/io/plot.h"
#include "sct/run/task_run.h"

namespace sct {

// A row of an experiment's table: a label and the method config its runs train.
struct ExperimentRow {
  std::string label;
  nlohmann::json method;  // {"name": ..., options}; checked by the registry when the row is made
  int min_seeds = 1;      // the paper draws random channels three times
  std::string variant;    // which variant of its paper the method is (peft_method_variant), for tables
};

// The row's label as tables show it: "lora (W_q and W_v, separate, as Hu et al.)".
std::string row_title(const std::vector<ExperimentRow>& rows, const std::string& label);

// One row per method name ("sct", "lora", ...), each checked against the registry and named with its
// variant.
std::vector<ExperimentRow> method_rows(const std::vector<std::string>& methods);
// The paper's SCT ablations (SCT-REFERENCE.md §2): channels (salient / insalient / random), score
// (class-aware / dataset), position (attn / mlp / both), k (D/24, D/8, D/4), depth (all, last 6, last 3).
std::vector<ExperimentRow> ablation_rows(const std::string& ablation);
// The accuracy-against-parameters frontier (the paper's Fig. 1): each method over a range of its size
// knob (SCT k = D/24 ... D/2, LoRA rank 1-16, Adapter bottleneck 2-32, AdaptFormer bottleneck 4-64, VPT
// length 1-50), rows labelled "<method> <knob>=<value>"; linear, bias, SSF and full as single points.
std::vector<ExperimentRow> frontier_rows(const std::vector<std::string>& methods);
// `sct train`'s options for a method config: --method NAME --method-option key=value ...
std::vector<std::string> method_args(const nlohmann::json& method);

struct ExperimentRun {
  std::string id;      // unique; the run's folder under the experiment's, e.g. "lora/shape-count/seed42"
  std::string row;     // its table row (a method or an ablation label)
  std::string column;  // its table column (a task); "" for a one-task experiment
  uint64_t seed = 0;
  std::vector<std::string> args;  // sct train's options, without --out and --json
};

// The runs of one row in one column, one per seed: first_seed, first_seed + 1, ... (at least the row's
// min_seeds). Each is `sct train <column_args> --seed S <the row's method> <train_args>` in the folder
// <row>/[<column_dir>/]seed<S>.
std::vector<ExperimentRun> seeded_runs(const ExperimentRow& row, const std::string& column,
                                       const std::string& column_dir, const std::vector<std::string>& column_args,
                                       int seeds, uint64_t first_seed, const std::vector<std::string>& train_args);

// Throws sct::Error naming an id given twice (the same method, shot or seed listed twice): two runs
// would share one folder. The runners call it before starting anything.
void check_unique_ids(const std::vector<ExperimentRun>& runs);

class ExperimentRunner {
 public:
  virtual ~ExperimentRunner() = default;
  // Runs every run in <dir>/<id> and returns the summaries by id. Throws sct::Error naming the first
  // run that failed.
  virtual std::map<std::string, TaskSummary> run(const std::vector<ExperimentRun>& runs, const std::string& dir) = 0;
};

// In process, one run after another, through `train(run, run_dir)`: tests, and callers that hold
// their backbone.
class FunctionRunner : public ExperimentRunner {
 public:
  using Train = std::function<TaskSummary(const ExperimentRun& run, const std::string& run_dir)>;
  explicit FunctionRunner(Train train) : train_(std::move(train)) {}
  std::map<std::string, TaskSummary> run(const std::vector<ExperimentRun>& runs, const std::string& dir) override;

 private:
  Train train_;
};

// The runs of one (row, column): test top-1 over seeds, and the costs of its runs.
struct ExperimentCell {
  std::vector<double> test_acc;  // per run, in run order
  double mean = 0.0, std = 0.0;  // sample standard deviation, 0 for one run
  double train_seconds = 0.0;    // mean over runs
  double peak_rss_mb = 0.0;      // max over runs
  double infer_ms_per_image = 0.0;  // mean over runs
  int64_t trainable_params = 0, head_params = 0;  // of the first run
  double lr = 0.0;                                // of the first run (tune may choose per run)
  double task_kb = 0.0;                           // of the first run
};

struct ExperimentResults {
  std::vector<std::string> rows, columns;  // in order of first appearance in the runs
  std::map<std::pair<std::string, std::string>, ExperimentCell> cells;
  const ExperimentCell& cell(const std::string& row, const std::string& column = "") const;  // throws if absent
};

// Groups the summaries by (row, column). Throws sct::Error for a duplicated id or a run without a summary.
ExperimentResults aggregate(const std::vector<ExperimentRun>& runs, const std::map<std::string, TaskSummary>& summaries);

// A table, written as Markdown and CSV (cells with commas or quotes quoted).
struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::string markdown() const;
  std::string csv() const;
};

// Test top-1 against trainable parameters (head included, log axis): a point per row, mean over columns.
PlotPanel accuracy_against_parameters(const ExperimentResults& results);

// The rows that no row beats with as many trainable parameters or fewer (head included; mean top-1
// over the columns): the Pareto front, by increasing parameters.
std::vector<std::string> pareto_front(const ExperimentResults& results);
// The frontier's figure: a line per method through its rows by trainable parameters (log axis), and a
// line through the Pareto front. `rows` name each row's method.
PlotPanel frontier_panel(const ExperimentResults& results, const std::vector<ExperimentRow>& rows);

// <base>.md (`table`), <base>.csv (`csv`, one line per cell or run), <base>.json (every run with its
// summary) and <base>.png (`plot`), each atomically.
void write_experiment(const std::string& base, const std::string& title, const Table& table, const Table& csv,
                      const std::vector<ExperimentRun>& runs, const std::map<std::string, TaskSummary>& summaries,
                      const std::vector<PlotPanel>& plot);

// Mean and sample standard deviation (0 for fewer than two values).
std::pair<double, double> mean_std(const std::vector<double>& values);
// printf-style formatting of one number.
std::string format_number(const char* format, double v);
// `label` with every character but letters and digits replaced by '_', for folder names.
std::string folder_name(std::string label);
// "a,b,,c" -> {"a", "b", "c"}.
std::vector<std::string> split_commas(const std::string& text);

}  // namespace sct
