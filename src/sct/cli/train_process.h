// The experiment runner of compare and suite: each run is `sct train` in a child process of this
// executable, so that its peak memory is its own, a crash in one run names it, and on a small machine
// two one-thread runs side by side train more images per second than one run on both cores.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "sct/run/experiment.h"

namespace sct::cli {

// Runs `sct train --json --out <dir>/<id> <args>` for every run (adding --resume where the folder
// holds an interrupted run), at most `jobs` at a time, stderr passed through, and returns the
// summaries they print by id. With jobs > 1 a run without --threads gets available CPUs / jobs, and
// one without --progress prints epoch lines instead of a progress bar. After a failure no new run
// starts; once the running ones end, sct::Error names the first that failed.
// With nproc > 1 each run is itself data-parallel over nproc local processes (sct train --nproc), and
// its threads are CPUs / (jobs * nproc).
//
// Under torchrun's environment every rank runs the same experiment: run k of every rank meets the
// others at MASTER_PORT + 1 + k, one run at a time, so each run is one data-parallel training. Rank 0's
// runs print the summaries; on the other ranks run() ends with ExperimentFollowerDone instead of
// results, which RunnerFlags::run turns into a quiet exit (rank 0 alone reports).
class ProcessRunner : public ExperimentRunner {
 public:
  explicit ProcessRunner(int jobs, int nproc = 1) : jobs_(jobs < 1 ? 1 : jobs), nproc_(nproc < 1 ? 1 : nproc) {}
  std::map<std::string, TaskSummary> run(const std::vector<ExperimentRun>& runs, const std::string& dir) override;

 private:
  int jobs_;
  int nproc_;
};

struct ExperimentFollowerDone {};

// --jobs and --nproc of the commands that run many trainings (compare, suite, fewshot, domain).
struct RunnerFlags {
  int jobs = 1;
  int nproc = 1;
  void add_to(CLI::App& cmd);
  // Calls `experiment` with the runner; returns quietly on a data-parallel rank other than 0.
  void run(const std::function<void(ProcessRunner& runner)>& experiment) const;
};

}  // namespace sct::cli
