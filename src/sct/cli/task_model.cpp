#include "sct/cli/task_model.h"

#include <CLI/CLI.hpp>
#include <ostream>

#include "sct/io/checkpoint.h"

namespace sct::cli {

void TaskModelFlags::add_to(CLI::App& cmd) {
  runtime.add_to(cmd);
  cmd.add_option("--task-dir", task_dir, "task folder written by sct train (<run>/task)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd.add_option("--checkpoint", checkpoint,
                 "the pretrained backbone the task was trained on (without it: the random init of --seed)")
      ->check(CLI::ExistingFile);
  cmd.add_flag("--force", force, "apply the task even if the backbone's fingerprint differs");
}

TaskModel load_task_model(const TaskModelFlags& flags, std::ostream& log) {
  TaskModel tm;
  tm.task = read_task_dir(flags.task_dir);
  tm.device = flags.runtime.apply();  // seeds before the model is built: a random backbone is the same again
  tm.model = make_backbone(tm.task.info.backbone);
  if (!flags.checkpoint.empty()) load_checkpoint(*tm.model, flags.checkpoint);
  tm.method = apply_task(*tm.model, tm.task, flags.task_dir, flags.force);
  tm.model->freeze();  // inference only: every GEMM weight may then be bf16
  tm.model->set_precision(flags.runtime.resolved_precision(tm.device, log));
  tm.model->to(tm.device);
  tm.model->eval();
  log << "task " << tm.task.info.task << " (" << tm.method->name() << ", " << tm.task.info.num_classes()
      << " classes) on " << tm.task.info.backbone.at("name").get<std::string>() << "; " << describe(count_parameters(*tm.model)) << "\n";
  return tm;
}

}  // namespace sct::cli
