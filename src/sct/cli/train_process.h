// The experiment runner of compare and suite: each run is `sct train` in a child process of this
// executable, so that its peak memory is its own, a crash in one run names it, and on a small machine
// two one-thread runs side by side train more images per second than one run on both cores.
#pragma once
#include <CLI/CLI.hpp>
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
class ProcessRunner : public ExperimentRunner {
 public:
  explicit ProcessRunner(int jobs, int nproc = 1) : jobs_(jobs < 1 ? 1 : jobs), nproc_(nproc < 1 ? 1 : nproc) {}
  std::map<std::string, TaskSummary> run(const std::vector<ExperimentRun>& runs, const std::string& dir) override;

 private:
  int jobs_;
  int nproc_;
};

// --jobs and --nproc of the commands that run many trainings (compare, suite, fewshot, domain).
struct RunnerFlags {
  int jobs = 1;
  int nproc = 1;
  void add_to(CLI::App& cmd);
  // Throws sct::Error under a torchrun-style environment: its runs pair up across ranks only when
  // each is launched as its own `sct train`.
  ProcessRunner runner() const;
};

}  // namespace sct::cli
