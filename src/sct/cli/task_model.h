// The model of a trained task folder: its backbone architecture, the pretrained checkpoint the user
// gives (checked against the folder's fingerprint), the method's modules and the trained tensors.
#pragma once
#include <memory>
#include <string>

#include "sct/cli/model_flags.h"
#include "sct/peft/task_dir.h"

namespace CLI {
class App;
}

namespace sct::cli {

struct TaskModelFlags {
  RuntimeFlags runtime;
  std::string task_dir, checkpoint;
  bool force = false;

  void add_to(CLI::App& cmd);
};

struct TaskModel {
  TaskDir task;
  Backbone model{nullptr};  // on the device, in eval mode
  std::unique_ptr<PeftMethod> method;
  c10::Device device = c10::kCPU;
};

TaskModel load_task_model(const TaskModelFlags& flags, std::ostream& log);

}  // namespace sct::cli
