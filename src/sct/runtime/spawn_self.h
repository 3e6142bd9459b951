// Starting this program again as a child process: data-parallel workers (parallel/launch.h) and the
// parallel runs of `sct compare` / `suite` (cli/train_process.h).
#pragma once
#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace sct {

// Forks and executes /proc/self/exe with `args` (argv[0] is "sct"), after setting `env` in the child
// and, if stdout_fd >= 0, sending its standard output there. Returns the child's pid; throws if it
// cannot fork. A child that cannot execute exits with status 127.
pid_t spawn_self(const std::vector<std::string>& args, const std::vector<std::pair<std::string, std::string>>& env,
                 int stdout_fd = -1);

}  // namespace sct
