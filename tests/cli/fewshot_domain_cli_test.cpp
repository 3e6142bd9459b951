// `sct fewshot` and `sct domain` end to end offline on tiny models (--threads 1, as sct_cli_test.cpp
// explains): Fashion-MNIST's K-shot draws, and fashion-mnist-1k against its shifted copies.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "test_util.h"

namespace sct {
namespace {

namespace fs = std::filesystem;

TEST(FewShotCli, DrawsFashionMnistShotsAndTabulatesMeanAndStd) {
  test::ScratchDir dir;
  const std::string out = dir.file("fs");
  const auto r = test::run_cli(
      "fewshot --methods linear,sct --shots 1,2 --seeds 0,1 --out " + out +
      " --epochs 1 --set warmup_epochs=0 --threads 1 --model custom --patch 8 --width 24 --depth 2 --heads 3 "
      "--img-size 32");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string md = test::read_file(out + "/fewshot.md");
  EXPECT_NE(md.find("| dataset | method | trainable params | 1-shot | 2-shot |"), std::string::npos) << md;
  EXPECT_NE(md.find("| fashion-mnist | linear | 0 |"), std::string::npos) << md;
  EXPECT_NE(md.find(" ± "), std::string::npos) << md;
  EXPECT_FALSE(cv::imread(out + "/fewshot.png").empty());
  // 1 shot of 10 classes is smaller than a batch: one batch of 10 per epoch; NOAH's lr unless overridden.
  const nlohmann::json config = nlohmann::json::parse(test::read_file(out + "/linear/fashion_mnist/shot1/seed0/config.json"));
  EXPECT_DOUBLE_EQ(config.at("lr").get<double>(), 0.005);
  EXPECT_EQ(config.at("epochs"), 1);
  EXPECT_NE(r.output.find("one batch of 10 per epoch"), std::string::npos) << r.output;
}

TEST(DomainCli, ScoresFashionMnistAndItsShiftedCopies) {
  test::ScratchDir dir;
  const std::string out = dir.file("dg");
  const auto r = test::run_cli("domain --methods linear --out " + out + " --checkpoint " +
                               test::fixture("vit_d2_w32_h4.safetensors") +
                               " --epochs 1 --set warmup_epochs=0 --threads 1 --model custom --patch 8 --width 32 "
                               "--depth 2 --heads 4 --mlp-ratio 2 --img-size 32");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string md = test::read_file(out + "/domain.md");
  EXPECT_NE(md.find("| method | trainable params | fashion-mnist-1k test | inverted | sketch | rotated | noisy | "
                    "low-res | shifted mean |"),
            std::string::npos)
      << md;
  EXPECT_EQ(std::count(md.begin(), md.end(), '\n'), 3);  // header, rule, linear
  // --data without --shift-data is refused before any training.
  const auto bad = test::run_cli("domain --data " + dir.file("imagenet") + " --out " + dir.file("bad"));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("--shift-data"), std::string::npos) << bad.output;
  EXPECT_FALSE(fs::exists(dir.file("bad")));
}

}  // namespace
}  // namespace sct
