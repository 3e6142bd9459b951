// Every method on a Swin (tests/fixtures/swin: three stages of widths 16, 32, 64): hand-counted sizes,
// gradients only where a method trains, merges that keep the logits, CAIS over every token of a block
// without a class token, and the paper's block choice on Swin-B's stage depths.
#include <gtest/gtest.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <nlohmann/json.hpp>

#include "sct/io/checkpoint.h"
#include "sct/model/parameter_count.h"
#include "sct/model/stream_recorder.h"
#include "sct/model/swin_transformer.h"
#include "sct/model/vision_transformer.h"
#include "sct/peft/channel_selector.h"
#include "sct/peft/merge.h"
#include "sct/peft/peft_method.h"
#include "sct/peft/sct_method.h"
#include "fixture_models.h"
#include "test_util.h"

namespace sct {
namespace {

using nlohmann::json;

SwinTransformer small_swin() { return test::swin_fixture_model(); }

at::Tensor images(int64_t n, uint64_t seed) {
  at::manual_seed(seed);
  return at::randn({n, 3, 32, 32});
}

// Trainable parameters of each method beside the head, by hand: per block of width D (two blocks each
// of 16, 32 and 64) and MLP hidden 2D.
struct Sized {
  json config;
  int64_t expected;
};

TEST(SwinMethods, EachMethodTrainsItsOwnTensorsAtItsHandCountedSize) {
  auto per_block = [](auto f) { return 2 * (f(16) + f(32) + f(64)); };
  const std::vector<Sized> cases = {
      {{{"name", "linear"}}, 0},
      {{{"name", "lora"}, {"rank", 4}}, per_block([](int64_t d) { return 2 * (4 * d + d * 4); })},
      {{{"name", "adapter"}, {"bottleneck", 4}}, per_block([](int64_t d) { return d * 4 + 4 + 4 * d + d; })},
      {{{"name", "adaptformer"}, {"bottleneck", 4}}, per_block([](int64_t d) { return d * 4 + 4 + 4 * d + d; })},
      // six sites per block: norm1, qkv (3D), proj, norm2, fc1 (2D), fc2; scale and shift each; plus the
      // patch embedding (16) and the final norm (64) on the model.
      {{{"name", "ssf"}}, per_block([](int64_t d) { return 2 * (d + 3 * d + d + d + 2 * d + d); }) + 2 * (16 + 64)},
      // qkv, proj, fc1, fc2 biases and both norms' biases per block (the norms' biases, as BitFit trains
      // every bias): 3D + D + 2D + D + D + D; and the patch embedding's conv and norm, the mergings' norms
      // (4 * 16, 4 * 32), the final norm.
      {{{"name", "bias"}}, per_block([](int64_t d) { return 3 * d + d + 2 * d + d + d + d; }) + 16 + 16 + 64 + 128 + 64},
  };
  for (const Sized& c : cases) {
    SwinTransformer model = small_swin();
    auto method = make_peft_method(c.config);
    method->attach(*model);
    const ParameterCount count = count_parameters(*model);
    EXPECT_EQ(count.trainable - count.trainable_head, c.expected) << c.config.dump();
    EXPECT_EQ(count.trainable_head, 64 * 5 + 5);

    {
      torch::NoGradGuard no_grad;  // off the zero-initialised up-projections, so every gradient flows
      at::manual_seed(5);
      for (auto& kv : model->named_parameters())
        if (kv.value().requires_grad()) kv.value().add_(at::randn_like(kv.value()), 0.05);
    }
    model->train();
    model->forward(images(2, 1)).square().sum().backward();
    for (const auto& kv : model->named_parameters()) {
      const bool trains = kv.value().requires_grad();
      EXPECT_EQ(trains, kv.value().grad().defined()) << c.config.dump() << " " << kv.key();
      if (trains) EXPECT_GT(kv.value().grad().abs().sum().item<double>(), 0.0) << c.config.dump() << " " << kv.key();
    }
  }
}

TEST(SwinMethods, FullFineTuningTrainsEveryParameterAndVptIsRefusedByName) {
  SwinTransformer model = small_swin();
  make_peft_method("full")->attach(*model);
  EXPECT_EQ(count_parameters(*model).trainable, count_parameters(*model).total);

  SwinTransformer other = small_swin();
  test::expect_error([&] { make_peft_method("vpt")->attach(*other); }, {"vpt", "swin_s3_w16", "Swin", "window"});
}

// LoRA, SSF and BitFit fold into the backbone: the merged Swin computes what the hooked one did (SSF's
// patch-embedding site folds into the patch embedding's LayerNorm, the last op before it).
TEST(SwinMethods, MergedMethodsGiveTheSameLogits) {
  for (const char* name : {"lora", "ssf", "bias"}) {
    SwinTransformer model = small_swin();
    make_peft_method(name)->attach(*model);
    {
      torch::NoGradGuard no_grad;
      at::manual_seed(7);
      for (auto& kv : model->named_parameters())
        if (kv.value().requires_grad() && kv.key().rfind("head.", 0) != 0) kv.value().add_(at::randn_like(kv.value()), 0.05);
    }
    model->eval();
    torch::NoGradGuard no_grad;
    const at::Tensor x = images(3, 2);
    const at::Tensor before = model->forward(x);
    merge_hooks(*model);
    EXPECT_LE(test::max_abs_diff(model->forward(x), before), 1e-4) << name;
    EXPECT_GT(test::max_abs_diff(before, small_swin()->forward(x)), 1e-2) << name;  // the method did change them
  }
}

// A Swin has no class token: CAIS sums over every token of the stream. Z[j] = mean over classes of
// sqrt(sum over the class's images and all tokens of F^2), computed here from the recorded stream.
TEST(SwinMethods, ChannelSelectionScoresEveryTokenOfEachBlocksOwnWidth) {
  SwinTransformer model = small_swin();
  model->eval();
  const at::Tensor x = images(6, 3);
  const at::Tensor labels = at::tensor(std::vector<int64_t>{0, 1, 2, 0, 1, 2});
  std::vector<std::shared_ptr<StreamRecorderImpl>> rec;
  for (int64_t i = 0; i < model->depth(); ++i) {
    rec.push_back(std::make_shared<StreamRecorderImpl>(HookSite::AttnResidual));
    model->block(i).attach("rec", rec.back());
  }
  {
    torch::NoGradGuard no_grad;
    model->forward_features(x);
  }
  for (int64_t i = 0; i < model->depth(); ++i) model->block(i).detach("rec");

  SelectionOptions opt;
  const Selection sel = select_channels(model, 3, opt, [&, done = false](at::Tensor& im, at::Tensor& lab) mutable {
    if (done) return false;
    im = x;
    lab = labels;
    return done = true;
  });
  EXPECT_EQ(sel.widths, (std::vector<int64_t>{16, 16, 32, 32, 64, 64}));
  EXPECT_EQ(sel.k, (std::vector<int64_t>{2, 2, 4, 4, 8, 8}));
  for (int64_t i = 0; i < model->depth(); ++i) {
    const at::Tensor f = rec[size_t(i)]->recorded.at(0).to(at::kDouble);  // (6, L, D)
    std::vector<at::Tensor> per_class;
    for (int64_t c = 0; c < 3; ++c) per_class.push_back(f.index_select(0, (labels == c).nonzero().view(-1)).square().sum(at::IntArrayRef{0, 1}).sqrt());
    const at::Tensor z = at::stack(per_class).mean(0);
    EXPECT_LE(test::max_abs_diff(sel.parts[0].scores[size_t(i)], z) / z.abs().max().item<double>(), 1e-5) << i;
  }
  // K = D / 8 in each block: 2 (2^2 + 2) + 2 (4^2 + 4) + 2 (8^2 + 8).
  EXPECT_EQ(sct_parameter_count(sel), 2 * 6 + 2 * 20 + 2 * 72);
  SctMethod method(sel);
  method.attach(*model);
  EXPECT_EQ(count_parameters(*model).trainable - count_parameters(*model).trainable_head, 196);
}

// Mixed precision on a Swin: bf16 GEMMs, fp32 stream (through the patch mergings too) and master weights.
TEST(SwinMethods, Bf16RunsForwardAndBackwardNearFp32) {
  SwinTransformer fp32 = small_swin(), bf16 = small_swin();
  for (SwinTransformer* m : {&fp32, &bf16}) make_peft_method("lora")->attach(**m);
  bf16->set_precision(Precision::bf16);
  const at::Tensor x = images(2, 6);
  const at::Tensor a = fp32->forward(x), b = bf16->forward(x);
  EXPECT_EQ(b.scalar_type(), at::kFloat);
  EXPECT_LT(test::max_abs_diff(a, b), 0.05 * a.abs().max().item<double>());
  EXPECT_GT(test::max_abs_diff(a, b), 0.0);  // the GEMMs did run in bf16
  b.square().sum().backward();
  for (const auto& kv : bf16->named_parameters())
    if (kv.value().requires_grad()) EXPECT_EQ(kv.value().grad().scalar_type(), at::kFloat) << kv.key();
}

TEST(SwinMethods, PaperBlocksAreTheLastNineOfStageThreeAndAllOfStageFour) {
  SwinConfig b = test::swin_fixture_config();  // Swin-B's stage depths on a small, cheap model
  b.img_size = 64;
  b.patch_size = 2;
  b.window_size = 2;
  b.depths = {2, 2, 18, 2};
  b.heads = {1, 1, 1, 1};
  SwinTransformer swin_b(b);
  std::vector<int64_t> expected(11);
  std::iota(expected.begin(), expected.end(), 13);
  EXPECT_EQ(sct_paper_blocks(*swin_b), expected);
  EXPECT_EQ(swin_b->block_path(13), "layers.2.blocks.9");

  SwinConfig t = b;
  t.depths = {2, 2, 6, 2};  // Swin-T: all six of stage 3
  SwinTransformer swin_t(t);
  EXPECT_EQ(sct_paper_blocks(*swin_t), (std::vector<int64_t>{4, 5, 6, 7, 8, 9, 10, 11}));

  VitConfig v;
  v.img_size = 32;
  v.patch_size = 8;
  v.width = 16;
  v.depth = 3;
  v.heads = 2;
  VisionTransformer vit(v);
  EXPECT_EQ(sct_paper_blocks(*vit), (std::vector<int64_t>{0, 1, 2}));
}

}  // namespace
}  // namespace sct
