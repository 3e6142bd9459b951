// `sct compare` as a library call: one task, several rows (methods or an SCT ablation), each trained
// for `seeds` seeds by an experiment runner, and one table: test top-1 (mean +- std over seeds),
// trainable parameters, the lr used, training time (the epochs' own, so a reused finished run keeps
// its time), peak RSS, inference time per image, task-folder size; for a frontier, which rows are on
// its Pareto front.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "sct/run/experiment.h"

namespace sct {

struct CompareSpec {
  std::vector<ExperimentRow> rows;
  std::string row_header = "method";  // the first column's name: "method", or the ablation's
  bool frontier = false;              // rows from frontier_rows: mark the Pareto front, a line per method
  int seeds = 1;                      // per row (at least the row's min_seeds)
  uint64_t seed = 42;                 // the first
  std::vector<std::string> train_args;  // given to every run (task, model, --epochs, ...)
  std::string out;                      // runs in <out>/<row>/seed<s>, the table in <out>/compare.*
};

struct ExperimentReport {
  std::vector<ExperimentRun> runs;
  ExperimentResults results;
  Table table;  // what <out>/<name>.md holds
};

ExperimentReport run_compare(const CompareSpec& spec, ExperimentRunner& runner, std::ostream& log);

}  // namespace sct
