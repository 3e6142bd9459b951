// The `sct` executable end to end: exit codes, messages and files, as a user sees them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "sct/io/safetensors.h"
#include "test_util.h"

namespace sct {
namespace {

const std::string kD12 =
    "--model custom --patch 8 --width 24 --depth 12 --heads 3 --num-classes 5 --img-size 48 "
    "--checkpoint " + test::fixture("vit_d12_w24_h3.npz");
const std::string kD12At32 =
    "--model custom --patch 8 --width 24 --depth 12 --heads 3 --num-classes 5 --img-size 32 "
    "--checkpoint " + test::fixture("vit_d12_w24_h3.safetensors");

TEST(Cli, InfoJsonReportsThreadsBlasAndDevices) {
  const auto r = test::run_cli("info --json --seconds 0.2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output.substr(r.output.find('{')));
  EXPECT_EQ(j["threads"], j["available_cpus"]);
  EXPECT_GT(j["sgemm_gflops"].get<double>(), 0.0);
  EXPECT_EQ(j["blas"]["gemm_check"], "ok");
  EXPECT_EQ(j["devices"][0], "cpu");
  EXPECT_EQ(test::run_cli("info --json --seconds 0.1 --threads 1").output.find("\"threads\":1") != std::string::npos,
            true);
}

// Numbers that mean nothing are refused at parse time, naming the flag, instead of being read as a
// default (--epochs 0 trained 100 epochs), wrapped (--seed -1) or looped on (--select-batch 0); an
// unknown command is named.
TEST(Cli, NonsenseNumbersAndUnknownCommandsAreRefused) {
  auto r = test::run_cli("bogus");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("unknown command 'bogus'; commands: info, convert"), std::string::npos) << r.output;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"train --task fashion-mnist-1k --out /nonexistent/x --epochs 0", "--epochs"},
      {"train --task fashion-mnist-1k --out /nonexistent/x --epochs -3", "--epochs"},
      {"train --task fashion-mnist-1k --out /nonexistent/x --select-batch 0", "--select-batch"},
      {"bench --threads 999", "--threads"},
      {"bench --threads -1", "--threads"},
      {"bench --seed -1", "--seed"},
      {"bench --img-size -32", "--img-size"},
      {"bench --batch 0", "--batch"},
      {"pretrain --out /nonexistent/x --epochs 0", "--epochs"},
  };
  for (const auto& [args, flag] : cases) {
    r = test::run_cli(args);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_NE(r.output.find(flag), std::string::npos) << args << ": " << r.output;
  }
}

TEST(Cli, ConvertNpzGivesTheTimmStateDict) {
  test::ScratchDir dir;
  const std::string out = dir.file("d12.safetensors");
  const auto r = test::run_cli("convert " + test::fixture("vit_d12_w24_h3.npz") + " " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("ignored pre_logits/kernel"), std::string::npos) << r.output;
  const TensorMap got = load_safetensors(out);
  const TensorMap ref = load_safetensors(test::fixture("vit_d12_w24_h3.safetensors"));
  ASSERT_EQ(got.size(), ref.size());
  for (const auto& kv : ref) EXPECT_TRUE(at::equal(got.at(kv.first), kv.second)) << kv.first;
  StringMap metadata;
  load_safetensors(out, &metadata);
  EXPECT_EQ(metadata.at("converted_from"), "vit_d12_w24_h3.npz");
  EXPECT_EQ(metadata.at("format"), "pt");

  // A safetensors source keeps its own metadata (a backbone's recipe, say) through the conversion.
  const std::string source = dir.file("with_recipe.safetensors");
  save_safetensors(source, ref, {{"recipe", "fractal 200x200"}, {"format", "pt"}});
  const std::string again = dir.file("again.safetensors");
  const auto r2 = test::run_cli("convert " + source + " " + again);
  ASSERT_EQ(r2.exit_code, 0) << r2.output;
  load_safetensors(again, &metadata);
  EXPECT_EQ(metadata.at("recipe"), "fractal 200x200");
  EXPECT_EQ(metadata.at("converted_from"), "with_recipe.safetensors");
  EXPECT_EQ(metadata.at("converted_by"), "sct");
}

TEST(Cli, PrecisionFlagRunsBf16AsAutocastDoesAndRejectsUnknownNames) {
  test::ScratchDir dir;
  const std::string io = test::fixture("vit_d12_w24_h3.bf16_32.safetensors");
  const TensorMap ref = load_safetensors(io);
  const double autocast_err = test::max_abs_diff(ref.at("logits_bf16"), ref.at("logits_f64"));
  for (const std::string p : {"fp32", "bf16"}) {
    const std::string out = dir.file(p + ".safetensors");
    const auto r = test::run_cli("features " + kD12At32 + " --input " + io + " --out " + out + " --logits --precision " + p);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("threads, " + p), std::string::npos) << r.output;
    const double err = test::max_abs_diff(load_safetensors(out).at("logits"), ref.at("logits_f64"));
    if (p == "fp32") EXPECT_LE(err, 1e-4);
    else EXPECT_LT(err, 2.0 * autocast_err) << "autocast's own error " << autocast_err;
  }
  const auto bad = test::run_cli("features " + kD12At32 + " --input " + io + " --out " + dir.file("x") + " --precision fp16");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("--precision"), std::string::npos) << bad.output;
}

TEST(Cli, FeaturesMatchPyTorchWithResampledPositions) {
  test::ScratchDir dir;
  const std::string out = dir.file("f.safetensors");
  const std::string io = test::fixture("vit_d12_w24_h3.io_48.safetensors");
  // The parity is fp32's; --precision auto would be bf16 on a CPU with AMX or AVX512-BF16.
  const auto r = test::run_cli("features " + kD12 + " --input " + io + " --out " + out +
                               " --blocks 0,11 --logits --precision fp32");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const TensorMap got = load_safetensors(out), ref = load_safetensors(io);
  EXPECT_LE(test::max_abs_diff(got.at("features"), ref.at("features")), 1e-4);
  EXPECT_LE(test::max_abs_diff(got.at("logits"), ref.at("logits")), 1e-4);
  EXPECT_LE(test::max_abs_diff(got.at("blocks.11.out"), ref.at("blocks.11.out")), 1e-4);
  EXPECT_EQ(got.count("blocks.5.out"), 0u);
}

// A Swin from either layout through the command line (--model-config names its shape): features (the
// token average), logits and the streams after blocks, as PyTorch computed them; and `sct convert` of
// Microsoft's .pth gives timm's safetensors.
TEST(Cli, SwinFeaturesMatchPyTorchFromBothLayouts) {
  test::ScratchDir dir;
  const std::string config = dir.file("swin.json");
  test::write_file(config, R"({"arch": "swin", "name": "swin_s3_w16", "img_size": 32, "patch_size": 2, "embed_dim": 16,
    "depths": [2, 2, 2], "heads": [2, 4, 8], "window_size": 4, "mlp_ratio": 2.0, "num_classes": 5, "ln_eps": 1e-5})");
  const std::string io = test::fixture("swin/swin_s3_w16.io.safetensors");
  const TensorMap ref = load_safetensors(io);
  for (const std::string format : {"pth", "safetensors"}) {
    const std::string out = dir.file(format + ".safetensors");
    const auto r = test::run_cli("features --model-config " + config + " --checkpoint " +
                                 test::fixture("swin/swin_s3_w16." + format) + " --input " + io + " --out " + out +
                                 " --blocks 1,3 --logits --precision fp32");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const TensorMap got = load_safetensors(out);
    EXPECT_LE(test::max_abs_diff(got.at("features"), ref.at("features")), 1e-4) << format;
    EXPECT_LE(test::max_abs_diff(got.at("logits"), ref.at("logits")), 1e-4) << format;
    EXPECT_LE(test::max_abs_diff(got.at("layers.1.blocks.1.out"), ref.at("layers.1.blocks.1.out")), 1e-4) << format;
    if (format == "pth") EXPECT_NE(r.output.find("checked 8 computed buffers"), std::string::npos) << r.output;
  }
  const std::string converted = dir.file("converted.safetensors");
  const auto c = test::run_cli("convert " + test::fixture("swin/swin_s3_w16.pth") + " " + converted);
  ASSERT_EQ(c.exit_code, 0) << c.output;
  EXPECT_NE(c.output.find("attn_mask (a buffer the model computes)"), std::string::npos) << c.output;
  const TensorMap timm = load_safetensors(test::fixture("swin/swin_s3_w16.safetensors"));
  EXPECT_EQ(load_safetensors(converted).size(), timm.size());

  // A window-7 model cannot take this window-4 file; an unknown name lists the Swins too.
  const auto wrong = test::run_cli("features --model swin_tiny_patch4_window7_224 --checkpoint " +
                                   test::fixture("swin/swin_s3_w16.safetensors") + " --input " + io + " --out " +
                                   dir.file("w.safetensors"));
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.output.find("another window size"), std::string::npos) << wrong.output;
  const auto unknown = test::run_cli("features --model swin_giant --input " + io + " --out " + dir.file("u.safetensors"));
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.output.find("swin_base_patch4_window12_384"), std::string::npos) << unknown.output;
}

// --images decodes exactly as `sct preprocess`: a folder, a list file (labels ignored) and the
// preprocessed tensor all give the same features.
TEST(Cli, FeaturesFromImagesMatchPreprocessedInput) {
  test::ScratchDir dir;
  const std::string a = test::fixture("images/gray_31x29.jpg"), b = test::fixture("images/gray_37x53.png");
  std::filesystem::create_directories(dir.file("imgs"));
  std::filesystem::copy_file(a, dir.file("imgs/a.jpg"));
  std::filesystem::copy_file(b, dir.file("imgs/b.png"));
  std::ofstream(dir.file("list.txt")) << "imgs/a.jpg 3\nimgs/b.png 0\n";
  const std::string model = "--model custom --patch 8 --width 24 --depth 12 --heads 3 --num-classes 5 --img-size 32 "
                            "--checkpoint " + test::fixture("vit_d12_w24_h3.safetensors");
  ASSERT_EQ(test::run_cli("preprocess " + a + " " + b + " --size 32 --out " + dir.file("x.safetensors")).exit_code, 0);
  std::vector<at::Tensor> features;
  for (const std::string src : {"--input " + dir.file("x.safetensors"), "--images " + dir.file("imgs"),
                                "--images " + dir.file("list.txt")}) {
    const auto r = test::run_cli("features " + model + " " + src + " --out " + dir.file("f.safetensors"));
    ASSERT_EQ(r.exit_code, 0) << src << "\n" << r.output;
    features.push_back(load_safetensors(dir.file("f.safetensors")).at("features"));
  }
  EXPECT_EQ(features[0].size(0), 2);
  EXPECT_TRUE(at::equal(features[0], features[1]));
  EXPECT_TRUE(at::equal(features[0], features[2]));
}

TEST(Cli, BenchJsonHasTheAdvertisedFields) {
  const auto r = test::run_cli(
      "bench --model custom --patch 8 --width 24 --depth 2 --heads 3 --img-size 32 --batch 4 --steps 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output.substr(r.output.rfind("{\"")));
  for (const char* k : {"train_img_per_s", "infer_img_per_s", "peak_rss_mb", "threads", "model", "batch"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["batch"], 4);
  EXPECT_EQ(j["trainable_params"], 24 * 100 + 100);  // head only
}

TEST(Cli, BadInputFailsWithAClearMessage) {
  test::ScratchDir dir;
  auto expect_fail = [](const std::string& args, const std::string& needle) {
    const auto r = test::run_cli(args);
    EXPECT_NE(r.exit_code, 0) << args;
    EXPECT_NE(r.output.find(needle), std::string::npos) << args << "\n" << r.output;
  };
  expect_fail("info --device cuda --seconds 0.1", "CUDA is not available");
  expect_fail("bench --device cuda:0 --model vit_tiny_patch16_224", "CUDA is not available");
  expect_fail("bench --model vit_nonexistent", "unknown model 'vit_nonexistent'");
  expect_fail("features --model vit_base_patch16_224 --checkpoint " + test::fixture("vit_d2_w32_h4.safetensors") +
                  " --input " + test::fixture("vit_d2_w32_h4.io_32.safetensors") + " --out " + dir.file("x"),
              "does not fit model 'vit_base_patch16_224'");
  expect_fail("features " + kD12 + " --input " + test::fixture("vit_d2_w32_h4.safetensors") + " --out " + dir.file("x"),
              "has no tensor named 'x'");
  expect_fail("features " + kD12 + " --input " + test::fixture("vit_d12_w24_h3.io_48.safetensors") +
                  " --blocks 12 --out " + dir.file("x"),
              "'12' is not a block in [0, 12)");

  // An output that is an input, or two outputs that are one file: refused before any work, input intact.
  const std::string checkpoint = dir.file("c.safetensors");
  std::filesystem::copy_file(test::fixture("vit_d12_w24_h3.safetensors"), checkpoint);
  const auto size = std::filesystem::file_size(checkpoint);
  expect_fail("features --model custom --patch 8 --width 24 --depth 12 --heads 3 --num-classes 5 --img-size 32 "
              "--checkpoint " + checkpoint + " --input " + test::fixture("vit_d12_w24_h3.io_48.safetensors") +
                  " --out " + checkpoint,
              "--out " + checkpoint + " is the --checkpoint it reads");
  EXPECT_EQ(std::filesystem::file_size(checkpoint), size);
  expect_fail("select --task fashion-mnist-1k --out " + dir.file("s.json") + " --heatmap " + dir.file("s.json"),
              "--out and --heatmap name the same file");
  const std::string image = dir.file("img.png");
  std::filesystem::copy_file(test::fixture("images/exif_rot_36x20.rgb.png"), image);
  expect_fail("preprocess " + image + " --out " + image, "is the image argument it reads");
  expect_fail("select --task fashion-mnist-1k --select-batch 0 --out " + dir.file("t.json"), "--select-batch");
}

}  // namespace
}  // namespace sct
