#include "sct/cli/parallel_flags.h"

namespace sct::cli {

void ParallelFlags::add_to(CLI::App& cmd) {
  cmd.add_option("--nproc", nproc,
                 "data-parallel processes on this machine (each gets CPUs / N threads); under torchrun or with "
                 "RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT set, the command joins that group instead")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd.add_option("--dist-timeout", timeout_s,
                 "seconds a data-parallel rank may stay silent (rendezvous, each step) before the others stop "
                 "with an error naming it")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
}

parallel::LaunchOptions ParallelFlags::options() const {
  parallel::LaunchOptions o;
  o.nproc = nproc;
  o.timeout = std::chrono::seconds(timeout_s);
  return o;
}

}  // namespace sct::cli
