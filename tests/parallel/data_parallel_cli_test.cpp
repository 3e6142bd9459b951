// Data-parallel training as users launch it: `--nproc 2`, and two processes started by hand with
// torchrun's environment, each against one process on the fixture ViT and fashion-mnist-1k. With drop
// path and augmentation on, the two ranks must reproduce one process: the same selected channels, the
// same metrics, and trainable weights within 1e-5 (only float summation order differs). A rank killed
// mid-run stops the other with a message naming it, leaves no result, and the run resumes.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sct/io/safetensors.h"
#include "test_util.h"

namespace sct {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// fp32: in bf16 each rank's GEMMs see half the rows, which changes how oneDNN blocks and rounds them,
// so the ranks' sum differs from one process by bf16's rounding (~1e-4 here), not by a defect.
const std::string kTrain = "train --task fashion-mnist-1k --model custom --patch 8 --width 24 --depth 12 --heads 3 "
                           "--img-size 32 --checkpoint " + test::fixture("vit_d12_w24_h3.npz") +
                           " --epochs 3 --set warmup_epochs=1 --set lr=0.01 --set drop_path=0.1 --set train_aug=true "
                           "--progress lines --json --precision fp32";

json read_json_file(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

std::vector<json> metric_rows(const std::string& run) {
  std::ifstream in(run + "/metrics.jsonl");
  std::vector<json> rows;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) rows.push_back(json::parse(line));
  return rows;
}

// `run` reproduces `reference`: selection, per-epoch metrics, trained tensors.
void expect_same_training(const std::string& reference, const std::string& run) {
  EXPECT_EQ(read_json_file(run + "/selection.json")["parts"], read_json_file(reference + "/selection.json")["parts"]);
  const std::vector<json> a = metric_rows(reference), b = metric_rows(run);
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), a.size());
  for (size_t e = 0; e < a.size(); ++e) {
    EXPECT_NEAR(b[e]["train_loss"].get<double>(), a[e]["train_loss"].get<double>(), 1e-4) << "epoch " << e;
    EXPECT_EQ(b[e]["train_acc"], a[e]["train_acc"]) << "epoch " << e;
    EXPECT_EQ(b[e]["images"], a[e]["images"]);
    EXPECT_EQ(b[e]["steps"], a[e]["steps"]);
  }
  EXPECT_EQ(b.back()["test_acc"], a.back()["test_acc"]);
  EXPECT_GT(a.back()["test_acc"].get<double>(), 10.0);
  const TensorMap x = load_safetensors(reference + "/trained.safetensors");
  const TensorMap y = load_safetensors(run + "/trained.safetensors");
  ASSERT_EQ(x.size(), y.size());
  for (const auto& [name, t] : x) {
    ASSERT_TRUE(y.count(name)) << name;
    EXPECT_LE(test::max_abs_diff(t, y.at(name)), 1e-5) << name;
  }
}

// Two ranks started by hand, as torchrun starts them; `between` runs in the shell before waiting.
std::string torchrun_style(const std::string& args, const std::string& out, const std::string& between = "") {
  const std::string port = std::to_string(20000 + getpid() % 20000);
  std::ostringstream sh;
  sh << "export WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" << port << "; "
     << "RANK=1 LOCAL_RANK=1 " << SCT_CLI_PATH << " " << args << " --threads 1 > " << out << ".rank1 2>&1 & p1=$!; "
     << "RANK=0 LOCAL_RANK=0 " << SCT_CLI_PATH << " " << args << " --threads 1 > " << out << ".rank0 2>&1 & p0=$!; "
     << between << "wait $p0; echo rank0=$?; wait $p1; echo rank1=$?";
  return sh.str();
}

test::CommandResult run_shell(const std::string& command) {
  test::CommandResult r;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return r;
  char buf[4096];
  while (fgets(buf, sizeof(buf), pipe)) r.output += buf;
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(DataParallel, TwoRanksReproduceOneProcessAndAKilledRankIsNamed) {
  test::ScratchDir dir;
  const std::string one = dir.file("one"), two = dir.file("two"), env = dir.file("env"), killed = dir.file("killed");

  auto r = test::run_cli(kTrain + " --threads 1 --out " + one);
  ASSERT_EQ(r.exit_code, 0) << r.output;

  // --nproc 2: one summary line (rank 0 prints), the same training.
  r = test::run_cli(kTrain + " --nproc 2 --out " + two);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  size_t summaries = 0;
  for (size_t at = r.output.find("{\"epochs\""); at != std::string::npos; at = r.output.find("{\"epochs\"", at + 1))
    ++summaries;
  EXPECT_EQ(summaries, 1u) << r.output;
  expect_same_training(one, two);
  EXPECT_TRUE(fs::exists(two + "/task/adapter_model.safetensors"));

  // torchrun's environment, two processes started by hand.
  std::string out = run_shell(torchrun_style(kTrain + " --out " + env, env)).output;
  EXPECT_NE(out.find("rank0=0"), std::string::npos) << out << read_text(env + ".rank0") << read_text(env + ".rank1");
  EXPECT_NE(out.find("rank1=0"), std::string::npos) << out << read_text(env + ".rank1");
  expect_same_training(one, env);

  // Rank 1 killed once the first epoch is on disk: rank 0 stops, names it, writes no result.
  out = run_shell(torchrun_style(
      kTrain + " --dist-timeout 60 --out " + killed, killed,
      "for i in $(seq 1200); do [ -s " + killed + "/metrics.jsonl ] && break; sleep 0.1; done; kill -9 $p1; ")).output;
  const std::string log0 = read_text(killed + ".rank0");
  EXPECT_NE(out.find("rank0=1"), std::string::npos) << out << log0;
  EXPECT_NE(log0.find("rank 1 stopped"), std::string::npos) << log0;
  EXPECT_FALSE(fs::exists(killed + "/result.json"));
  EXPECT_FALSE(fs::exists(killed + "/task"));
  // Resumed by one process, it ends where the uninterrupted run ended.
  r = test::run_cli(kTrain + " --threads 1 --resume --out " + killed);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_same_training(one, killed);
}

// CAIS over two ranks' halves of the split, all-reduced: the file one process writes.
TEST(DataParallel, SelectOverTwoRanksWritesWhatOneProcessWrites) {
  test::ScratchDir dir;
  const std::string model = "--task fashion-mnist-1k --model custom --patch 8 --width 24 --depth 12 --heads 3 "
                            "--img-size 32 --checkpoint " + test::fixture("vit_d12_w24_h3.npz");
  auto r = test::run_cli("select " + model + " --threads 1 --out " + dir.file("one.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = test::run_cli("select " + model + " --nproc 2 --out " + dir.file("two.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json one = read_json_file(dir.file("one.json")), two = read_json_file(dir.file("two.json"));
  EXPECT_EQ(two["class_counts"], one["class_counts"]);
  EXPECT_EQ(two["num_images"], 1000);
  EXPECT_EQ(two["parts"], one["parts"]);  // indices, and scores as stored (float32)
}

// compare under torchrun's environment: each run is one data-parallel training of both ranks; rank 0
// reports, and its table equals one process's.
TEST(DataParallel, CompareUnderTorchrunRunsEachTrainingOverTheGroup) {
  test::ScratchDir dir;
  const std::string args = "compare --methods sct,linear --task fashion-mnist-1k --model custom --patch 8 --width 24 "
                           "--depth 12 --heads 3 --img-size 32 --checkpoint " + test::fixture("vit_d12_w24_h3.npz") +
                           " --epochs 2 --set warmup_epochs=1 --set lr=0.01 --progress lines";
  auto r = test::run_cli(args + " --threads 1 --out " + dir.file("one"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string group = dir.file("group");
  const std::string out = run_shell(torchrun_style(args + " --out " + group, group)).output;
  ASSERT_NE(out.find("rank0=0"), std::string::npos) << out << read_text(group + ".rank0");
  ASSERT_NE(out.find("rank1=0"), std::string::npos) << out << read_text(group + ".rank1");
  EXPECT_NE(read_text(group + ".rank0").find("data-parallel over 2 ranks"), std::string::npos);
  const json a = read_json_file(dir.file("one") + "/compare.json"), b = read_json_file(group + "/compare.json");
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(b[i]["id"], a[i]["id"]);
    EXPECT_EQ(b[i]["result"]["test_acc"], a[i]["result"]["test_acc"]) << b.dump();
  }
}

TEST(DataParallel, MalformedEnvironmentIsNamedBeforeAnyWork) {
  test::ScratchDir dir;
  const auto r = run_shell("env WORLD_SIZE=2 RANK=5 MASTER_ADDR=127.0.0.1 MASTER_PORT=29999 " +
                           std::string(SCT_CLI_PATH) + " " + kTrain + " --threads 1 --out " + dir.file("run"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("RANK='5' is not an integer in [0, 1]"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir.file("run")));
}

}  // namespace
}  // namespace sct
