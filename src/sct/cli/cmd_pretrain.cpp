// `sct pretrain`: flags -> PretrainSpec -> run_pretrain (run/pretrain.h), and the result printed.
#include <CLI/CLI.hpp>
#include <iostream>

#include "sct/cli/commands.h"
#include "sct/cli/model_flags.h"
#include "sct/cli/parallel_flags.h"
#include "sct/core/error.h"
#include "sct/data/fractal_db.h"
#include "sct/parallel/process_group.h"
#include "sct/run/pretrain.h"

namespace sct::cli {
namespace {

struct PretrainFlags {
  ModelFlags model;
  FractalDbSpec source;
  int64_t epochs = 0;
  std::vector<std::string> overrides;
  std::string out;
  std::string backbone;  // where the backbone goes; default <out>/backbone.safetensors
  bool resume = false;
  ParallelFlags parallel;
};

std::string command_line(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) s += (i ? " " : "") + std::string(argv[i]);
  return s;
}

// One process's part (all of it alone); rank 0 alone writes and prints.
void pretrain_here(PretrainFlags flags, const std::string& command, std::ostream& log) {
  if (!flags.model.checkpoint.empty()) throw Error("pretrain starts from random weights; --checkpoint is not taken");
  PretrainSpec spec;
  spec.config.seed = flags.model.runtime.seed;
  if (flags.epochs > 0) spec.config.epochs = flags.epochs;
  spec.device = flags.model.runtime.apply();
  spec.config.precision = to_string(flags.model.runtime.resolved_precision(spec.device, log));
  for (const std::string& s : flags.overrides) apply_override(spec.config, s);
  spec.model = flags.model.config();
  spec.source = flags.source;
  spec.threads = flags.model.runtime.threads;
  spec.out = flags.out;
  spec.backbone = flags.backbone;
  spec.resume = flags.resume;
  spec.command = command;
  const PretrainResult r = run_pretrain(spec, log);
  if (!parallel::is_writer()) return;
  std::cout << "pretrained " << r.model_name << " in " << r.seconds << " s; val top-1 "
            << (r.val_acc ? std::to_string(*r.val_acc) : std::string("n/a")) << " %\nwrote " << r.backbone
            << " (load it with "
            << (flags.model.model_config.empty() ? "--model " + r.model_name : "--model-config " + flags.model.model_config)
            << " --checkpoint " << r.backbone << "), " << r.curve << "\n";
}

}  // namespace

void add_pretrain_command(CLI::App& app, int argc, char** argv) {
  auto flags = std::make_shared<PretrainFlags>();
  flags->model.model = "vit_pico_patch4_32";
  CLI::App* cmd = app.add_subcommand(
      "pretrain",
      "Pretrain a ViT from scratch on generated fractal classes (the embedded backbone's recipe). Example:\n"
      "  sct pretrain --out runs/pretrain --backbone models/vit_pico_patch4_32_fractal.safetensors");
  flags->model.add_to(*cmd);
  cmd->add_option("--classes", flags->source.classes, "fractal classes (one random IFS each)")->capture_default_str();
  cmd->add_option("--per-class", flags->source.train_per_class, "training images per class")->capture_default_str();
  cmd->add_option("--val-per-class", flags->source.val_per_class, "held-out images per class (0: none)")
      ->capture_default_str();
  cmd->add_option("--source-seed", flags->source.seed, "seed of the fractal systems and their images")
      ->capture_default_str();
  cmd->add_option("--epochs", flags->epochs, "training epochs (default 12)")->check(CLI::PositiveNumber);
  cmd->add_option("--set", flags->overrides, "override a training field, e.g. --set lr=1e-3");
  cmd->add_option("--out", flags->out, "run folder (state, metrics, curve)")->required();
  cmd->add_option("--backbone", flags->backbone, "where to write the backbone (default <out>/backbone.safetensors)");
  cmd->add_flag("--resume", flags->resume, "continue an interrupted run in --out");
  const std::string command = command_line(argc, argv);
  flags->parallel.add_to(*cmd);
  cmd->callback([flags, command, argc, argv] {
    parallel::run_data_parallel(flags->parallel.options(), flags->model.runtime.device, argc, argv,
                                [&](std::ostream& log) { pretrain_here(*flags, command, log); });
  });
}

}  // namespace sct::cli
