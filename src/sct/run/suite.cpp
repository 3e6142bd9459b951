#include "sct/run/suite.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <ostream>

#include "sct/core/error.h"
#include "sct/data/fashion_mnist_1k.h"
#include "sct/data/synthetic_tasks.h"

namespace sct {

namespace fs = std::filesystem;

std::vector<SuiteTask> all_suite_tasks() {
  std::vector<SuiteTask> tasks = {{kFashionMnist1kName, "recognition"}};
  for (const SyntheticTaskInfo& t : synthetic_tasks()) tasks.push_back({t.name, t.group});
  return tasks;
}

std::vector<SuiteTask> suite_tasks(const std::string& list) {
  const std::vector<SuiteTask> all = all_suite_tasks();
  if (list == "all") return all;
  std::vector<SuiteTask> out;
  for (const std::string& name : split_commas(list)) {
    const auto it = std::find_if(all.begin(), all.end(), [&](const SuiteTask& t) { return t.name == name; });
    if (it == all.end()) {
      std::string known;
      for (const SuiteTask& t : all) known += " " + t.name;
      throw Error("unknown suite task '" + name + "'; known:" + known);
    }
    out.push_back(*it);
  }
  if (out.empty()) throw Error("no suite task given");
  return out;
}

void write_suite_tasks(const std::vector<SuiteTask>& tasks, const std::string& data, int64_t test_size,
                       uint64_t data_seed, std::ostream& log) {
  for (const SuiteTask& t : tasks) {
    if (fs::exists(fs::path(data) / t.name)) continue;
    log << "suite: writing " << t.name << " to " << data << "\n";
    if (t.name == kFashionMnist1kName)
      write_fashion_mnist_1k(load_fashion_mnist_1k(), data);
    else
      write_synthetic_task(draw_synthetic_task(t.name, data_seed, test_size), data);
  }
}

ExperimentReport run_suite(const SuiteSpec& spec, ExperimentRunner& runner, std::ostream& log) {
  ExperimentReport report;
  std::map<std::string, std::string> group_of;
  std::vector<std::string> groups;
  for (const SuiteTask& t : spec.tasks) {
    group_of[t.name] = t.group;
    if (std::find(groups.begin(), groups.end(), t.group) == groups.end()) groups.push_back(t.group);
  }
  for (const ExperimentRow& row : spec.rows)
    for (const SuiteTask& t : spec.tasks)
      for (ExperimentRun& run : seeded_runs(row, t.name, t.name, {"--task", t.name, "--data", spec.data}, spec.seeds,
                                            spec.seed, spec.train_args))
        report.runs.push_back(std::move(run));
  fs::create_directories(spec.out);
  log << "suite: " << report.runs.size() << " runs\n";
  const std::map<std::string, TaskSummary> summaries = runner.run(report.runs, spec.out);
  const ExperimentResults& results = report.results = aggregate(report.runs, summaries);

  const auto fmt = format_number;
  Table& md = report.table;
  md.header = {"method", "trainable params", "lr"};
  for (const SuiteTask& t : spec.tasks) md.header.push_back(t.name);
  for (const std::string& g : groups) md.header.push_back(g + " mean");
  md.header.push_back("mean");
  for (const std::string& row : results.rows) {
    // The first task's lr: the method's recipe (tune can choose per task).
    const ExperimentCell& first = results.cell(row, spec.tasks.front().name);
    std::vector<std::string> cells = {row_title(spec.rows, row), std::to_string(first.trainable_params),
                                      fmt("%g", first.lr)};
    std::map<std::string, std::vector<double>> by_group;
    std::vector<double> task_means;
    for (const SuiteTask& t : spec.tasks) {
      const ExperimentCell& c = results.cell(row, t.name);
      cells.push_back(fmt("%.1f", c.mean) + (c.test_acc.size() > 1 ? " ± " + fmt("%.1f", c.std) : ""));
      by_group[t.group].push_back(c.mean);
      task_means.push_back(c.mean);
    }
    for (const std::string& g : groups) cells.push_back(fmt("%.1f", mean_std(by_group[g]).first));
    cells.push_back(fmt("%.1f", mean_std(task_means).first));
    md.rows.push_back(std::move(cells));
  }
  Table csv;
  csv.header = {"method", "task", "group", "seed", "test_acc", "trainable_params", "head_params", "lr",
                "train_seconds", "peak_rss_mb"};
  for (const ExperimentRun& run : report.runs) {
    const TaskSummary& r = summaries.at(run.id);
    csv.rows.push_back({run.row, run.column, group_of.at(run.column), std::to_string(run.seed),
                        fmt("%.4f", r.test_acc), std::to_string(r.trainable_params), std::to_string(r.head_params),
                        fmt("%g", r.lr), fmt("%.2f", r.train_seconds), fmt("%.1f", r.peak_rss_mb)});
  }
  write_experiment((fs::path(spec.out) / "suite").string(), "sct suite", md, csv, report.runs, summaries,
                   {accuracy_against_parameters(results)});
  return report;
}

}  // namespace sct
