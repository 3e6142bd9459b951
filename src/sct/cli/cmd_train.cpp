// `sct train`: flags -> TaskRunSpec -> run_task (run/task_run.h), and the result printed.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "sct/cli/commands.h"
#include "sct/cli/method_flags.h"
#include "sct/cli/model_flags.h"
#include "sct/cli/parallel_flags.h"
#include "sct/cli/task_flags.h"
#include "sct/model/backbone_fingerprint.h"
#include "sct/model/parameter_count.h"
#include "sct/parallel/process_group.h"
#include "sct/run/task_run.h"
#include "sct/runtime/device.h"

namespace sct::cli {
namespace {

struct TrainFlags {
  ModelFlags model;
  TaskFlags task;
  MethodFlags method;
  TaskRunSpec spec;
  ParallelFlags parallel;
  bool json = false;
  std::string progress = "auto";
};

// One process's part of the run (all of it alone); `log` is quiet on data-parallel ranks but 0.
void train_here(TrainFlags flags, std::ostream& log) {
  TaskRunSpec spec = flags.spec;
  spec.method = flags.method.config(log);  // a malformed option or selection file fails before any work
  spec.data_pass_batch = flags.method.select_batch;
  spec.seed = flags.model.runtime.seed;
  if (flags.progress != "auto") spec.trainer.interactive = flags.progress == "bar";
  const TaskData data(flags.task, log);
  {
    std::ostringstream quiet;  // build_model prints the precision's warnings
    spec.precision = flags.model.runtime.resolved_precision(parse_device(flags.model.runtime.device), quiet);
  }
  flags.model.num_classes = data.num_classes();
  BuiltModel built = build_model(flags.model, log);
  PretrainedBackbone backbone;
  backbone.model = built.model;
  backbone.device = built.device;
  backbone.name = flags.model.checkpoint.empty() ? built.model->name() + " (random init)"
                                                 : flags.model.checkpoint;
  backbone.sha256 = backbone_fingerprint(*built.model);

  TaskRunResult run = run_task(spec, backbone, data, log);
  if (!parallel::is_writer()) return;
  const TaskSummary& s = run.summary;
  if (flags.json) {
    std::cout << s.to_json().dump() << "\n";
    return;
  }
  std::printf("%s on %s: test top-1 %.2f%% (protocol %s%s)\n%s\ntask folder: %s (%.1f KB)\n", s.method.c_str(),
              s.task.c_str(), s.test_acc, s.protocol.c_str(),
              s.optimistic ? ", OPTIMISTIC: best of periodic test scores" : "",
              describe(count_parameters(*run.model)).c_str(), s.task_dir.c_str(), double(s.task_dir_bytes) / 1024.0);
}

}  // namespace

void add_train_command(CLI::App& app, int argc, char** argv) {
  auto flags = std::make_shared<TrainFlags>();
  CLI::App* cmd = app.add_subcommand(
      "train",
      "Adapt a pretrained ViT to a task: prepare the method on the training split (SCT: select salient channels, "
      "or read --selection), train it and a new head with the task's recipe, report test top-1, and write "
      "<out>/task. Example:\n"
      "  sct train --task cifar100 --data vtab-1k --checkpoint ViT-B_16.npz --out runs/cifar100");
  flags->model.add_to(*cmd);
  flags->task.add_to(*cmd);
  flags->method.add_to(*cmd, /*with_method=*/true, /*with_module=*/true);
  TaskRunSpec& spec = flags->spec;
  cmd->add_option("--recipe", spec.recipe,
                  "training recipe: a task name or .json file (default: the task's own, configs/vtab1k), or none");
  cmd->add_option("--method-recipe", spec.method_recipe,
                  "the method's lr, weight decay, augmentation, label smoothing and tune grid, laid over the task "
                  "recipe: a .json file (default: configs/methods/<model>.json where it has the method), or none");
  cmd->add_option("--protocol", spec.protocol,
                  "final (train800val200 -> test, default), tune (lr x wd [x method options] grid on train800 -> "
                  "val200), or reference-best-of-test (the released code's optimistic best of periodic test scores)");
  cmd->add_option("--epochs", spec.epochs, "epochs (default: the recipe's, 100)")->check(CLI::PositiveNumber);
  cmd->add_option("--set", spec.overrides,
                  "override any training field, e.g. --set lr=0.002 --set tune_lrs=[0.001,0.002] (see config.json)");
  cmd->add_option("--out", spec.out, "run folder: config, metrics, training state, selection, task/")->required();
  cmd->add_flag("--resume", spec.trainer.resume, "continue a stopped run in --out");
  cmd->add_flag("--recompute", spec.recompute,
                "keep only each block's input for backward and recompute the block there: less memory for larger "
                "batches, about a third more compute, the same results");
  cmd->add_flag("--json", flags->json, "print the result as one JSON line");
  cmd->add_option("--progress", flags->progress, "auto (a bar on a terminal), bar, or lines (one per epoch)")
      ->check(CLI::IsMember({"auto", "bar", "lines"}))
      ->capture_default_str();
  flags->parallel.add_to(*cmd);
  cmd->callback([flags, argc, argv] {
    parallel::run_data_parallel(flags->parallel.options(), flags->model.runtime.device, argc, argv,
                                [&](std::ostream& log) { train_here(*flags, log); });
  });
}

}  // namespace sct::cli
