#include "sct/run/compare.h"

#include <algorithm>
#include <filesystem>
#include <ostream>

namespace sct {

ExperimentReport run_compare(const CompareSpec& spec, ExperimentRunner& runner, std::ostream& log) {
  ExperimentReport report;
  for (const ExperimentRow& row : spec.rows)
    for (ExperimentRun& run : seeded_runs(row, "", "", {}, spec.seeds, spec.seed, spec.train_args))
      report.runs.push_back(std::move(run));
  std::filesystem::create_directories(spec.out);
  log << "compare: " << report.runs.size() << " runs\n";
  const std::map<std::string, TaskSummary> summaries = runner.run(report.runs, spec.out);
  report.results = aggregate(report.runs, summaries);

  const auto fmt = format_number;
  report.table.header = {spec.row_header,   "test top-1 (%)",  "trainable params",   "+ head",          "lr",
                         "train time (s)", "peak RSS (MiB)", "inference (ms/img)", "task folder (KB)"};
  Table csv;
  csv.header = {"label",        "test_acc_mean", "test_acc_std", "seeds",       "trainable_params",   "head_params",
                "lr",           "train_seconds", "peak_rss_mb",  "infer_ms_per_image", "task_kb"};
  const std::vector<std::string> front = spec.frontier ? pareto_front(report.results) : std::vector<std::string>{};
  if (spec.frontier) {
    report.table.header.push_back("Pareto front");
    csv.header.push_back("pareto_front");
  }
  for (const std::string& row : report.results.rows) {
    const ExperimentCell& c = report.results.cell(row);
    const size_t n = c.test_acc.size();
    report.table.rows.push_back({row_title(spec.rows, row), fmt("%.2f", c.mean) + (n > 1 ? " ± " + fmt("%.2f", c.std) : ""),
                                 std::to_string(c.trainable_params), std::to_string(c.head_params), fmt("%g", c.lr),
                                 fmt("%.1f", c.train_seconds), fmt("%.0f", c.peak_rss_mb),
                                 fmt("%.3f", c.infer_ms_per_image), fmt("%.1f", c.task_kb)});
    csv.rows.push_back({row, fmt("%.4f", c.mean), fmt("%.4f", c.std), std::to_string(n),
                        std::to_string(c.trainable_params), std::to_string(c.head_params), fmt("%g", c.lr),
                        fmt("%.2f", c.train_seconds), fmt("%.1f", c.peak_rss_mb), fmt("%.4f", c.infer_ms_per_image),
                        fmt("%.1f", c.task_kb)});
    if (spec.frontier) {
      const bool on_front = std::find(front.begin(), front.end(), row) != front.end();
      report.table.rows.back().push_back(on_front ? "yes" : "");
      csv.rows.back().push_back(on_front ? "1" : "0");
    }
  }
  // Every run trains the same task; the figure says which.
  const std::string task = summaries.empty() ? std::string() : summaries.begin()->second.task + ": ";
  write_experiment((std::filesystem::path(spec.out) / "compare").string(),
                   task + (spec.frontier ? "sct compare --frontier" : "sct compare"), report.table, csv, report.runs, summaries,
                   {spec.frontier ? frontier_panel(report.results, spec.rows) : accuracy_against_parameters(report.results)});
  return report;
}

}  // namespace sct
