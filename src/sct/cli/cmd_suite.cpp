// `sct suite`: an offline VTAB-1K-style benchmark. Writes its tasks to disk in NOAH's layout
// (fashion-mnist-1k from Debian's Fashion-MNIST, and the generated tasks of synthetic_tasks.h), trains
// every chosen method on every task with `sct train` (one process per run), and prints a VTAB-style
// table: test top-1 per task, per group and overall, with each method's trainable parameters.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "sct/cli/commands.h"
#include "sct/cli/train_process.h"
#include "sct/core/error.h"
#include "sct/data/fashion_mnist_1k.h"
#include "sct/data/synthetic_tasks.h"
#include "sct/io/atomic_file.h"

namespace sct::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct SuiteTask {
  std::string name;
  std::string group;
};

std::vector<SuiteTask> all_suite_tasks() {
  std::vector<SuiteTask> tasks = {{kFashionMnist1kName, "recognition"}};
  for (const SyntheticTaskInfo& t : synthetic_tasks()) tasks.push_back({t.name, t.group});
  return tasks;
}

struct SuiteFlags {
  std::string methods = "sct,linear";
  std::string tasks = "all";
  std::string data = "data/suite";
  int64_t test_size = 2000;
  uint64_t data_seed = 0;
  int seeds = 1;
  uint64_t seed = 42;
  int jobs = 1;
  std::string out;
  std::vector<std::string> train_args;  // passed to every sct train
};

std::vector<SuiteTask> chosen_tasks(const std::string& list) {
  const std::vector<SuiteTask> all = all_suite_tasks();
  if (list == "all") return all;
  std::vector<SuiteTask> out;
  for (const std::string& name : split_commas(list)) {
    const auto it = std::find_if(all.begin(), all.end(), [&](const SuiteTask& t) { return t.name == name; });
    if (it == all.end()) {
      std::string known;
      for (const SuiteTask& t : all) known += " " + t.name;
      throw Error("--tasks: unknown suite task '" + name + "'; known:" + known);
    }
    out.push_back(*it);
  }
  if (out.empty()) throw Error("--tasks: no task given");
  return out;
}

// Writes the tasks that are not on disk yet (each folder appears complete or not at all).
void prepare(const std::vector<SuiteTask>& tasks, const SuiteFlags& flags) {
  for (const SuiteTask& t : tasks) {
    if (fs::exists(fs::path(flags.data) / t.name)) continue;
    std::cerr << "suite: writing " << t.name << " to " << flags.data << "\n";
    if (t.name == kFashionMnist1kName)
      write_fashion_mnist_1k(load_fashion_mnist_1k(), flags.data);
    else
      write_synthetic_task(draw_synthetic_task(t.name, flags.data_seed, flags.test_size), flags.data);
  }
}

void run_suite(const SuiteFlags& flags) {
  const std::vector<std::string> methods = split_commas(flags.methods);
  if (methods.empty()) throw Error("--methods: no method given");
  const std::vector<SuiteTask> tasks = chosen_tasks(flags.tasks);
  prepare(tasks, flags);
  fs::create_directories(flags.out);

  std::vector<std::string> groups;
  for (const SuiteTask& t : tasks)
    if (std::find(groups.begin(), groups.end(), t.group) == groups.end()) groups.push_back(t.group);
  const auto fmt = format_number;
  std::string md = "| method | trainable params | lr |";
  std::string rule = "|---|---|---|";
  for (const SuiteTask& t : tasks) md += " " + t.name + " |", rule += "---|";
  for (const std::string& g : groups) md += " " + g + " mean |", rule += "---|";
  md += " mean |\n" + rule + "---|\n";
  std::string csv = "method,task,group,seed,test_acc,trainable_params,head_params,lr,train_seconds,peak_rss_mb\n";
  json results = json::array();

  std::vector<TrainRun> runs;
  for (const std::string& method : methods)
    for (const SuiteTask& t : tasks)
      for (int s = 0; s < flags.seeds; ++s) {
        const std::string seed = std::to_string(flags.seed + uint64_t(s));
        TrainRun run;
        run.run_dir = (fs::path(flags.out) / folder_name(method) / t.name / ("seed" + seed)).string();
        run.what = method + " on " + t.name + " (seed " + seed + ")";
        run.args = {"--task", t.name, "--data", flags.data, "--method", method, "--seed", seed};
        run.args.insert(run.args.end(), flags.train_args.begin(), flags.train_args.end());
        runs.push_back(std::move(run));
      }
  std::cerr << "suite: " << runs.size() << " runs, " << flags.jobs << " at a time\n";
  const std::vector<TaskSummary> summaries = run_train_processes(runs, flags.jobs);

  size_t next = 0;
  for (const std::string& method : methods) {
    std::map<std::string, std::vector<double>> by_group;
    std::vector<double> task_means;
    std::string cells;
    int64_t trainable = -1;
    double lr = 0.0;  // of the first run: the method's recipe (tune can choose per task)
    for (const SuiteTask& t : tasks) {
      std::vector<double> accs;
      for (int s = 0; s < flags.seeds; ++s) {
        const uint64_t seed = flags.seed + uint64_t(s);
        const TaskSummary& r = summaries[next++];
        accs.push_back(r.test_acc);
        if (trainable < 0) {
          trainable = r.trainable_params;
          lr = r.lr;
        }
        csv += method + "," + t.name + "," + t.group + "," + std::to_string(seed) + "," +
               fmt("%.4f", accs.back()) + "," + std::to_string(r.trainable_params) + "," +
               std::to_string(r.head_params) + "," + fmt("%g", r.lr) + "," +
               fmt("%.2f", r.train_seconds) +
               "," + fmt("%.1f", r.peak_rss_mb) + "\n";
        results.push_back({{"method", method}, {"task", t.name}, {"group", t.group}, {"seed", seed}, {"result", r.to_json()}});
      }
      const auto [mean, sd] = mean_std(accs);
      cells += " " + fmt("%.1f", mean) + (flags.seeds > 1 ? " ± " + fmt("%.1f", sd) : "") + " |";
      by_group[t.group].push_back(mean);
      task_means.push_back(mean);
    }
    md += "| " + method + " | " + std::to_string(trainable) + " | " + fmt("%g", lr) + " |" + cells;
    for (const std::string& g : groups) md += " " + fmt("%.1f", mean_std(by_group[g]).first) + " |";
    md += " " + fmt("%.1f", mean_std(task_means).first) + " |\n";
  }
  const std::string base = (fs::path(flags.out) / "suite").string();
  write_file_atomically(base + ".md", [&](std::ostream& o) { o << md; });
  write_file_atomically(base + ".csv", [&](std::ostream& o) { o << csv; });
  write_file_atomically(base + ".json", [&](std::ostream& o) { o << results.dump(2) << "\n"; });
  std::cout << md << "(test top-1 %; trainable params exclude the head)\nwrote " << base << ".md, .csv, .json\n";
}

}  // namespace

void add_suite_command(CLI::App& app) {
  auto flags = std::make_shared<SuiteFlags>();
  CLI::App* cmd = app.add_subcommand(
      "suite",
      "Offline VTAB-1K-style benchmark: fashion-mnist-1k and generated structured tasks, written to --data in "
      "NOAH's layout, every method trained on every task, one table. Options not listed here go to every sct "
      "train. Example:\n"
      "  sct suite --methods sct,linear,lora --out runs/suite --model vit_pico_patch4_32 "
      "--checkpoint models/vit_pico_patch4_32_fractal.safetensors --epochs 30");
  cmd->add_option("--methods", flags->methods, "comma-separated: sct, linear, full, bias, lora, adapter, adaptformer, "
                                               "ssf, vpt")
      ->capture_default_str();
  cmd->add_option("--tasks", flags->tasks, "all, or a comma-separated list")->capture_default_str();
  cmd->add_option("--data", flags->data, "where the tasks are (written there when missing)")->capture_default_str();
  cmd->add_option("--test-size", flags->test_size, "test images of each generated task")->capture_default_str();
  cmd->add_option("--data-seed", flags->data_seed, "seed of the generated tasks")->capture_default_str();
  cmd->add_option("--seeds", flags->seeds, "training seeds per cell (mean +- std)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", flags->seed, "first training seed")->capture_default_str();
  cmd->add_option("--jobs", flags->jobs, "runs at a time, each on CPUs / jobs threads")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--out", flags->out, "folder for the runs and suite.{md,csv,json}")->required();
  cmd->allow_extras();
  cmd->callback([flags, cmd] {
    flags->train_args = cmd->remaining();
    run_suite(*flags);
  });
}

}  // namespace sct::cli
