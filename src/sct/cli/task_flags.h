// --task, --data, --classes, --split, --split-seed: which task's data a command reads (data/task_data.h).
#pragma once
#include "sct/data/task_data.h"

namespace CLI {
class App;
}

namespace sct::cli {

struct TaskFlags : TaskSource {
  void add_to(CLI::App& cmd);
};

}  // namespace sct::cli
