// Experiments (run/experiment.h, compare.h, suite.h) without a subprocess: runs keyed by id, an
// in-process runner with made-up summaries, aggregation by hand-computed numbers, and the files
// every experiment writes.
#include "sct/run/experiment.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <sstream>

#include "sct/core/error.h"
#include "sct/io/plot.h"
#include "sct/peft/peft_method.h"
#include "sct/run/compare.h"
#include "sct/run/few_shot.h"
#include "sct/run/suite.h"
#include "test_util.h"

namespace sct {
namespace {

namespace fs = std::filesystem;

TaskSummary summary(double acc, double seconds, double rss, int64_t trainable) {
  TaskSummary s;
  s.test_acc = acc;
  s.train_seconds = seconds;
  s.peak_rss_mb = rss;
  s.infer_ms_per_image = seconds / 10.0;
  s.trainable_params = trainable;
  s.head_params = 10;
  s.lr = 0.001;
  s.task_dir_bytes = 2048;
  return s;
}

TEST(Experiment, AggregatesByRowAndColumnInOrderOfAppearance) {
  const std::vector<ExperimentRun> runs = {{"b/t1/s1", "b", "t1", 1, {}}, {"b/t1/s2", "b", "t1", 2, {}},
                                           {"a/t1/s1", "a", "t1", 1, {}}, {"b/t0/s1", "b", "t0", 1, {}}};
  const std::map<std::string, TaskSummary> s = {{"b/t1/s1", summary(80.0, 10.0, 100.0, 7)},
                                                {"b/t1/s2", summary(84.0, 20.0, 300.0, 7)},
                                                {"a/t1/s1", summary(50.0, 5.0, 50.0, 0)},
                                                {"b/t0/s1", summary(60.0, 1.0, 10.0, 7)}};
  const ExperimentResults r = aggregate(runs, s);
  EXPECT_EQ(r.rows, (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(r.columns, (std::vector<std::string>{"t1", "t0"}));
  const ExperimentCell& c = r.cell("b", "t1");
  EXPECT_EQ(c.test_acc, (std::vector<double>{80.0, 84.0}));
  EXPECT_DOUBLE_EQ(c.mean, 82.0);
  EXPECT_NEAR(c.std, std::sqrt(8.0), 1e-12);  // sample std of {80, 84}
  EXPECT_DOUBLE_EQ(c.train_seconds, 15.0);    // mean
  EXPECT_DOUBLE_EQ(c.peak_rss_mb, 300.0);     // max
  EXPECT_DOUBLE_EQ(c.infer_ms_per_image, 1.5);
  EXPECT_EQ(c.trainable_params, 7);
  EXPECT_DOUBLE_EQ(c.task_kb, 2.0);
  EXPECT_DOUBLE_EQ(r.cell("a", "t1").std, 0.0);
  test::expect_error([&] { r.cell("a", "t0"); }, {"row 'a'", "column 't0'"});

  std::vector<ExperimentRun> twice = runs;
  twice.push_back(runs[0]);
  test::expect_error([&] { aggregate(twice, s); }, {"'b/t1/s1' is used twice"});
  std::map<std::string, TaskSummary> missing = s;
  missing.erase("a/t1/s1");
  test::expect_error([&] { aggregate(runs, missing); }, {"'a/t1/s1' has no result"});
}

TEST(Experiment, RowsAreCheckedMethodConfigsAndBecomeTrainOptions) {
  const std::vector<ExperimentRow> rows = ablation_rows("channels");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[2].label, "random");
  EXPECT_EQ(rows[2].min_seeds, 3);
  EXPECT_EQ(method_args(rows[2].method),
            (std::vector<std::string>{"--method", "sct", "--method-option", "strategy=random"}));
  EXPECT_EQ(method_args({{"name", "lora"}, {"rank", 4}}),
            (std::vector<std::string>{"--method", "lora", "--method-option", "rank=4"}));
  EXPECT_EQ(ablation_rows("depth")[1].method, nlohmann::json({{"name", "sct"}, {"blocks", "last:6"}}));
  test::expect_error([] { ablation_rows("colour"); }, {"ablation 'colour'", "channels"});
  test::expect_error([] { method_rows({"sct", "lroa"}); }, {"unknown method 'lroa'"});
  // Tables name the variant of a method's paper: LoRA as Hu et al., on W_q and W_v separately.
  const std::vector<ExperimentRow> methods = method_rows({"lora", "linear", "adapter"});
  EXPECT_EQ(row_title(methods, "lora"), "lora (W_q and W_v, separate, as Hu et al.)");
  EXPECT_EQ(row_title(methods, "linear"), "linear");
  EXPECT_EQ(row_title(methods, "adapter"), "adapter (one per block after the MLP)");
  EXPECT_EQ(peft_method_variant({{"name", "adapter"}, {"placement", "both"}}), "two per block, Houlsby");
  EXPECT_EQ(peft_method_variant({{"name", "vpt"}, {"length", 50}}), "VPT-deep");
  test::expect_error([] { method_rows({}); }, {"no method"});
}

TEST(Experiment, TablesQuoteCsvCells) {
  Table t;
  t.header = {"label", "acc"};
  t.rows = {{"a,b", "1.0"}, {"say \"hi\"", "2.0"}};
  EXPECT_EQ(t.markdown(), "| label | acc |\n|---|---|\n| a,b | 1.0 |\n| say \"hi\" | 2.0 |\n");
  EXPECT_EQ(t.csv(), "label,acc\n\"a,b\",1.0\n\"say \"\"hi\"\"\",2.0\n");
}

// compare through an in-process runner: every row's runs get their seeds and method options, the
// table and files come out of the made-up summaries.
TEST(Experiment, CompareRunsEveryRowSeedAndWritesItsFiles) {
  test::ScratchDir dir;
  CompareSpec spec;
  spec.rows = ablation_rows("channels");
  spec.row_header = "channels";
  spec.seeds = 2;
  spec.train_args = {"--task", "x"};
  spec.out = dir.file("cmp");
  std::vector<std::string> seen;
  FunctionRunner runner([&](const ExperimentRun& run, const std::string& run_dir) {
    seen.push_back(run.id);
    EXPECT_EQ(run_dir, (fs::path(spec.out) / run.id).string());
    EXPECT_EQ(run.args.front(), "--seed");
    EXPECT_EQ(run.args[1], std::to_string(run.seed));
    EXPECT_EQ(run.args.back(), "x");
    const bool random = run.row == "random";
    EXPECT_EQ(std::find(run.args.begin(), run.args.end(), "strategy=random") != run.args.end(), random);
    return summary(random ? 40.0 + double(run.seed - 42) : 70.0, 1.0, 1.0, 100);
  });
  std::ostringstream log;
  const ExperimentReport report = run_compare(spec, runner, log);
  // salient and insalient twice, random three times (its minimum).
  EXPECT_EQ(seen, (std::vector<std::string>{"salient/seed42", "salient/seed43", "insalient/seed42",
                                            "insalient/seed43", "random/seed42", "random/seed43", "random/seed44"}));
  ASSERT_EQ(report.table.rows.size(), 3u);
  EXPECT_EQ(report.table.header.front(), "channels");
  EXPECT_EQ(report.table.rows[2][0], "random");
  EXPECT_EQ(report.table.rows[2][1], "41.00 ± 1.00");  // 40, 41, 42
  EXPECT_EQ(report.table.rows[0][1], "70.00 ± 0.00");
  for (const char* ext : {".md", ".csv", ".json", ".png"})
    EXPECT_TRUE(fs::exists(spec.out + "/compare" + ext)) << ext;
  EXPECT_EQ(test::read_file(spec.out + "/compare.md"), report.table.markdown());
  const nlohmann::json j = nlohmann::json::parse(test::read_file(spec.out + "/compare.json"));
  ASSERT_EQ(j.size(), 7u);
  EXPECT_EQ(j[6]["id"], "random/seed44");
  EXPECT_EQ(j[6]["result"]["test_acc"], 42.0);
  EXPECT_FALSE(cv::imread(spec.out + "/compare.png").empty());
}

// The frontier: each method over its size knob, single points for the rest; the Pareto front by hand.
TEST(Experiment, FrontierSpansEachMethodsKnobAndMarksTheParetoFront) {
  const std::vector<ExperimentRow> rows = frontier_rows({"sct", "lora", "linear", "vpt"});
  std::vector<std::string> labels;
  for (const ExperimentRow& r : rows) labels.push_back(r.label);
  EXPECT_EQ(labels, (std::vector<std::string>{"sct k=1/24", "sct k=1/12", "sct k=1/8", "sct k=1/4", "sct k=1/2",
                                              "lora rank=1", "lora rank=2", "lora rank=4", "lora rank=8",
                                              "lora rank=16", "linear", "vpt length=1", "vpt length=5",
                                              "vpt length=10", "vpt length=50"}));
  EXPECT_EQ(method_args(rows[6].method),
            (std::vector<std::string>{"--method", "lora", "--method-option", "rank=2"}));
  EXPECT_EQ(row_title(rows, "lora rank=2"), "lora rank=2 (W_q and W_v, separate, as Hu et al.)");
  test::expect_error([] { frontier_rows({"sct", "lroa"}); }, {"unknown method 'lroa'"});

  // (params with the head of 10, accuracy): a (10, 50), b (110, 70), c (110, 60), d (210, 65), e (1010, 80)
  const std::vector<ExperimentRun> runs = {{"a", "linear", "", 1, {}}, {"b", "sct k=1/8", "", 1, {}},
                                           {"c", "sct k=1/4", "", 1, {}}, {"d", "lora rank=1", "", 1, {}},
                                           {"e", "lora rank=2", "", 1, {}}};
  const std::map<std::string, TaskSummary> s = {{"a", summary(50.0, 1, 1, 0)}, {"b", summary(70.0, 1, 1, 100)},
                                                {"c", summary(60.0, 1, 1, 100)}, {"d", summary(65.0, 1, 1, 200)},
                                                {"e", summary(80.0, 1, 1, 1000)}};
  const ExperimentResults results = aggregate(runs, s);
  EXPECT_EQ(pareto_front(results), (std::vector<std::string>{"linear", "sct k=1/8", "lora rank=2"}));
  const PlotPanel panel = frontier_panel(results, rows);
  ASSERT_EQ(panel.series.size(), 4u);  // linear, sct, lora, the front
  EXPECT_EQ(panel.series[1].label, "sct");
  EXPECT_EQ(panel.series[1].points, (std::vector<std::pair<double, double>>{{110, 60}, {110, 70}}));
  EXPECT_FALSE(panel.series[0].lines);  // one point: a marker
  EXPECT_EQ(panel.series[3].label, "Pareto front");
  EXPECT_EQ(panel.series[3].points, (std::vector<std::pair<double, double>>{{10, 50}, {110, 70}, {1010, 80}}));
  EXPECT_TRUE(panel.series[3].outline);
  EXPECT_FALSE(panel.series[0].outline || panel.series[1].outline || panel.series[2].outline);
  // 50..80 padded by 8% of the span (2.4), to whole points: 47..83, not the old tens (40..90).
  EXPECT_EQ(panel.y_lo, 47.0);
  EXPECT_EQ(panel.y_hi, 83.0);

  // Through compare: a column says which rows are on the front.
  test::ScratchDir dir;
  CompareSpec spec;
  spec.rows = frontier_rows({"linear", "sct"});
  spec.frontier = true;
  spec.out = dir.file("frontier");
  FunctionRunner runner([](const ExperimentRun& run, const std::string&) {
    const bool linear = run.row == "linear";
    return summary(linear ? 50.0 : 60.0 + double(run.row.size()), 1.0, 1.0, linear ? 0 : int64_t(run.row.size()) * 10);
  });
  std::ostringstream log;
  const ExperimentReport report = run_compare(spec, runner, log);
  EXPECT_EQ(report.table.header.back(), "Pareto front");
  ASSERT_EQ(report.table.rows.size(), 6u);
  EXPECT_EQ(report.table.rows[0].back(), "yes");  // linear: the fewest parameters
  EXPECT_FALSE(cv::imread(spec.out + "/compare.png").empty());
}

// suite: per task, per group and overall means from hand-made numbers.
TEST(Experiment, SuiteAveragesTasksGroupsAndEverything) {
  test::ScratchDir dir;
  SuiteSpec spec;
  spec.rows = method_rows({"sct", "linear"});
  spec.tasks = suite_tasks("fashion-mnist-1k,shape-count,shape-position");
  spec.data = dir.file("data");
  spec.out = dir.file("suite");
  const std::map<std::string, double> acc = {{"fashion-mnist-1k", 80.0}, {"shape-count", 60.0}, {"shape-position", 40.0}};
  FunctionRunner runner([&](const ExperimentRun& run, const std::string&) {
    EXPECT_NE(std::find(run.args.begin(), run.args.end(), spec.data), run.args.end());
    return summary(acc.at(run.column) + (run.row == "sct" ? 10.0 : 0.0), 1.0, 1.0, run.row == "sct" ? 96 : 0);
  });
  std::ostringstream log;
  const ExperimentReport report = run_suite(spec, runner, log);
  EXPECT_EQ(report.table.header,
            (std::vector<std::string>{"method", "trainable params", "lr", "fashion-mnist-1k", "shape-count",
                                      "shape-position", "recognition mean", "structured mean", "mean"}));
  EXPECT_EQ(report.table.rows[0],
            (std::vector<std::string>{"sct", "96", "0.001", "90.0", "70.0", "50.0", "90.0", "60.0", "70.0"}));
  EXPECT_EQ(report.table.rows[1][8], "60.0");
  EXPECT_EQ(test::read_file(spec.out + "/suite.csv").substr(0, 7), "method,");
  EXPECT_TRUE(fs::exists(spec.out + "/suite.png"));
  test::expect_error([] { suite_tasks("shape-colour"); }, {"unknown suite task 'shape-colour'"});
}

// fewshot: a run per (method, dataset, shots, list seed) on NOAH's lists; mean ± std over list seeds in
// a row per (dataset, method) and a column per shot count.
TEST(Experiment, FewShotRunsEveryShotAndListSeedAndTabulatesLikeThePaper) {
  test::ScratchDir dir;
  FewShotSpec spec;
  spec.rows = method_rows({"sct", "linear"});
  spec.datasets = {"oxford-pets", "food-101"};
  spec.data = dir.file("few-shot");
  spec.shots = {1, 4};
  spec.seeds = {0, 1, 2};
  spec.seed = 7;
  spec.train_args = {"--epochs", "3"};
  spec.out = dir.file("fs");
  std::vector<std::string> seen;
  FunctionRunner runner([&](const ExperimentRun& run, const std::string&) {
    seen.push_back(run.id);
    const auto has = [&](const std::vector<std::string>& seq) {
      return std::search(run.args.begin(), run.args.end(), seq.begin(), seq.end()) != run.args.end();
    };
    const std::string dataset = run.column.substr(0, run.column.find(' '));
    EXPECT_TRUE(has({"--data", (fs::path(spec.data) / dataset).string()})) << run.id;
    EXPECT_TRUE(has({"--shot-seed", std::to_string(run.seed)})) << run.id;
    EXPECT_TRUE(has({"--seed", "7"})) << run.id;
    EXPECT_EQ(run.args.back(), "3");
    const double shots = run.column.find("4-shot") != std::string::npos ? 4.0 : 1.0;
    // 10 x shots + list seed (+ 20 for sct): seeds 0, 1, 2 give mean +1, std 1.
    return summary(10.0 * shots + double(run.seed) + (run.row == "sct" ? 20.0 : 0.0), 1.0, 1.0,
                   run.row == "sct" ? 96 : 0);
  });
  std::ostringstream log;
  const ExperimentReport report = run_few_shot(spec, runner, log);
  EXPECT_EQ(seen.size(), 2u * 2u * 2u * 3u);
  EXPECT_EQ(seen.front(), "sct/oxford_pets/shot1/seed0");
  EXPECT_EQ(report.table.header, (std::vector<std::string>{"dataset", "method", "trainable params", "1-shot", "4-shot"}));
  ASSERT_EQ(report.table.rows.size(), 4u);
  EXPECT_EQ(report.table.rows[0], (std::vector<std::string>{"oxford-pets", "sct", "96", "31.0 ± 1.0", "61.0 ± 1.0"}));
  EXPECT_EQ(report.table.rows[3], (std::vector<std::string>{"food-101", "linear", "0", "11.0 ± 1.0", "41.0 ± 1.0"}));
  for (const char* ext : {".md", ".csv", ".json", ".png"}) EXPECT_TRUE(fs::exists(spec.out + "/fewshot" + ext)) << ext;
  const cv::Mat png = cv::imread(spec.out + "/fewshot.png");
  EXPECT_GT(png.cols, png.rows);  // two panels side by side
  const std::string csv = test::read_file(spec.out + "/fewshot.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 25);  // header + one line per run
  spec.shots = {0};
  test::expect_error([&] { run_few_shot(spec, runner, log); }, {"shots must be positive"});
  // A shot count listed twice would put two runs in one folder: refused before any run.
  spec.shots = {4, 4};
  seen.clear();
  test::expect_error([&] { run_few_shot(spec, runner, log); }, {"shot4/seed0", "listed twice"});
  EXPECT_TRUE(seen.empty());
}

// NOAH's recipe file: its training settings as sct train options, the user's own options winning.
TEST(Experiment, FewShotRecipeBecomesTrainOptionsUnlessTheUserSetsThem) {
  const FewShotRecipe r = load_few_shot_recipe("noah");
  EXPECT_EQ(r.shots, (std::vector<int64_t>{1, 2, 4, 8, 16}));
  EXPECT_EQ(r.seeds, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(r.datasets.size(), 5u);
  EXPECT_DOUBLE_EQ(r.train.at("lr").get<double>(), 0.005);
  const auto args = r.train_args({"--epochs", "30", "--set", "lr=0.01"});
  const auto has = [&](const std::string& a) { return std::find(args.begin(), args.end(), a) != args.end(); };
  EXPECT_TRUE(has("weight_decay=0.0001"));
  EXPECT_TRUE(has("rand_augment=rand-m9-mstd0.5-inc1"));
  EXPECT_FALSE(has("--epochs"));
  EXPECT_FALSE(has("lr=0.005"));
  const auto all = r.train_args();
  const std::vector<std::string> epochs = {"--epochs", "100"};
  EXPECT_NE(std::search(all.begin(), all.end(), epochs.begin(), epochs.end()), all.end());
  test::ScratchDir dir;
  test::write_file(dir.file("bad.json"), "{\"name\": \"x\"}");
  test::expect_error([&] { load_few_shot_recipe(dir.file("bad.json")); }, {"bad.json", "'source' is missing"});
  test::expect_error([&] { load_few_shot_recipe("nosuch"); }, {"no few-shot recipe 'nosuch'"});
}

TEST(Plot, RefusesEmptyRangesAndWritesThePanels) {
  test::ScratchDir dir;
  PlotPanel p{"acc", "params", {{"a", {{10.0, 50.0}, {100.0, 60.0}}, true}}, 1.0, 1000.0, 0.0, 100.0, true};
  write_plot(dir.file("p.png"), "title", {p, p});
  const cv::Mat image = cv::imread(dir.file("p.png"));
  EXPECT_EQ(image.cols, 2 * 600);
  EXPECT_EQ(image.rows, 388);
  p.x_lo = 0.0;  // log axis from 0
  test::expect_error([&] { write_plot(dir.file("q.png"), "t", {p}); }, {"q.png", "invalid range"});
  test::expect_error([&] { write_plot(dir.file("q.png"), "t", {}); }, {"nothing to draw"});
  EXPECT_FALSE(fs::exists(dir.file("q.png")));
}

}  // namespace
}  // namespace sct
