// `sct compare`: the same task trained by several methods (or SCT ablations), each run in its own
// `sct train` process so that its peak memory is its own, and one table: test top-1 (mean +- std over
// seeds), trainable parameters, the lr used, training time (the epochs' own, so a reused finished run
// keeps its time), peak RSS, inference time per image, task-folder size.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "sct/cli/commands.h"
#include "sct/cli/train_process.h"
#include "sct/core/error.h"
#include "sct/io/atomic_file.h"

namespace sct::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct CompareFlags {
  std::string methods = "sct,linear";
  std::string ablation;
  int seeds = 1;
  uint64_t seed = 42;
  int jobs = 1;
  std::string out;
  std::vector<std::string> train_args;  // everything else, passed to sct train
};

// One row of the table: a label and the arguments that make it differ from the others.
struct Variant {
  std::string label;
  std::vector<std::string> args;
  int min_seeds = 1;  // the paper draws random channels three times
};

// The paper's SCT ablations (SCT-REFERENCE.md §2), or one row per method.
std::vector<Variant> variants(const CompareFlags& flags) {
  const auto sct = [](std::string label, std::vector<std::string> args) {
    args.insert(args.begin(), {"--method", "sct"});
    return Variant{std::move(label), std::move(args)};
  };
  if (flags.ablation.empty()) {
    std::vector<Variant> v;
    for (const std::string& m : split_commas(flags.methods)) v.push_back({m, {"--method", m}});
    if (v.empty()) throw Error("--methods: no method given");
    return v;
  }
  if (flags.ablation == "channels")
    return {sct("salient", {"--strategy", "salient"}), sct("insalient", {"--strategy", "insalient"}),
            Variant{"random", {"--method", "sct", "--strategy", "random"}, 3}};  // a draw per seed
  if (flags.ablation == "score")
    return {sct("class-aware", {"--strategy", "salient"}), sct("dataset", {"--strategy", "dataset"})};
  if (flags.ablation == "position")
    return {sct("attn", {"--position", "attn"}), sct("mlp", {"--position", "mlp"}),
            sct("both", {"--position", "both"})};
  if (flags.ablation == "k")
    return {sct("K=D/24", {"--k", "1/24"}), sct("K=D/8", {"--k", "1/8"}), sct("K=D/4", {"--k", "1/4"})};
  if (flags.ablation == "depth")
    return {sct("all blocks", {"--blocks", "all"}), sct("last 6", {"--blocks", "last:6"}),
            sct("last 3", {"--blocks", "last:3"})};
  throw Error("--ablation: '" + flags.ablation + "' is not one of channels, score, position, k, depth");
}

void run_compare(const CompareFlags& flags) {
  const std::vector<Variant> rows = variants(flags);
  fs::create_directories(flags.out);
  json results = json::array();
  std::string md =
      "| " + std::string(flags.ablation.empty() ? "method" : flags.ablation) +
      " | test top-1 (%) | trainable params | + head | lr | train time (s) | peak RSS (MiB) | inference (ms/img) "
      "| task folder (KB) |\n|---|---|---|---|---|---|---|---|---|\n";
  std::string csv =
      "label,test_acc_mean,test_acc_std,seeds,trainable_params,head_params,lr,train_seconds,peak_rss_mb,"
      "infer_ms_per_image,task_kb\n";
  std::vector<TrainRun> runs;
  for (const Variant& row : rows)
    for (int s = 0; s < std::max(flags.seeds, row.min_seeds); ++s) {
      const uint64_t seed = flags.seed + uint64_t(s);
      TrainRun run;
      run.run_dir = (fs::path(flags.out) / folder_name(row.label) / ("seed" + std::to_string(seed))).string();
      run.what = "'" + row.label + "' (seed " + std::to_string(seed) + ")";
      run.args = {"--seed", std::to_string(seed)};
      run.args.insert(run.args.end(), row.args.begin(), row.args.end());
      run.args.insert(run.args.end(), flags.train_args.begin(), flags.train_args.end());
      runs.push_back(std::move(run));
    }
  std::cerr << "compare: " << runs.size() << " runs, " << flags.jobs << " at a time\n";
  const std::vector<TaskSummary> summaries = run_train_processes(runs, flags.jobs);

  size_t next = 0;
  for (const Variant& row : rows) {
    std::vector<double> accs;
    TaskSummary last;
    double seconds = 0.0, rss = 0.0, infer = 0.0;
    const int seeds = std::max(flags.seeds, row.min_seeds);
    for (int s = 0; s < seeds; ++s) {
      last = summaries[next++];
      accs.push_back(last.test_acc);
      seconds += last.train_seconds;
      rss = std::max(rss, last.peak_rss_mb);
      infer += last.infer_ms_per_image;
      results.push_back({{"label", row.label}, {"seed", flags.seed + uint64_t(s)}, {"result", last.to_json()}});
    }
    const auto [mean, sd] = mean_std(accs);
    const double n = double(seeds);
    const double kb = last.task_dir_bytes / 1024.0;
    const auto fmt = format_number;
    md += "| " + row.label + " | " + fmt("%.2f", mean) + (seeds > 1 ? " ± " + fmt("%.2f", sd) : "") + " | " +
          std::to_string(last.trainable_params) + " | " +
          std::to_string(last.head_params) + " | " + fmt("%g", last.lr) +
          " | " + fmt("%.1f", seconds / n) + " | " +
          fmt("%.0f", rss) + " | " + fmt("%.3f", infer / n) + " | " + fmt("%.1f", kb) + " |\n";
    csv += row.label + "," + fmt("%.4f", mean) + "," + fmt("%.4f", sd) + "," + std::to_string(seeds) + "," +
           std::to_string(last.trainable_params) + "," +
           std::to_string(last.head_params) + "," + fmt("%g", last.lr) + "," +
           fmt("%.2f", seconds / n) + "," +
           fmt("%.1f", rss) + "," + fmt("%.4f", infer / n) + "," + fmt("%.1f", kb) + "\n";
  }
  const std::string base = (fs::path(flags.out) / "compare").string();
  write_file_atomically(base + ".md", [&](std::ostream& o) { o << md; });
  write_file_atomically(base + ".csv", [&](std::ostream& o) { o << csv; });
  write_file_atomically(base + ".json", [&](std::ostream& o) { o << results.dump(2) << "\n"; });
  std::cout << md << "wrote " << base << ".md, .csv, .json\n";
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
  cmd->add_option("--methods", flags->methods,
                  "comma-separated: sct, linear, full, bias, lora, adapter, adaptformer, "
                  "ssf, vpt")
      ->capture_default_str();
  cmd->add_option("--ablation", flags->ablation,
                  "instead of methods, SCT ablations: channels (salient/insalient/random), score (class-aware vs "
                  "dataset), position (attn/mlp/both), k (D/24, D/8, D/4), depth (all, last 6, last 3 blocks)");
  cmd->add_option("--seeds", flags->seeds, "seeds per row (mean +- std)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--seed", flags->seed, "first seed")->capture_default_str();
  cmd->add_option("--jobs", flags->jobs,
                  "runs at a time, each on CPUs / jobs threads (2 one-thread runs beat one two-thread run "
                  "on small models)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--out", flags->out, "folder for the runs and compare.{md,csv,json}")->required();
  cmd->allow_extras();
  cmd->callback([flags, cmd] {
    flags->train_args = cmd->remaining();
    run_compare(*flags);
  });
}

}  // namespace sct::cli
