// `sct compare`: flags -> CompareSpec -> run_compare (run/compare.h), each run an `sct train` process.
#include <CLI/CLI.hpp>
#include <iostream>

#include "sct/cli/commands.h"
#include "sct/cli/train_process.h"
#include "sct/core/error.h"
#include "sct/peft/peft_method.h"
#include "sct/run/compare.h"

namespace sct::cli {
namespace {

struct CompareFlags {
  std::string methods = "sct,linear";
  std::string ablation;
  RunnerFlags runner;
  CompareSpec spec;
};

void run(CompareFlags flags) {
  if (flags.spec.frontier && !flags.ablation.empty()) throw Error("--frontier and --ablation exclude each other");
  flags.spec.rows = !flags.ablation.empty() ? ablation_rows(flags.ablation)
                    : flags.spec.frontier   ? frontier_rows(split_commas(flags.methods))
                                            : method_rows(split_commas(flags.methods));
  if (!flags.ablation.empty()) flags.spec.row_header = flags.ablation;
  flags.runner.run([&](ProcessRunner& runner) {
    const ExperimentReport report = run_compare(flags.spec, runner, std::cerr);
    std::cout << report.table.markdown() << "wrote " << flags.spec.out << "/compare.md, .csv, .json, .png\n";
  });
}

}  // namespace

void add_compare_command(CLI::App& app) {
  auto flags = std::make_shared<CompareFlags>();
  CLI::App* cmd = app.add_subcommand(
      "compare",
      "Train one task with several methods (or SCT ablations), each in its own process, and tabulate them. "
      "Each method trains with its own recipe (lr, weight decay, tune grid from configs/methods/<model>.json; "
      "see sct train --method-recipe). Options not listed here go to every sct train (task, model, checkpoint, "
      "--epochs, --protocol, --set ...). Example:\n"
      "  sct compare --methods sct,linear,lora --seeds 3 --out cmp --task fashion-mnist-1k --checkpoint b.safetensors");
  cmd->add_option("--methods", flags->methods, "comma-separated: " + peft_method_list())->capture_default_str();
  cmd->add_option("--ablation", flags->ablation,
                  "instead of methods, SCT ablations: channels (salient/insalient/random), score (class-aware vs "
                  "dataset), position (attn/mlp/both), k (D/24, D/8, D/4), depth (all, last 6, last 3 blocks)");
  cmd->add_flag("--frontier", flags->spec.frontier,
                "each method over a range of its size (SCT k, LoRA rank, Adapter/AdaptFormer bottleneck, VPT "
                "length; linear, bias, SSF, full once): test top-1 against trainable parameters, a line per method, "
                "the Pareto front marked (the paper's Fig. 1)");
  cmd->add_option("--seeds", flags->spec.seeds, "seeds per row (mean +- std)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", flags->spec.seed, "first seed")->capture_default_str();
  flags->runner.add_to(*cmd);
  cmd->add_option("--out", flags->spec.out, "folder for the runs and compare.{md,csv,json,png}")->required();
  cmd->allow_extras();
  cmd->callback([flags, cmd] {
    flags->spec.train_args = cmd->remaining();
    run(*flags);
  });
}

}  // namespace sct::cli
