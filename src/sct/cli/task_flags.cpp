#include "sct/cli/task_flags.h"

#include <CLI/CLI.hpp>

namespace sct::cli {

void TaskFlags::add_to(CLI::App& cmd, bool required) {
  auto* opt = cmd.add_option("--task", task,
                             "VTAB-1K task (e.g. cifar100, caltech101) or fashion-mnist-1k, which needs no --data");
  if (required) opt->required();
  cmd.add_option("--data", data, "root folder of the VTAB-1K tasks as NOAH extracts them (<root>/<task>/*.txt)");
  cmd.add_option("--classes", num_classes, "class count, for a task outside the registry");
}

}  // namespace sct::cli
