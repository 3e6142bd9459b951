// `sct fewshot`: flags -> FewShotSpec -> run_few_shot (run/few_shot.h), each run an `sct train` process.
#include <CLI/CLI.hpp>
#include <iostream>

#include "sct/cli/commands.h"
#include "sct/cli/train_process.h"
#include "sct/data/fashion_mnist_1k.h"
#include "sct/peft/peft_method.h"
#include "sct/run/few_shot.h"

namespace sct::cli {
namespace {

struct FewShotFlags {
  std::string methods = "sct,linear";
  std::string recipe = "noah";
  std::string datasets;
  std::vector<int64_t> shots, seeds;
  RunnerFlags runner;
  FewShotSpec spec;
};

void run(FewShotFlags flags, const std::vector<std::string>& extras) {
  const FewShotRecipe recipe = load_few_shot_recipe(flags.recipe);
  std::cerr << "fewshot: recipe " << recipe.name << " (" << flags.recipe << "); not reproduced: " << recipe.not_reproduced
            << "\n";
  flags.spec.rows = method_rows(split_commas(flags.methods));
  // Without --data, the built-in Fashion-MNIST draws: the protocol offline.
  flags.spec.datasets = !flags.datasets.empty() ? split_commas(flags.datasets)
                        : flags.spec.data.empty() ? std::vector<std::string>{kFashionMnistName}
                                                  : recipe.datasets;
  flags.spec.shots = flags.shots.empty() ? recipe.shots : flags.shots;
  flags.spec.seeds = flags.seeds.empty() ? recipe.seeds : flags.seeds;
  flags.spec.train_args = recipe.train_args(extras);
  flags.spec.train_args.insert(flags.spec.train_args.end(), extras.begin(), extras.end());
  flags.runner.run([&](ProcessRunner& runner) {
    const ExperimentReport report = run_few_shot(flags.spec, runner, std::cerr);
    std::cout << report.table.markdown()
              << "(test top-1 %, mean ± std over list seeds; trainable params exclude the head)\n"
              << "wrote " << flags.spec.out << "/fewshot.md, .csv, .json, .png\n";
  });
}

}  // namespace

void add_fewshot_command(CLI::App& app) {
  auto flags = std::make_shared<FewShotFlags>();
  CLI::App* cmd = app.add_subcommand(
      "fewshot",
      "NOAH's few-shot protocol (configs/fewshot/noah.json): every method on every dataset at 1, 2, 4, 8 and 16 "
      "shots for list seeds 0, 1, 2, each an sct train; a table of mean ± std over seeds per dataset and shot, "
      "and a PNG of accuracy against shots. Without --data: K per class drawn from Fashion-MNIST (offline). "
      "Options not listed here go to every sct train after the recipe's. Examples:\n"
      "  sct fewshot --data data/few-shot --methods sct,lora --checkpoint ViT-B_16.npz --out runs/fewshot\n"
      "  sct fewshot --methods sct,linear,lora --model vit_pico_patch4_32 "
      "--checkpoint models/vit_pico_patch4_32_fractal.safetensors --epochs 30 --out runs/fewshot-fm");
  cmd->add_option("--methods", flags->methods, "comma-separated: " + peft_method_list())->capture_default_str();
  cmd->add_option("--recipe", flags->recipe, "the protocol: a name in configs/fewshot, or a .json")
      ->capture_default_str();
  cmd->add_option("--data", flags->spec.data, "NOAH's data/few-shot root (one folder per dataset)");
  cmd->add_option("--datasets", flags->datasets,
                  "comma-separated folders under --data (default: the recipe's five), or fashion-mnist");
  cmd->add_option("--shots", flags->shots, "shots per class (default: the recipe's 1,2,4,8,16)")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seeds", flags->seeds, "list seeds (default: the recipe's 0,1,2)")
      ->delimiter(',')
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", flags->spec.seed, "the training seed of every run")->capture_default_str();
  flags->runner.add_to(*cmd);
  cmd->add_option("--out", flags->spec.out, "folder for the runs and fewshot.{md,csv,json,png}")->required();
  cmd->allow_extras();
  cmd->callback([flags, cmd] { run(*flags, cmd->remaining()); });
}

}  // namespace sct::cli
