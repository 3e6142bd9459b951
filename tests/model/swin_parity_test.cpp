// The Swin Transformer against a PyTorch transcription of Microsoft's code (tools/make_swin_fixtures.py),
// loaded from both layouts users have: Microsoft's .pth and timm's safetensors.
#include <gtest/gtest.h>

#include <torch/csrc/autograd/grad_mode.h>

#include <nlohmann/json.hpp>

#include <filesystem>

#include "sct/io/checkpoint.h"
#include "sct/model/backbone.h"
#include "sct/io/safetensors.h"
#include "sct/model/stream_recorder.h"
#include "sct/model/swin_transformer.h"
#include "sct/model/window_attention.h"
#include "fixture_models.h"
#include "test_util.h"

namespace sct {
namespace {

std::string fixture(const std::string& suffix) { return test::fixture("swin/swin_s3_w16" + suffix); }

struct Outputs {
  at::Tensor logits, features;
  std::map<std::string, at::Tensor> streams;  // "<block path>.attn_residual" / ".out"
};

Outputs run(SwinTransformerImpl& model, const at::Tensor& x) {
  std::vector<std::pair<std::string, std::shared_ptr<StreamRecorderImpl>>> rec;
  for (int64_t i = 0; i < model.depth(); ++i)
    for (const auto& [site, name] : {std::pair{HookSite::AttnResidual, "attn_residual"}, {HookSite::BlockOutput, "out"}}) {
      rec.emplace_back(model.block_path(i) + "." + name, std::make_shared<StreamRecorderImpl>(site));
      model.block(i).attach(std::string("rec_") + name, rec.back().second);
    }
  torch::NoGradGuard no_grad;
  model.eval();
  Outputs out;
  const at::Tensor tokens = model.forward_features(x);
  out.features = tokens.mean(1);
  out.logits = model.forward_head(tokens);
  for (const auto& [key, r] : rec) out.streams[key] = r->recorded.at(0);
  model.detach_all();
  return out;
}

class SwinParity : public testing::TestWithParam<std::string> {};

TEST_P(SwinParity, LogitsFeaturesAndEveryBlockMatchPyTorch) {
  SwinTransformer model(test::swin_fixture_config());
  const LoadReport report = load_swin_checkpoint(*model, fixture(GetParam()));
  EXPECT_TRUE(report.head_loaded);
  const TensorMap ref = load_safetensors(fixture(".io.safetensors"));
  const Outputs out = run(*model, ref.at("x"));
  EXPECT_LE(test::max_abs_diff(out.logits, ref.at("logits")), test::kParityTol);
  EXPECT_LE(test::max_abs_diff(out.features, ref.at("features")), test::kParityTol);
  ASSERT_EQ(out.streams.size(), 12u);
  for (const auto& [key, t] : out.streams) EXPECT_LE(test::max_abs_diff(t, ref.at(key)), test::kParityTol) << key;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SwinParity, testing::Values(".pth", ".safetensors"),
                         [](const auto& info) { return std::string(info.param == ".pth" ? "microsoft_pth" : "timm_safetensors"); });

// The fixture tells a correct Swin from one with either classic bug: the reference logits without the
// shifted blocks' masks, or with patch merging's x1 and x2 swapped, are far from the right ones; and the
// C++ model, given the same bug by hand, lands on them (so the mask and the merge order are where the
// reference has them).
TEST(SwinParity, AMissingMaskOrASwappedMergeOrderWouldFail) {
  const TensorMap ref = load_safetensors(fixture(".io.safetensors"));
  EXPECT_GT(test::max_abs_diff(ref.at("logits_no_mask"), ref.at("logits")), 100 * test::kParityTol);
  EXPECT_GT(test::max_abs_diff(ref.at("logits_swapped_merge"), ref.at("logits")), 100 * test::kParityTol);

  SwinTransformer no_mask(test::swin_fixture_config());
  load_swin_checkpoint(*no_mask, fixture(".safetensors"));
  int shifted = 0;
  for (int64_t i = 0; i < no_mask->depth(); ++i) {
    auto* attn = dynamic_cast<WindowAttentionImpl*>(no_mask->block(i).attn.get());
    ASSERT_NE(attn, nullptr);
    if (attn->shift == 0) continue;
    ++shifted;
    attn->attn_mask.zero_();
  }
  EXPECT_EQ(shifted, 2);  // stage 2 is a single window: no shift there
  EXPECT_LE(test::max_abs_diff(run(*no_mask, ref.at("x")).logits, ref.at("logits_no_mask")), test::kParityTol);

  // Swapping the column blocks of x1 and x2 in the norm and the reduction is swapping the inputs.
  SwinTransformer swapped(test::swin_fixture_config());
  load_swin_checkpoint(*swapped, fixture(".safetensors"));
  torch::NoGradGuard no_grad;
  for (int64_t s = 1; s < 3; ++s) {
    auto& merge = *swapped->layers[s]->as<SwinStageImpl>()->downsample;
    const int64_t C = merge.norm->weight.size(0) / 4;
    const at::Tensor order = at::cat({at::arange(0, C), at::arange(2 * C, 3 * C), at::arange(C, 2 * C), at::arange(3 * C, 4 * C)});
    for (at::Tensor* t : {&merge.norm->weight, &merge.norm->bias}) t->copy_(t->index_select(0, order));
    merge.reduction->weight.copy_(merge.reduction->weight.index_select(1, order));
  }
  EXPECT_LE(test::max_abs_diff(run(*swapped, ref.at("x")).logits, ref.at("logits_swapped_merge")), test::kParityTol);
}

TEST(SwinCheckpoint, MicrosoftLayoutIsRenamedAndItsBuffersChecked) {
  LoadReport read;
  const TensorMap pth = read_checkpoint(fixture(".pth"), &read);
  EXPECT_EQ(read.format, "pth");
  EXPECT_TRUE(pth.count("layers.0.downsample.reduction.weight"));
  EXPECT_TRUE(pth.count("head.weight"));
  EXPECT_TRUE(pth.count("layers.0.blocks.1.attn_mask"));
  const TensorMap timm = load_safetensors(fixture(".safetensors"));
  // Same weights under the other names: 2 buffers per shifted block and one index per block more.
  EXPECT_EQ(pth.size(), timm.size() + 6 + 2);

  SwinTransformer model(test::swin_fixture_config());
  const LoadReport report = load_swin_state(*model, pth, "ms.pth");
  EXPECT_EQ(report.checked.size(), 6u + 2u);
  for (const auto& name : report.checked)
    EXPECT_TRUE(name.find("relative_position_index") != std::string::npos || name.find("attn_mask") != std::string::npos) << name;

  TensorMap wrong_mask = pth;
  wrong_mask["layers.1.blocks.1.attn_mask"] = at::zeros_like(pth.at("layers.1.blocks.1.attn_mask"));
  test::expect_error([&] { load_swin_state(*model, wrong_mask, "ms.pth"); },
                     {"ms.pth", "layers.1.blocks.1.attn_mask", "differs from the one the model computes"});
}

TEST(SwinCheckpoint, AnotherWindowSizeIsRefusedByName) {
  SwinConfig c = test::swin_fixture_config();
  c.window_size = 2;
  SwinTransformer model(c);
  test::expect_error([&] { load_swin_checkpoint(*model, fixture(".safetensors")); },
                     {"swin_s3_w16.safetensors", "another window size", "window 4", "uses window 2"});
}

TEST(SwinCheckpoint, StrictLoadNamesMissingAndUnexpectedTensors) {
  TensorMap state = load_safetensors(fixture(".safetensors"));
  state.erase("layers.2.downsample.reduction.weight");
  state["layers.3.blocks.0.norm1.weight"] = at::ones({128});
  SwinTransformer model(test::swin_fixture_config());
  test::expect_error([&] { load_swin_state(*model, state, "x.safetensors"); },
                     {"x.safetensors", "missing 1: layers.2.downsample.reduction.weight",
                      "unexpected 1: layers.3.blocks.0.norm1.weight"});
}

TEST(SwinCheckpoint, ConvertWritesTimmNamesWithoutBuffers) {
  test::ScratchDir dir;
  const std::string out = dir.file("swin.safetensors");
  convert_checkpoint(fixture(".pth"), out);
  const TensorMap converted = load_safetensors(out), timm = load_safetensors(fixture(".safetensors"));
  ASSERT_EQ(converted.size(), timm.size());
  for (const auto& [name, t] : timm) EXPECT_TRUE(at::equal(converted.at(name), t)) << name;
}

TEST(TorchCheckpoint, LegacyAndCorruptFilesAreRefusedByName) {
  test::ScratchDir dir;
  const std::string legacy = dir.file("legacy.pth");
  test::write_file(legacy, std::string("\x80\x02" "\x8a\x0a" "pickled", 11));
  test::expect_error([&] { read_checkpoint(legacy); }, {legacy, "legacy (pre-1.6) format"});

  // A pickle cut short inside a valid zip: rewrite data.pkl's bytes is not possible in place, so cut
  // the file: the zip directory goes, and the reader says so naming the file.
  const std::string cut = dir.file("cut.pth");
  std::filesystem::copy_file(fixture(".pth"), cut);
  std::filesystem::resize_file(cut, std::filesystem::file_size(cut) - 100);
  test::expect_error([&] { read_checkpoint(cut); }, {cut});
}

// tools/make_swin_fixtures.py's broken files: each defect named with the file and where it is.
TEST(TorchCheckpoint, BrokenPicklesAreRefusedWithWhatAndWhere) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"pth_view_past_storage", {"data.pkl at byte", "a tensor reaches past the end of its storage '0'"}},
      {"pth_missing_storage", {"names storage '0' but the file has no entry archive/data/0"}},
      {"pth_unknown_opcode", {"data.pkl at byte 2", "pickle opcode 0xff is not one torch.save writes"}},
      {"pth_memo_never_stored", {"refers to memo 99 it never stored"}},
  };
  for (const auto& [name, parts] : cases) {
    const std::string path = test::fixture("fuzz/" + name + ".pth");
    std::vector<std::string> expected = parts;
    expected.push_back(path);
    test::expect_error([&] { read_checkpoint(path); }, expected);
  }
}

TEST(SwinModel, NamedConfigsBuildWithTimmsShapes) {
  const SwinConfig b = swin_config("swin_base_patch4_window7_224");
  EXPECT_EQ(b.num_blocks(), 24);
  EXPECT_EQ(b.num_features(), 1024);
  EXPECT_EQ(b.stage_window(3), 7);
  SwinConfig c = b;
  c.img_size = 256;  // 64 tokens per side: 7 x 7 windows do not tile it
  test::expect_error([&] { c.validate(); }, {"swin_base_patch4_window7_224", "windows", "do not tile"});
  test::expect_error([&] { swin_config("swin_huge"); }, {"unknown Swin model 'swin_huge'", "swin_tiny_patch4_window7_224"});
  // Block paths follow timm's names; the index and mask are buffers, the table a parameter.
  SwinTransformer tiny(test::swin_fixture_config());
  EXPECT_EQ(tiny->block_path(3), "layers.1.blocks.1");
  std::set<std::string> params;
  for (const auto& kv : tiny->named_parameters()) params.insert(kv.key());
  EXPECT_TRUE(params.count("layers.1.blocks.1.attn.relative_position_bias_table"));
  EXPECT_TRUE(params.count("layers.1.downsample.reduction.weight"));
  EXPECT_TRUE(params.count("head.fc.weight"));
  EXPECT_FALSE(params.count("layers.0.downsample.reduction.weight"));
}

// The shipped small Swin (docs/pretraining.md) is the shape its config file names: it loads strictly
// into the model built from configs/models/, and its metadata records that shape.
TEST(SwinModel, ShippedPicoSwinIsTheShapeOfItsConfigFile) {
  const std::string config_file = test::config_dir("models") + "/swin_pico_patch2_window4_32.json";
  nlohmann::json config = nlohmann::json::parse(test::read_file(config_file));
  const std::string weights =
      (std::filesystem::path(test::config_dir("models")) / ".." / ".." / "models" / "swin_pico_patch2_window4_32_fractal.safetensors")
          .lexically_normal()
          .string();
  StringMap metadata;
  load_safetensors(weights, &metadata);
  nlohmann::json recorded = nlohmann::json::parse(metadata.at("sct_pretrain")).at("architecture");
  EXPECT_EQ(recorded.at("num_classes"), 0);
  recorded.erase("num_classes");
  config.erase("num_classes");
  EXPECT_EQ(recorded, config);
  Backbone model = make_backbone(with_classes(config, 0));
  const LoadReport report = load_checkpoint(*model, weights);
  EXPECT_EQ(int64_t(report.loaded.size()), int64_t(model->named_parameters().size()));
  EXPECT_EQ(test::parameter_count(*model), 3072572);
}

}  // namespace
}  // namespace sct
