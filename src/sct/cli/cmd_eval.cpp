// `sct eval`: top-1 of a trained task folder on a split of its task.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "sct/cli/commands.h"
#include "sct/cli/task_flags.h"
#include "sct/cli/task_model.h"
#include "sct/core/error.h"
#include "sct/train/evaluate.h"

namespace sct::cli {
namespace {

struct EvalFlags {
  TaskModelFlags model;
  TaskFlags task;
  std::string split = "test";
  int64_t batch = 64;
  bool json = false;
};

void run_eval(EvalFlags flags) {
  TaskModel tm = load_task_model(flags.model, std::cerr);
  // The task it was trained on, when the data holds it (a dataset folder names itself).
  if (flags.task.task.empty() &&
      (flags.task.data.empty() || has_vtab_task(flags.task.data, tm.task.info.task)))
    flags.task.task = tm.task.info.task;
  const TaskData data(flags.task, std::cerr);
  if (data.num_classes() != tm.task.info.num_classes())
    throw Error("task " + data.name() + " has " + std::to_string(data.num_classes()) + " classes, the task folder " +
                std::to_string(tm.task.info.num_classes()));
  const auto source = data.eval_source(parse_vtab_split(flags.split), tm.task.info.img_size(),
                                       tm.task.info.normalization, flags.batch);
  const Top1 top1 = evaluate_top1(*tm.model, *source);
  const nlohmann::json& recorded = tm.task.info.result;
  const bool comparable =
      flags.split == "test" && recorded.is_object() && recorded.value("test_acc", nlohmann::json()).is_number();
  if (flags.json) {
    nlohmann::json j = {{"task", data.name()},
                        {"split", flags.split},
                        {"top1", top1.percent()},
                        {"correct", top1.correct},
                        {"total", top1.total}};
    if (comparable) j["recorded_test_acc"] = recorded["test_acc"];
    std::cout << j.dump() << "\n";
    return;
  }
  std::printf("%s %s: top-1 %.2f%% (%lld / %lld)\n", data.name().c_str(), flags.split.c_str(), top1.percent(),
              static_cast<long long>(top1.correct), static_cast<long long>(top1.total));
  if (comparable)
    std::printf("recorded by the training run: %.2f%%%s\n", recorded["test_acc"].get<double>(),
                recorded.value("optimistic", false) ? " (optimistic: best of periodic test scores)" : "");
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto flags = std::make_shared<EvalFlags>();
  CLI::App* cmd =
      app.add_subcommand("eval",
                         "Top-1 accuracy of a trained task folder. Example:\n"
                         "  sct eval --task-dir runs/cifar100/task --checkpoint ViT-B_16.npz --data vtab-1k");
  flags->model.add_to(*cmd);
  flags->task.add_to(*cmd);
  cmd->add_option("--split", flags->split, "split to score")
      ->check(CLI::IsMember({"train800", "val200", "train800val200", "test"}))
      ->capture_default_str();
  cmd->add_option("--batch", flags->batch, "evaluation batch size")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_flag("--json", flags->json, "print one JSON line");
  cmd->callback([flags] { run_eval(*flags); });
}

}  // namespace sct::cli
