// How a command becomes one process of a data-parallel run.
//
// Started by torchrun, Slurm or by hand with torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK,
// MASTER_ADDR, MASTER_PORT), the command joins that group. `--nproc N` starts the N processes of a
// group on this machine itself, as torchrun would: this executable again with the same arguments
// (less --nproc), the environment above, MASTER_ADDR=127.0.0.1 and a free MASTER_PORT.
#pragma once
#include <chrono>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

namespace sct::parallel {

struct LaunchOptions {
  int nproc = 1;                        // > 1: start that many local workers
  std::chrono::seconds timeout{300};    // rendezvous and every collective; a rank silent longer has failed
};

// Runs `work` as this process's part of the run: alone, in the group of the environment, or (nproc > 1)
// not at all here but in nproc workers this call starts and waits for. `device` is the --device flag;
// a rank of a group on CUDA without an index gets cuda:LOCAL_RANK (one GPU per local rank, as
// torchrun's users expect). `work` logs to the stream it is given: stderr on rank 0, nothing on the
// others (their errors still reach stderr). Throws sct::Error naming the first worker that failed.
void run_data_parallel(const LaunchOptions& options, std::string& device, int argc, char** argv,
                       const std::function<void(std::ostream& log)>& work);

// The pieces, for tests: argv[1..] less `--nproc N` / `--nproc=N`, and the launcher itself. Each
// worker gets `--threads threads_each` unless `args` set it; workers still running `grace` after the
// first failure are killed.
std::vector<std::string> arguments_without_nproc(int argc, char** argv);
void run_local_workers(int nproc, std::vector<std::string> args, int threads_each, std::chrono::seconds grace);

}  // namespace sct::parallel
