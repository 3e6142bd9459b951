// --task, --data and --classes: which task's data a command reads (data/task_data.h).
#pragma once
#include "sct/data/task_data.h"

namespace CLI {
class App;
}

namespace sct::cli {

struct TaskFlags : TaskSource {
  // `required`: whether --task must be given (eval takes it from the task folder).
  void add_to(CLI::App& cmd, bool required = true);
};

}  // namespace sct::cli
