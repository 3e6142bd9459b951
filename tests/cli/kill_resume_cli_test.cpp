// kill -9 at any point of `sct train` (SCT_FAULT_POINT, core/fault_point.h: the process SIGKILLs
// itself at exactly that place): in a training step, after an epoch's state is saved, before the final
// evaluation, between the trained tensors and result.json, between the two files of the task folder,
// and before summary.json. Each killed run leaves nothing that claims completion without being
// complete, and `--resume` then ends with the uninterrupted run's task folder and test accuracy, bit
// for bit.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "sct/io/safetensors.h"
#include "test_util.h"

namespace sct {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

double summary_test_acc(const std::string& run) {
  return json::parse(test::read_file(run + "/summary.json"))["test_acc"].get<double>();
}

// Kills the command at `point` (empty: runs it whole).
test::CommandResult run_killed_at(const std::string& point, const std::string& args) {
  if (!point.empty()) setenv("SCT_FAULT_POINT", point.c_str(), 1);
  const test::CommandResult r = test::run_cli(args);
  unsetenv("SCT_FAULT_POINT");
  return r;
}

TEST(KillResume, EveryKillPointResumesToTheUninterruptedRun) {
  test::ScratchDir dir;
  // Three classes of six 20 x 20 images, split 0.5 / 0.25 / 0.25 by the data's own seed.
  for (int c = 0; c < 3; ++c) {
    fs::create_directories(dir.file("data/c" + std::to_string(c)));
    for (int i = 0; i < 6; ++i) {
      cv::Mat img(20, 20, CV_8UC3);
      cv::randu(img, cv::Scalar::all(0), cv::Scalar::all(255));
      img += cv::Scalar(80.0 * c, 40.0 * i, 0);
      cv::imwrite(dir.file("data/c" + std::to_string(c) + "/" + std::to_string(i) + ".png"), img);
    }
  }
  const std::string train = "train --threads 1 --precision fp32 --model custom --patch 8 --width 32 --depth 2 "
                            "--heads 4 --mlp-ratio 2 --img-size 32 --checkpoint " +
                            test::fixture("vit_d2_w32_h4.safetensors") + " --data " + dir.file("data") +
                            " --split-fractions 0.5 0.25 0.25 --epochs 3 --set warmup_epochs=0 --set batch_size=3"
                            " --recipe none --method-recipe none --out ";
  const auto whole = run_killed_at("", train + dir.file("whole"));
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  const TensorMap want = load_safetensors(dir.file("whole/task/adapter_model.safetensors"));
  const double want_acc = summary_test_acc(dir.file("whole"));

  for (const std::string point : {"train-step:5", "epoch-end:2", "final-eval", "result-write", "task-write", "summary-write"}) {
    SCOPED_TRACE(point);
    const std::string run = dir.file("killed-" + point.substr(0, point.find(':')));
    const auto killed = run_killed_at(point, train + run);
    ASSERT_EQ(killed.exit_code, 128 + 9) << "not killed at " << point << ":\n" << killed.output;
    // What a kill leaves never claims more than there is.
    if (fs::exists(run + "/summary.json")) {
      ADD_FAILURE() << "summary.json written before the kill";
    }
    if (fs::exists(run + "/result.json")) {
      EXPECT_TRUE(fs::exists(run + "/trained.safetensors")) << "result.json without the trained tensors";
    }
    if (fs::exists(run + "/task")) {
      EXPECT_TRUE(fs::exists(run + "/task/adapter_config.json") && fs::exists(run + "/task/adapter_model.safetensors"))
          << "a half-written task folder";
    }
    const auto resumed = run_killed_at("", train + run + " --resume");
    ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
    EXPECT_EQ(summary_test_acc(run), want_acc);
    const TensorMap got = load_safetensors(run + "/task/adapter_model.safetensors");
    ASSERT_EQ(got.size(), want.size());
    for (const auto& [name, t] : want) EXPECT_TRUE(at::equal(got.at(name), t)) << name;
    for (const auto& e : fs::recursive_directory_iterator(run))
      EXPECT_EQ(e.path().filename().string().find(".sct-tmp."), std::string::npos) << "left behind: " << e.path();
  }
}

}  // namespace
}  // namespace sct
