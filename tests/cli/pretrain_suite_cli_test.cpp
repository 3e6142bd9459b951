// `sct pretrain` and `sct suite` end to end on tiny models (--threads 1, as sct_cli_test.cpp explains).
#include <gtest/gtest.h>

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

const std::string kTiny = "--threads 1 --model custom --patch 8 --width 24 --depth 2 --heads 3 --img-size 32";

size_t count_lines(const std::string& path) {
  std::ifstream in(path);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) n += !line.empty();
  return n;
}

TEST(PretrainCli, WritesABackboneThatTrainLoads) {
  test::ScratchDir dir;
  const std::string run = dir.file("pre");
  auto r = test::run_cli("pretrain " + kTiny + " --classes 4 --per-class 16 --val-per-class 4 --epochs 2 --out " + run);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  StringMap meta;
  const TensorMap backbone = load_safetensors(run + "/backbone.safetensors", &meta);
  EXPECT_EQ(backbone.count("head.weight"), 0u);  // the source head is not part of the backbone
  EXPECT_EQ(backbone.at("blocks.1.mlp.fc2.weight").sizes(), (std::vector<int64_t>{24, 96}));
  const json about = json::parse(meta.at("sct_pretrain"));
  EXPECT_NE(about["command"].get<std::string>().find("pretrain"), std::string::npos);
  EXPECT_EQ(about["source"]["classes"], 4);
  EXPECT_EQ(about["train"]["epochs"], 2);
  EXPECT_EQ(count_lines(run + "/metrics.jsonl"), 2u);
  EXPECT_GT(fs::file_size(run + "/pretrain_curve.png"), 1000u);
  EXPECT_GT(fs::file_size(run + "/source_preview.png"), 1000u);
  // The source classes are the validation set's: 4 classes, 16 images.
  std::ifstream metrics(run + "/metrics.jsonl");
  std::string first;
  std::getline(metrics, first);
  EXPECT_TRUE(json::parse(first).contains("val_acc")) << first;

  r = test::run_cli("train --task fashion-mnist-1k --method linear --epochs 1 " + kTiny + " --checkpoint " + run +
                    "/backbone.safetensors --out " + dir.file("ft") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;

  r = test::run_cli("pretrain " + kTiny + " --checkpoint " + run + "/backbone.safetensors --out " + dir.file("again"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("random weights"), std::string::npos) << r.output;
}

TEST(SuiteCli, TabulatesEveryMethodOnEveryTask) {
  test::ScratchDir dir;
  const std::string data = dir.file("data"), out = dir.file("suite");
  auto r = test::run_cli("suite --tasks shape-count,shape-position --methods sct,linear --test-size 40 --data " + data +
                         " --out " + out + " --epochs 1 --jobs 2 " + kTiny);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* task : {"shape-count", "shape-position"}) {
    EXPECT_EQ(count_lines(data + "/" + task + "/test.txt"), 40u);
    EXPECT_EQ(count_lines(data + "/" + task + "/train800val200.txt"), 1000u);
  }
  std::ifstream md_in(out + "/suite.md");
  const std::string md((std::istreambuf_iterator<char>(md_in)), {});
  EXPECT_NE(md.find("| method | trainable params | lr | shape-count | shape-position | structured mean | mean |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| sct | 24 | 0.001 |"), std::string::npos) << md;  // 2 blocks x (3 x 3 + 3), default lr
  EXPECT_NE(md.find("| linear | 0 | 0.001 |"), std::string::npos) << md;
  EXPECT_EQ(count_lines(out + "/suite.csv"), 5u);  // header + 2 methods x 2 tasks

  // An unknown method fails before any run; a failing run is named with its folder.
  r = test::run_cli("suite --tasks shape-count --methods nosuch --data " + data + " --out " + dir.file("bad") +
                    " --epochs 1 " + kTiny);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("unknown method 'nosuch'"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir.file("bad")));
  r = test::run_cli("suite --tasks shape-count --methods linear --data " + data + " --out " + dir.file("bad") +
                    " --epochs 1 --set lr=-1 " + kTiny);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("sct train for run linear/shape-count/seed42 failed"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("its run folder: " + dir.file("bad") + "/linear/shape-count/seed42"), std::string::npos)
      << r.output;

  r = test::run_cli("suite --tasks shape-colour --out " + out);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("unknown suite task 'shape-colour'"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace sct
