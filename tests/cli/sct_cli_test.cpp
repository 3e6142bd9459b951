// SCT end to end from the command line, as a user runs it: select -> train -> eval -> predict on
// fashion-mnist-1k (Debian's Fashion-MNIST) with the 12-block fixture ViT (width 24, so K = 3).
// Every command runs with --threads 1: ctest runs two tests at once on two cores, and OpenMP threads
// that outnumber the cores spin against each other (the first test took 156 s instead of 21 s).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <set>
#include <sstream>

#include "sct/io/safetensors.h"
#include "test_util.h"

namespace sct {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kCheckpoint = test::fixture("vit_d12_w24_h3.npz");
const std::string kModel =
    "--threads 1 --model custom --patch 8 --width 24 --depth 12 --heads 3 --img-size 32 --checkpoint " + kCheckpoint;
const std::string kTask = "--task fashion-mnist-1k";

json last_json_line(const std::string& output) {
  std::istringstream in(output);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty() && line.front() == '{') last = line;
  return json::parse(last);
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

// A selection made in bf16 names the checkpoint's own fingerprint (not that of its bf16 copy), so
// training from it on the same checkpoint does not warn of another backbone.
TEST(SctCli, Bf16SelectionNamesTheCheckpointsFingerprint) {
  test::ScratchDir dir;
  std::string sha[2];
  for (int i = 0; i < 2; ++i) {
    const std::string precision = i ? "bf16" : "fp32", sel = dir.file(precision + ".json");
    const auto r = test::run_cli("select " + kTask + " " + kModel + " --precision " + precision + " --out " + sel);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    sha[i] = read_json(sel)["backbone_sha256"].get<std::string>();
  }
  EXPECT_EQ(sha[1], sha[0]);
  const auto r = test::run_cli("train " + kTask + " " + kModel + " --precision bf16 --selection " + dir.file("bf16.json") +
                               " --epochs 1 --set warmup_epochs=0 --out " + dir.file("run"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("another backbone"), std::string::npos) << r.output;
}

TEST(SctCli, SelectTrainEvalPredictOnFashionMnist1k) {
  test::ScratchDir dir;
  const std::string sel = dir.file("sel.json"), png = dir.file("sel.png"), run = dir.file("run");

  // Selection on its own: 12 blocks, K = 24 / 8 = 3 ascending channels each, scores for the heatmap.
  auto r = test::run_cli("select " + kTask + " " + kModel + " --out " + sel + " --heatmap " + png);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json s = read_json(sel);
  EXPECT_EQ(s["num_images"], 1000);
  EXPECT_EQ(s["class_counts"], std::vector<int64_t>(10, 100));
  EXPECT_EQ(s["k"], std::vector<int64_t>(12, 3));
  for (const auto& idx : s["parts"][0]["indices"]) {
    ASSERT_EQ(idx.size(), 3u);
    EXPECT_LT(idx[0].get<int>(), idx[1].get<int>());
    EXPECT_LT(idx[1].get<int>(), idx[2].get<int>());
  }
  EXPECT_GT(fs::file_size(png), 500u);

  // Training selects by itself (the same channels as `select`) unless given a file.
  r = test::run_cli("train " + kTask + " " + kModel + " --epochs 10 --set warmup_epochs=1 --set lr=0.01 --out " + run +
                    " --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json result = last_json_line(r.output);
  EXPECT_EQ(read_json(run + "/selection.json")["parts"][0]["indices"], s["parts"][0]["indices"]);
  EXPECT_EQ(result["trainable_params"], 12 * (3 * 3 + 3));
  EXPECT_EQ(result["head_params"], 24 * 10 + 10);
  // Ten balanced classes: chance is 10%; ten epochs on the (random-weight) fixture backbone reach about 47%.
  const double acc = result["test_acc"].get<double>();
  EXPECT_GT(acc, 30.0) << r.output;
  EXPECT_FALSE(result["optimistic"].get<bool>());
  EXPECT_EQ(read_json(run + "/config.json")["epochs"], 10);
  EXPECT_TRUE(fs::exists(run + "/metrics.csv"));

  // The task folder: two files; its tensors are the SCT modules, their indices and the head.
  const std::string task = run + "/task";
  const json cfg = read_json(task + "/adapter_config.json");
  EXPECT_EQ(cfg["method"]["name"], "sct");
  EXPECT_EQ(cfg["class_names"][0], "T-shirt/top");
  const TensorMap tensors = load_safetensors(task + "/adapter_model.safetensors");
  EXPECT_EQ(tensors.size(), 12u * 3 + 2);
  EXPECT_EQ(tensors.at("blocks.11.sct.attn.linear.weight").sizes(), (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(tensors.at("head.weight").sizes(), (std::vector<int64_t>{10, 24}));

  // Loading it on the same backbone reproduces the run's test accuracy exactly.
  r = test::run_cli("eval --threads 1 --task-dir " + task + " --checkpoint " + kCheckpoint + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json ev = last_json_line(r.output);
  EXPECT_EQ(ev["total"], 10000);
  EXPECT_EQ(ev["top1"].get<double>(), acc);

  // Another backbone (here: random weights) is refused unless forced.
  r = test::run_cli("eval --threads 1 --task-dir " + task + " --json");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("fingerprint"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--force"), std::string::npos) << r.output;
  r = test::run_cli("eval --threads 1 --task-dir " + task + " --force --split val200 --json");
  EXPECT_EQ(r.exit_code, 0) << r.output;

  // Predict: the five most likely classes, sorted, probabilities in (0, 1].
  const std::string image = test::fixture("images/gray_31x29.jpg");
  r = test::run_cli("predict --threads 1 --task-dir " + task + " --checkpoint " + kCheckpoint + " --json " + image);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json p = last_json_line(r.output);
  ASSERT_EQ(p["top"].size(), 5u);
  double total = 0.0;
  for (size_t i = 0; i < 5; ++i) {
    const double prob = p["top"][i]["prob"].get<double>();
    EXPECT_GT(prob, 0.0);
    if (i > 0) EXPECT_LE(prob, p["top"][i - 1]["prob"].get<double>());
    total += prob;
  }
  EXPECT_LE(total, 1.0 + 1e-6);
}

// Your own data: image folders train without any other data flag (the folder names the task and
// its classes), and predict answers with the folders' class names.
TEST(SctCli, TrainsAnImageFolderTreeAndPredictsItsClassNames) {
  test::ScratchDir dir;
  const fs::path root = dir.file("leaves");
  for (const auto& [cls, level] : {std::pair{"oak", 40}, std::pair{"maple", 200}})
    for (const char* split : {"train", "test"}) {
      fs::create_directories(root / split / cls);
      for (int i = 0; i < 6; ++i)
        cv::imwrite((root / split / cls / (std::to_string(i) + ".png")).string(),
                    cv::Mat(32, 32, CV_8UC3, cv::Scalar::all(level + 3 * i)));
    }
  const std::string run = dir.file("run");
  auto r = test::run_cli("train --data " + root.string() + " " + kModel +
                         " --method linear --epochs 1 --set warmup_epochs=0 --set batch_size=4 --json --out " + run);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("data: leaves: image folders"), std::string::npos) << r.output;
  EXPECT_EQ(last_json_line(r.output)["task"], "leaves");
  const json cfg = read_json(run + "/task/adapter_config.json");
  EXPECT_EQ(cfg["class_names"], json({"maple", "oak"}));
  r = test::run_cli("predict --threads 1 --task-dir " + run + "/task --checkpoint " + kCheckpoint + " --json " +
                    (root / "test" / "oak" / "0.png").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json p = last_json_line(r.output);
  ASSERT_EQ(p["top"].size(), 2u);
  std::set<std::string> names = {p["top"][0]["name"], p["top"][1]["name"]};
  EXPECT_EQ(names, (std::set<std::string>{"maple", "oak"}));
}

TEST(SctCli, LinearProbeRerunAndBadInput) {
  test::ScratchDir dir;
  // A linear probe trains the head only and writes the same kind of task folder.
  auto r = test::run_cli("train " + kTask + " " + kModel + " --method linear --epochs 1 --out " + dir.file("lin") +
                         " --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(last_json_line(r.output)["trainable_params"], 0);
  EXPECT_EQ(read_json(dir.file("lin/task/adapter_config.json"))["method"]["name"], "linear");

  // The same run folder again without --resume is refused, and nothing in it is lost.
  r = test::run_cli("train " + kTask + " " + kModel + " --method linear --epochs 1 --out " + dir.file("lin"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("resume"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(dir.file("lin/task/adapter_model.safetensors")));

  // Bad input: unknown task, a task without --data, an unknown position, a corrupt selection file.
  r = test::run_cli("train --task nonexistent --data " + dir.file("nowhere") + " " + kModel + " --out " +
                    dir.file("x"));
  EXPECT_NE(r.exit_code, 0);
  r = test::run_cli("train --task cifar100 " + kModel + " --out " + dir.file("x"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--data"), std::string::npos) << r.output;
  r = test::run_cli("select " + kTask + " " + kModel + " --position nowhere --out " + dir.file("s.json"));
  EXPECT_NE(r.exit_code, 0);
  std::ofstream(dir.file("bad.json")) << "{\"format\": \"sct-channel-selection\"";
  r = test::run_cli("train " + kTask + " " + kModel + " --selection " + dir.file("bad.json") + " --out " +
                    dir.file("y"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("bad.json"), std::string::npos) << r.output;
}

// Every comparison method trains through the same trainer, writes the same kind of task folder, and
// that folder reproduces the run's test accuracy.
class MethodCli : public testing::TestWithParam<std::string> {};

TEST_P(MethodCli, TrainsAndItsTaskFolderReproducesTheRun) {
  test::ScratchDir dir;
  const std::string run = dir.file("run");
  auto r = test::run_cli("train " + kTask + " " + kModel + " --method " + GetParam() +
                         " --epochs 2 --set warmup_epochs=0 --out " + run + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json result = last_json_line(r.output);
  EXPECT_GT(result["trainable_params"].get<int64_t>(), 0);
  EXPECT_EQ(read_json(run + "/task/adapter_config.json")["method"]["name"], GetParam());
  r = test::run_cli("eval --threads 1 --task-dir " + run + "/task --checkpoint " + kCheckpoint + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(last_json_line(r.output)["top1"], result["test_acc"]);

  // lora, ssf, bias (and full) give a plain checkpoint; the others say they cannot.
  const std::string merged = dir.file("merged.safetensors");
  r = test::run_cli("merge --threads 1 --task-dir " + run + "/task --checkpoint " + kCheckpoint + " --out " + merged);
  const bool mergeable = GetParam() == "lora" || GetParam() == "ssf" || GetParam() == "bias" || GetParam() == "full";
  EXPECT_EQ(r.exit_code == 0, mergeable) << r.output;
  if (mergeable) {
    const TensorMap state = load_safetensors(merged);
    EXPECT_EQ(state.at("head.weight").sizes(), (std::vector<int64_t>{10, 24}));
    for (const auto& kv : state) EXPECT_EQ(kv.first.find(GetParam() + "."), std::string::npos) << kv.first;
  } else {
    EXPECT_NE(r.output.find("cannot be merged"), std::string::npos) << r.output;
  }
}

INSTANTIATE_TEST_SUITE_P(Methods, MethodCli,
                         testing::Values("full", "bias", "lora", "adapter", "adaptformer", "ssf", "vpt"));

TEST(SctCli, UnknownMethodOrOptionFailsBeforeAnyWork) {
  test::ScratchDir dir;
  auto r =
      test::run_cli("train " + kTask + " " + kModel + " --method lora --method-option rnk=4 --out " + dir.file("r"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("no option 'rnk'"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir.file("r")));
  r = test::run_cli("train " + kTask + " " + kModel + " --method prompt --out " + dir.file("r"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("unknown method 'prompt'"), std::string::npos) << r.output;
}
// A method recipe sets the method's lr and weight decay over the task's; --set still wins. Without
// --method-recipe, configs/methods/<model>.json is found under $SCT_CONFIG_DIR.
TEST(SctCli, MethodRecipeSetsTheRunsOptimiser) {
  test::ScratchDir dir;
  fs::create_directories(dir.file("configs/methods"));
  test::write_file(dir.file("configs/methods/custom.json"),
                   R"({"model": "custom", "methods": {"lora": {"lr": 0.0123, "weight_decay": 0.002}}})");
  const std::string train = "train " + kTask + " " + kModel + " --epochs 1 --set warmup_epochs=0 --method lora ";
  auto r = test::run_cli(train + "--method-recipe " + dir.file("configs/methods/custom.json") + " --out " +
                         dir.file("a") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_json(dir.file("a/config.json"))["lr"], 0.0123);
  EXPECT_EQ(read_json(dir.file("a/config.json"))["weight_decay"], 0.002);
  EXPECT_EQ(last_json_line(r.output)["lr"], 0.0123);

  ::setenv("SCT_CONFIG_DIR", dir.file("configs").c_str(), 1);
  r = test::run_cli(train + "--set lr=0.05 --out " + dir.file("b"));
  const auto bias = test::run_cli("train " + kTask + " " + kModel + " --method bias --method-recipe " +
                                  dir.file("configs/methods/custom.json") + " --out " + dir.file("c"));
  ::unsetenv("SCT_CONFIG_DIR");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_json(dir.file("b/config.json"))["lr"], 0.05);
  EXPECT_EQ(read_json(dir.file("b/config.json"))["weight_decay"], 0.002);
  EXPECT_NE(bias.exit_code, 0);
  EXPECT_NE(bias.output.find("no entry for method 'bias'"), std::string::npos) << bias.output;
  EXPECT_FALSE(fs::exists(dir.file("c")));
}

// sct compare: one sct train process per method, one table.
TEST(SctCli, CompareTabulatesEveryMethod) {
  test::ScratchDir dir;
  const std::string out = dir.file("cmp");
  // SCT's flags go to every run as compare passes them; a method without the option leaves it, with a note.
  auto r = test::run_cli("compare --methods linear,lora --out " + out + " " + kTask + " " + kModel +
                         " --epochs 1 --set warmup_epochs=0 --k 1/4");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("note: method lora has no option k"), std::string::npos) << r.output;
  std::ifstream csv(out + "/compare.csv");
  std::vector<std::string> lines;
  for (std::string line; std::getline(csv, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1].rfind("linear,", 0), 0u);
  EXPECT_EQ(lines[2].rfind("lora,", 0), 0u);
  // Each row's test accuracy is the one its own run recorded.
  const json runs = read_json(out + "/compare.json");
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[1]["result"]["test_acc"], read_json(out + "/lora/seed42/summary.json")["test_acc"]);
  EXPECT_NE(r.output.find("| lora (W_q and W_v, separate, as Hu et al.) |"), std::string::npos) << r.output;

  r = test::run_cli("compare --ablation colour --out " + out + " " + kTask + " " + kModel);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("ablation 'colour'"), std::string::npos) << r.output;
}

// An ablation end to end, two runs at a time: the depth rows adapt 12, 6 and 3 blocks (K = 3, so
// 12 trainable parameters per block), and each run adapts the blocks its row names.
TEST(SctCli, CompareRunsAnAblation) {
  test::ScratchDir dir;
  const std::string out = dir.file("abl");
  auto r = test::run_cli("compare --ablation depth --jobs 2 --out " + out + " " + kTask + " " + kModel +
                         " --epochs 1 --set warmup_epochs=0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json runs = read_json(out + "/compare.json");
  ASSERT_EQ(runs.size(), 3u);
  const std::vector<std::pair<std::string, int64_t>> rows = {{"all blocks", 12}, {"last 6", 6}, {"last 3", 3}};
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(runs[i]["row"], rows[i].first);
    EXPECT_EQ(runs[i]["result"]["trainable_params"], rows[i].second * 12) << rows[i].first;
  }
  EXPECT_EQ(read_json(out + "/last_3/seed42/selection.json")["blocks"], std::vector<int64_t>({9, 10, 11}));
  EXPECT_NE(r.output.find("| last 6 |"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace sct
