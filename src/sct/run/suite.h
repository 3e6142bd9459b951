// `sct suite` as a library call: an offline VTAB-1K-style benchmark. Its tasks (fashion-mnist-1k from
// Debian's Fashion-MNIST and the generated tasks of synthetic_tasks.h) are written to disk in NOAH's
// layout, every row (method) is trained on every task for `seeds` seeds by an experiment runner, and
// one VTAB-style table gives test top-1 per task, per group and overall, with each method's trainable
// parameters.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "sct/run/compare.h"

namespace sct {

struct SuiteTask {
  std::string name;
  std::string group;
};

// fashion-mnist-1k (recognition) and every generated task.
std::vector<SuiteTask> all_suite_tasks();
// "all" or a comma-separated list of names; throws sct::Error naming an unknown one.
std::vector<SuiteTask> suite_tasks(const std::string& list);
// Writes the tasks that are not in `data` yet (each folder appears complete or not at all).
void write_suite_tasks(const std::vector<SuiteTask>& tasks, const std::string& data, int64_t test_size,
                       uint64_t data_seed, std::ostream& log);

struct SuiteSpec {
  std::vector<ExperimentRow> rows;
  std::vector<SuiteTask> tasks;
  std::string data;  // where the tasks are
  int seeds = 1;
  uint64_t seed = 42;
  std::vector<std::string> train_args;  // given to every run
  std::string out;                      // runs in <out>/<method>/<task>/seed<s>, the table in <out>/suite.*
};

ExperimentReport run_suite(const SuiteSpec& spec, ExperimentRunner& runner, std::ostream& log);

}  // namespace sct
