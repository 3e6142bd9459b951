// `sct merge`: a LoRA, SSF or BitFit task folder folded into its backbone, written as a plain
// timm-named ViT checkpoint (safetensors) that needs no PEFT code to run.
#include <CLI/CLI.hpp>
#include <iostream>

#include "sct/cli/commands.h"
#include "sct/cli/task_model.h"
#include "sct/io/safetensors.h"
#include "sct/peft/merge.h"

namespace sct::cli {
namespace {

struct MergeFlags {
  TaskModelFlags model;
  std::string out;
};

void run_merge(const MergeFlags& flags) {
  TaskModel tm = load_task_model(flags.model, std::cerr);
  merge_hooks(*tm.model);
  TensorMap state;
  for (const auto& kv : tm.model->named_parameters(true)) state[kv.key()] = kv.value().detach().to(at::kCPU);
  save_safetensors(flags.out, state, {{"format", "pt"}, {"merged_from", flags.model.task_dir}});
  std::cout << "wrote " << flags.out << " (" << state.size() << " tensors; load it with --checkpoint and --num-classes "
            << tm.task.info.num_classes() << ")\n";
}

}  // namespace

void add_merge_command(CLI::App& app) {
  auto flags = std::make_shared<MergeFlags>();
  CLI::App* cmd = app.add_subcommand(
      "merge",
      "Fold a lora, ssf or bias task folder into its backbone and write a plain ViT checkpoint. Example:\n"
      "  sct merge --task-dir runs/lora/task --checkpoint ViT-B_16.npz --out merged.safetensors");
  flags->model.add_to(*cmd);
  cmd->add_option("--out", flags->out, "checkpoint to write (safetensors, timm names)")->required();
  cmd->callback([flags] { run_merge(*flags); });
}

}  // namespace sct::cli
