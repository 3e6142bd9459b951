#include "sct/run/few_shot.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>

#include "sct/core/error.h"
#include "sct/core/json_error.h"
#include "sct/core/json_fields.h"
#include "sct/data/fashion_mnist_1k.h"
#include "sct/train/recipe.h"
#include "sct/train/train_config.h"

namespace sct {

namespace {

namespace fs = std::filesystem;

template <typename Recipe, typename Visit>
void visit_fields(Recipe& r, Visit&& visit) {
  visit("name", r.name);
  visit("source", r.source);
  visit("datasets", r.datasets);
  visit("shots", r.shots);
  visit("seeds", r.seeds);
  visit("train", r.train);
  visit("not_reproduced", r.not_reproduced);
}

const auto kFields = [](auto& r, auto&& visit) { visit_fields(r, visit); };

FewShotRecipe read_few_shot_recipe(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot open few-shot recipe " + path);
  const nlohmann::json j = nlohmann::json::parse(in, refuse_huge_numbers, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw Error(path + ": not valid JSON");
  FewShotRecipe r;
  try {
    json_fields::require_all<FewShotRecipe>(j, kFields, "few-shot recipe");
    r = json_fields::from_json(j, FewShotRecipe{}, kFields, "few-shot recipe");
    TrainConfig::from_json(r.train);  // its training fields must be TrainConfig's, well typed
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  if (r.shots.empty() || r.seeds.empty() || r.datasets.empty())
    throw Error(path + ": datasets, shots and seeds must not be empty");
  return r;
}

std::string column_of(const std::string& dataset, int64_t shots) {
  return dataset + " " + std::to_string(shots) + "-shot";
}

}  // namespace

std::vector<std::string> FewShotRecipe::train_args(const std::vector<std::string>& user_args) const {
  const auto user_sets = [&](const std::string& key) {
    for (size_t i = 0; i < user_args.size(); ++i) {
      if (key == "epochs" && (user_args[i] == "--epochs" || user_args[i].rfind("--epochs=", 0) == 0)) return true;
      if (user_args[i] == "--set" && i + 1 < user_args.size() && user_args[i + 1].rfind(key + "=", 0) == 0) return true;
    }
    return false;
  };
  std::vector<std::string> args;
  for (const auto& item : train.items()) {
    if (user_sets(item.key())) continue;
    const std::string value = item.value().is_string() ? item.value().get<std::string>() : item.value().dump();
    if (item.key() == "epochs") {
      args.insert(args.end(), {"--epochs", value});
    } else {
      args.insert(args.end(), {"--set", item.key() + "=" + value});
    }
  }
  return args;
}

FewShotRecipe load_few_shot_recipe(const std::string& name_or_path) {
  if (fs::path(name_or_path).extension() == ".json") return read_few_shot_recipe(name_or_path);
  std::string searched;
  for (const std::string& dir : default_config_dirs("fewshot")) {
    const fs::path file = fs::path(dir) / (name_or_path + ".json");
    if (fs::is_regular_file(file)) return read_few_shot_recipe(file.string());
    searched += "\n  " + file.string();
  }
  throw Error("no few-shot recipe '" + name_or_path + "'; looked for:" + searched +
              "\n(set SCT_CONFIG_DIR to the configs folder)");
}

ExperimentReport run_few_shot(const FewShotSpec& spec, ExperimentRunner& runner, std::ostream& log) {
  if (spec.rows.empty() || spec.datasets.empty() || spec.shots.empty() || spec.seeds.empty())
    throw Error("sct fewshot: no methods, datasets, shots or seeds");
  for (const int64_t k : spec.shots)
    if (k < 1) throw Error("sct fewshot: shots must be positive, got " + std::to_string(k));
  ExperimentReport report;
  for (const ExperimentRow& row : spec.rows)
    for (const std::string& dataset : spec.datasets)
      for (const int64_t shots : spec.shots)
        for (const int64_t list_seed : spec.seeds) {
          ExperimentRun run;
          run.seed = uint64_t(list_seed);
          run.id = folder_name(row.label) + "/" + folder_name(dataset) + "/shot" + std::to_string(shots) + "/seed" +
                   std::to_string(list_seed);
          run.row = row.label;
          run.column = column_of(dataset, shots);
          if (dataset == kFashionMnistName || spec.data.empty())
            run.args = {"--task", dataset};
          else
            run.args = {"--data", (fs::path(spec.data) / dataset).string()};
          for (const std::string& a : {std::string("--shots"), std::to_string(shots), std::string("--shot-seed"),
                                       std::to_string(list_seed), std::string("--seed"), std::to_string(spec.seed)})
            run.args.push_back(a);
          for (const std::string& a : method_args(row.method)) run.args.push_back(a);
          run.args.insert(run.args.end(), spec.train_args.begin(), spec.train_args.end());
          report.runs.push_back(std::move(run));
        }
  fs::create_directories(spec.out);
  log << "fewshot: " << report.runs.size() << " runs\n";
  const std::map<std::string, TaskSummary> summaries = runner.run(report.runs, spec.out);
  const ExperimentResults& results = report.results = aggregate(report.runs, summaries);

  const auto fmt = format_number;
  Table& md = report.table;
  md.header = {"dataset", "method", "trainable params"};
  for (const int64_t k : spec.shots) md.header.push_back(std::to_string(k) + "-shot");
  std::vector<PlotPanel> panels;
  for (const std::string& dataset : spec.datasets) {
    PlotPanel panel{dataset + ": test top-1 (%)", "shots per class (log)", {}, 0.0, 0.0, 100.0, 0.0, true};
    panel.x_lo = double(*std::min_element(spec.shots.begin(), spec.shots.end())) / 1.5;
    panel.x_hi = double(*std::max_element(spec.shots.begin(), spec.shots.end())) * 1.5;
    for (const std::string& row : results.rows) {
      std::vector<std::string> cells = {dataset, row_title(spec.rows, row),
                                        std::to_string(results.cell(row, column_of(dataset, spec.shots[0])).trainable_params)};
      PlotSeries series{row, {}, true};
      for (const int64_t k : spec.shots) {
        const ExperimentCell& c = results.cell(row, column_of(dataset, k));
        cells.push_back(fmt("%.1f", c.mean) + (c.test_acc.size() > 1 ? " ± " + fmt("%.1f", c.std) : ""));
        series.points.push_back({double(k), c.mean});
        panel.y_lo = std::min(panel.y_lo, c.mean);
        panel.y_hi = std::max(panel.y_hi, c.mean);
      }
      md.rows.push_back(std::move(cells));
      panel.series.push_back(std::move(series));
    }
    panel.y_lo = std::max(0.0, std::floor(panel.y_lo / 10.0) * 10.0 - 10.0);
    panel.y_hi = std::min(100.0, std::ceil(panel.y_hi / 10.0) * 10.0 + 10.0);
    if (panel.y_hi <= panel.y_lo) panel.y_hi = panel.y_lo + 10.0;
    panels.push_back(std::move(panel));
  }
  Table csv;
  csv.header = {"method", "dataset_shots", "shot_seed", "test_acc", "trainable_params", "head_params", "lr",
                "epochs", "train_seconds", "peak_rss_mb"};
  for (const ExperimentRun& run : report.runs) {
    const TaskSummary& r = summaries.at(run.id);
    csv.rows.push_back({run.row, run.column, std::to_string(run.seed), fmt("%.4f", r.test_acc),
                        std::to_string(r.trainable_params), std::to_string(r.head_params), fmt("%g", r.lr),
                        std::to_string(r.epochs), fmt("%.2f", r.train_seconds), fmt("%.1f", r.peak_rss_mb)});
  }
  write_experiment((fs::path(spec.out) / "fewshot").string(), "sct fewshot", md, csv, report.runs, summaries, panels);
  return report;
}

}  // namespace sct
