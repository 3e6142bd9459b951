#include "sct/cli/train_process.h"

#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "sct/core/error.h"
#include "sct/parallel/process_group.h"
#include "sct/runtime/spawn_self.h"
#include "sct/runtime/threads.h"

namespace fs = std::filesystem;

namespace sct::cli {
namespace {

struct Child {
  size_t index;
  std::string stdout_path;
};

// Starts this executable with `args`, its standard output going to a fresh temporary file (a pipe
// could fill up while the parent waits on another child).
std::pair<pid_t, Child> start(const std::vector<std::string>& args, size_t index, std::optional<int> master_port) {
  char path[] = "/tmp/sct-train-stdout-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) throw Error("cannot create a temporary file for a child sct process");
  std::vector<std::pair<std::string, std::string>> env;
  if (master_port) env.emplace_back("MASTER_PORT", std::to_string(*master_port));
  pid_t pid;
  try {
    pid = spawn_self(args, env, fd);
  } catch (...) {
    close(fd);
    unlink(path);
    throw;
  }
  close(fd);
  return {pid, Child{index, path}};
}

// The last line of the child's output that is a JSON object: sct train --json's summary.
std::string summary_line(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty() && line.front() == '{') last = line;
  return last;
}

}  // namespace

std::map<std::string, TaskSummary> ProcessRunner::run(const std::vector<ExperimentRun>& runs, const std::string& dir) {
  check_unique_ids(runs);
  const std::optional<parallel::WorldSpec> world = parallel::world_from_environment();
  const bool grouped = world && world->world_size > 1;
  const bool follower = grouped && world->rank != 0;
  if (grouped && world->master_port + int(runs.size()) > 65535)
    throw Error("MASTER_PORT " + std::to_string(world->master_port) + " leaves no port for each of " +
                std::to_string(runs.size()) + " runs (each meets at MASTER_PORT + 1 + its index)");
  const int jobs = grouped ? 1 : jobs_;
  const int threads_each = std::max(1, available_cpus() / (jobs * nproc_));
  std::map<std::string, TaskSummary> results;
  std::map<pid_t, Child> running;
  std::optional<size_t> failed;
  std::string failure;
  size_t next = 0;
  while ((next < runs.size() && !failed) || !running.empty()) {
    if (next < runs.size() && !failed && int(running.size()) < jobs) {
      const ExperimentRun& run = runs[next];
      const std::string run_dir = (fs::path(dir) / run.id).string();
      std::vector<std::string> args = {"train", "--json", "--out", run_dir};
      args.insert(args.end(), run.args.begin(), run.args.end());
      if (nproc_ > 1) args.insert(args.end(), {"--nproc", std::to_string(nproc_)});
      if ((jobs > 1 || nproc_ > 1) && std::find(args.begin(), args.end(), "--threads") == args.end())
        args.insert(args.end(), {"--threads", std::to_string(threads_each)});
      // Two self-overwriting bars on one terminal would garble each other.
      if (jobs > 1 && std::find(args.begin(), args.end(), "--progress") == args.end())
        args.insert(args.end(), {"--progress", "lines"});
      if (fs::exists(fs::path(run_dir) / "train_state.safetensors")) args.push_back("--resume");
      const std::optional<int> port =
          grouped ? std::optional<int>(world->master_port + 1 + int(next)) : std::nullopt;
      running.insert(start(args, next++, port));
      continue;
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    const auto it = running.find(pid);
    if (it == running.end()) continue;
    const Child child = it->second;
    running.erase(it);
    const std::string line = summary_line(child.stdout_path);
    unlink(child.stdout_path.c_str());
    const ExperimentRun& run = runs[child.index];
    const std::string what = "run " + run.id;
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::string error;
    if (code != 0)
      error = "sct train for " + what + " failed with status " + std::to_string(code);
    else if (follower)
      continue;  // rank 0 prints the summary
    else if (line.empty())
      error = "sct train for " + what + " printed no summary";
    else
      try {
        results[run.id] = TaskSummary::from_json(nlohmann::json::parse(line));
      } catch (const std::exception& e) {
        error = "sct train for " + what + " printed a summary that does not read: " + e.what();
      }
    if (!error.empty() && (!failed || child.index < *failed)) {
      failed = child.index;
      failure = error + "; its run folder: " + (fs::path(dir) / run.id).string();
    }
  }
  if (failed) throw Error(failure);
  if (follower) throw ExperimentFollowerDone{};
  return results;
}

void RunnerFlags::run(const std::function<void(ProcessRunner& runner)>& experiment) const {
  ProcessRunner runner(jobs, nproc);
  try {
    experiment(runner);
  } catch (const ExperimentFollowerDone&) {
  }
}

void RunnerFlags::add_to(CLI::App& cmd) {
  cmd.add_option("--jobs", jobs,
                 "runs at a time, each on CPUs / jobs threads (2 one-thread runs beat one two-thread run on small "
                 "models)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd.add_option("--nproc", nproc, "data-parallel processes per run (sct train --nproc)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
}

}  // namespace sct::cli
