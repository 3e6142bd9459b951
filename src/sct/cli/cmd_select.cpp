// `sct select`: the class-aware channel selection (CAIS) on its own: one pass of the frozen backbone
// over a task's training split, a selection file for `sct train --selection`, and its heatmap.
#include <CLI/CLI.hpp>
#include <iostream>

#include "sct/cli/commands.h"
#include "sct/cli/method_flags.h"
#include "sct/cli/model_flags.h"
#include "sct/cli/parallel_flags.h"
#include "sct/cli/task_flags.h"
#include "sct/io/output_path.h"
#include "sct/model/backbone_fingerprint.h"
#include "sct/parallel/process_group.h"
#include "sct/peft/sct_method.h"
#include "sct/peft/selection_heatmap.h"
#include "sct/runtime/device.h"

namespace sct::cli {
namespace {

struct SelectFlags {
  ModelFlags model;
  TaskFlags task;
  MethodFlags sct;
  std::string split = "train800val200";
  std::string normalization = "imagenet";
  std::string out, heatmap;
  ParallelFlags parallel;
};

// One process's part (all of it alone): data-parallel ranks score their piece of the split.
void select_here(SelectFlags flags, std::ostream& log) {
  check_outputs_are_new({{"--out", flags.out}, {"--heatmap", flags.heatmap}},
                        {{"--checkpoint", flags.model.checkpoint}, {"--selection", flags.sct.selection}});
  const TaskData data(flags.task, log);
  flags.model.num_classes = data.num_classes();
  BuiltModel built = build_model(flags.model, log);
  built.model->freeze();
  // The weights as loaded, as train and predict fingerprint them: not their bf16 copies.
  const std::string backbone_sha256 = backbone_fingerprint(*built.model);
  built.model->set_precision(built.precision);
  const auto cache = data.cache(parse_vtab_split(flags.split), built.model->img_size());
  const Normalization norm =
      flags.normalization == "inception" ? Normalization::inception() : Normalization::imagenet();
  const auto method = SctMethod::from_config(flags.sct.config(log));
  MethodData md;
  md.model = built.model;
  md.train = cache.get();
  md.num_classes = data.num_classes();
  md.normalization = norm;
  md.seed = flags.model.runtime.seed;
  md.batch_size = flags.sct.select_batch;
  md.dataset = data.name() + "/" + flags.split;
  md.backbone_name = flags.model.checkpoint.empty() ? built.model->name() + " (random init)" : flags.model.checkpoint;
  md.backbone_sha256 = backbone_sha256;
  md.log = &log;
  method->prepare(md);
  if (!parallel::is_writer()) return;
  const Selection& s = method->selection();
  s.save(flags.out);
  std::cout << "wrote " << flags.out << " (" << s.blocks.size() << " blocks, K " << method->options().k << ")\n";
  if (!flags.heatmap.empty()) {
    write_selection_heatmap(s, flags.heatmap);
    std::cout << "wrote " << flags.heatmap << "\n";
  }
}

}  // namespace

void add_select_command(CLI::App& app, int argc, char** argv) {
  auto flags = std::make_shared<SelectFlags>();
  CLI::App* cmd = app.add_subcommand(
      "select",
      "Rank every channel of every block by the class-aware importance score on a task's training split and keep "
      "the top K (SCT's channel selection). Example:\n"
      "  sct select --task fashion-mnist-1k --checkpoint ViT-B_16.npz --out sel.json --heatmap sel.png");
  flags->model.add_to(*cmd);
  flags->task.add_to(*cmd);
  flags->sct.add_to(*cmd, /*with_method=*/false, /*with_module=*/false);
  cmd->add_option("--split", flags->split, "training split to score on")
      ->check(CLI::IsMember({"train800", "val200", "train800val200"}))
      ->capture_default_str();
  cmd->add_option("--normalization", flags->normalization, "imagenet (the reference's) or inception (0.5/0.5)")
      ->check(CLI::IsMember({"imagenet", "inception"}))
      ->capture_default_str();
  cmd->add_option("--out", flags->out, "selection file to write (JSON)")->required();
  cmd->add_option("--heatmap", flags->heatmap, "PNG of the scores, selected channels marked (paper Fig. 3)");
  flags->parallel.add_to(*cmd);
  cmd->callback([flags, argc, argv] {
    parallel::run_data_parallel(flags->parallel.options(), flags->model.runtime.device, argc, argv,
                                [&](std::ostream& log) { select_here(*flags, log); });
  });
}

}  // namespace sct::cli
