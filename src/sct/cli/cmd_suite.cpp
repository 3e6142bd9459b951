// `sct suite`: flags -> SuiteSpec -> run_suite (run/suite.h), each run an `sct train` process.
#include <CLI/CLI.hpp>
#include <iostream>

#include "sct/cli/commands.h"
#include "sct/cli/train_process.h"
#include "sct/peft/peft_method.h"
#include "sct/run/suite.h"

namespace sct::cli {
namespace {

struct SuiteFlags {
  std::string methods = "sct,linear";
  std::string tasks = "all";
  int64_t test_size = 2000;
  uint64_t data_seed = 0;
  RunnerFlags runner;
  SuiteSpec spec;
};

void run(SuiteFlags flags) {
  flags.spec.rows = method_rows(split_commas(flags.methods));
  flags.spec.tasks = suite_tasks(flags.tasks);
  write_suite_tasks(flags.spec.tasks, flags.spec.data, flags.test_size, flags.data_seed, std::cerr);
  flags.runner.run([&](ProcessRunner& runner) {
    const ExperimentReport report = run_suite(flags.spec, runner, std::cerr);
    std::cout << report.table.markdown() << "(test top-1 %; trainable params exclude the head)\nwrote "
              << flags.spec.out << "/suite.md, .csv, .json, .png\n";
  });
}

}  // namespace

void add_suite_command(CLI::App& app) {
  auto flags = std::make_shared<SuiteFlags>();
  flags->spec.data = "data/suite";
  CLI::App* cmd = app.add_subcommand(
      "suite",
      "Offline VTAB-1K-style benchmark: fashion-mnist-1k and generated structured tasks, written to --data in "
      "NOAH's layout, every method trained on every task, one table. Options not listed here go to every sct "
      "train. Example:\n"
      "  sct suite --methods sct,linear,lora --out runs/suite --model vit_pico_patch4_32 "
      "--checkpoint models/vit_pico_patch4_32_fractal.safetensors --epochs 30");
  cmd->add_option("--methods", flags->methods, "comma-separated: " + peft_method_list())->capture_default_str();
  cmd->add_option("--tasks", flags->tasks, "all, or a comma-separated list")->capture_default_str();
  cmd->add_option("--data", flags->spec.data, "where the tasks are (written there when missing)")
      ->capture_default_str();
  cmd->add_option("--test-size", flags->test_size, "test images of each generated task")->capture_default_str();
  cmd->add_option("--data-seed", flags->data_seed, "seed of the generated tasks")->capture_default_str();
  cmd->add_option("--seeds", flags->spec.seeds, "training seeds per cell (mean +- std)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", flags->spec.seed, "first training seed")->capture_default_str();
  flags->runner.add_to(*cmd);
  cmd->add_option("--out", flags->spec.out, "folder for the runs and suite.{md,csv,json,png}")->required();
  cmd->allow_extras();
  cmd->callback([flags, cmd] {
    flags->spec.train_args = cmd->remaining();
    run(*flags);
  });
}

}  // namespace sct::cli
