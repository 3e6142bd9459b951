// The llm.c pattern: small random timm-structured ViTs, built and run by PyTorch
// (tools/make_fixtures.py), loaded here from both file formats and compared tensor by tensor.
#include <gtest/gtest.h>

#include <torch/csrc/autograd/grad_mode.h>

#include "sct/io/checkpoint.h"
#include "sct/io/safetensors.h"
#include "sct/model/stream_recorder.h"
#include "sct/model/vision_transformer.h"
#include "test_util.h"

namespace sct {
namespace {

// The fixtures' float32 outputs sit within 1e-5 of float64 references (fixtures/README.md);
// 1e-4 leaves room for a different summation order while any wrong tensor moves logits by >1e-3.

struct ParityCase {
  std::string name;
  int64_t width, depth, heads, classes;
  double mlp_ratio;
  int64_t size;
  std::string format;  // "npz" or "safetensors"
};

std::string case_name(const testing::TestParamInfo<ParityCase>& info) {
  return info.param.name + "_" + std::to_string(info.param.size) + "_" + info.param.format;
}

class VitParity : public testing::TestWithParam<ParityCase> {};

TEST_P(VitParity, LogitsFeaturesAndEveryBlockMatchPyTorch) {
  const ParityCase& c = GetParam();
  VitConfig cfg;
  cfg.name = c.name;
  cfg.img_size = c.size;
  cfg.patch_size = 8;
  cfg.width = c.width;
  cfg.depth = c.depth;
  cfg.heads = c.heads;
  cfg.mlp_ratio = c.mlp_ratio;
  cfg.num_classes = c.classes;
  VisionTransformer model(cfg);
  const LoadReport report = load_vit_checkpoint(*model, test::fixture(c.name + "." + c.format));
  EXPECT_EQ(report.pos_embed_resampled, c.size != 32);
  EXPECT_TRUE(report.head_loaded);
  model->eval();

  const TensorMap ref = load_safetensors(test::fixture(c.name + ".io_" + std::to_string(c.size) + ".safetensors"));
  std::vector<std::shared_ptr<StreamRecorderImpl>> rec;
  for (int64_t i = 0; i < c.depth; ++i)
    for (HookSite s : {HookSite::AttnResidual, HookSite::MlpBranch, HookSite::BlockOutput}) {
      rec.push_back(std::make_shared<StreamRecorderImpl>(s));
      model->block(i).attach("rec" + std::to_string(static_cast<int>(s)), rec.back());
    }

  torch::NoGradGuard no_grad;
  const at::Tensor tokens = model->forward_features(ref.at("x"));
  const at::Tensor logits = model->forward_head(tokens);
  EXPECT_LE(test::max_abs_diff(model->pos_embed, ref.at("pos_embed")), test::kParityTol);
  EXPECT_LE(test::max_abs_diff(tokens.select(1, 0), ref.at("features")), test::kParityTol);
  EXPECT_LE(test::max_abs_diff(logits, ref.at("logits")), test::kParityTol);
  const char* names[] = {"attn_residual", "mlp_branch", "out"};
  for (int64_t i = 0; i < c.depth; ++i)
    for (int s = 0; s < 3; ++s) {
      const std::string key = "blocks." + std::to_string(i) + "." + names[s];
      EXPECT_LE(test::max_abs_diff(rec[i * 3 + s]->recorded.at(0), ref.at(key)), test::kParityTol) << key;
    }
}

std::vector<ParityCase> cases() {
  std::vector<ParityCase> out;
  for (const std::string fmt : {"npz", "safetensors"}) {
    for (int64_t s : {32, 48}) out.push_back({"vit_d12_w24_h3", 24, 12, 3, 5, 4.0, s, fmt});
    for (int64_t s : {32, 40}) out.push_back({"vit_d2_w32_h4", 32, 2, 4, 3, 2.0, s, fmt});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, VitParity, testing::ValuesIn(cases()), case_name);

TEST(VitParity, NpzAndSafetensorsGiveIdenticalWeights) {
  for (const std::string name : {"vit_d12_w24_h3", "vit_d2_w32_h4"}) {
    LoadReport npz_report;
    const TensorMap npz = read_checkpoint(test::fixture(name + ".npz"), &npz_report);
    const TensorMap st = read_checkpoint(test::fixture(name + ".safetensors"));
    EXPECT_EQ(npz_report.format, "npz");
    ASSERT_EQ(npz.size(), st.size()) << name;
    for (const auto& kv : st) {
      ASSERT_TRUE(npz.count(kv.first)) << kv.first;
      EXPECT_TRUE(at::equal(npz.at(kv.first), kv.second)) << kv.first;
    }
    EXPECT_EQ(npz_report.ignored, (std::vector<std::string>{"pre_logits/bias", "pre_logits/kernel"}));
  }
}

}  // namespace
}  // namespace sct
