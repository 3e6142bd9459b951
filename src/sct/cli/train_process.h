// `sct train` runs in child processes of this executable, as `sct compare` and `sct suite` start
// them: each run's peak memory is its own, a crash in one run names it, and on a small machine two
// one-thread runs side by side train more images per second than one run on both cores.
#pragma once
#include <string>
#include <vector>

#include "sct/run/task_run.h"

namespace sct::cli {

struct TrainRun {
  std::vector<std::string> args;  // sct train's options, without --out and --json
  std::string run_dir;
  std::string what;  // names the run in messages, e.g. "lora on shape-count (seed 42)"
};

// Runs `sct train --json --out run_dir <args>` for every run (adding --resume where run_dir holds an
// interrupted run), at most `jobs` at a time, stderr passed through, and returns the summaries they
// print, in the order of `runs`. With jobs > 1 a run without --threads gets available CPUs / jobs,
// and one without --progress prints epoch lines instead of a progress bar.
// After a failure no new run starts; once the running ones end, sct::Error names the first that failed.
std::vector<TaskSummary> run_train_processes(const std::vector<TrainRun>& runs, int jobs);

// "a,b,,c" -> {"a", "b", "c"}.
std::vector<std::string> split_commas(const std::string& text);

// Mean and sample standard deviation (0 for fewer than two values).
std::pair<double, double> mean_std(const std::vector<double>& values);

// printf-style formatting of one number.
std::string format_number(const char* format, double v);

// `label` with every character but letters and digits replaced by '_', for folder names.
std::string folder_name(std::string label);

}  // namespace sct::cli
