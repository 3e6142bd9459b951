// --nproc and --dist-timeout: a command that trains runs data-parallel (parallel/launch.h).
#pragma once
#include <CLI/CLI.hpp>

#include "sct/parallel/launch.h"

namespace sct::cli {

struct ParallelFlags {
  int nproc = 1;
  int timeout_s = 300;

  void add_to(CLI::App& cmd);
  parallel::LaunchOptions options() const;
};

}  // namespace sct::cli
