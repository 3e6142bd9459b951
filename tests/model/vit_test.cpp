// Properties of the ViT that do not need PyTorch: sizes, initialisation, drop path, hooks, gradients.
#include <gtest/gtest.h>

#include <torch/csrc/autograd/grad_mode.h>

#include "sct/core/error.h"
#include "sct/model/backbone_fingerprint.h"
#include "sct/model/stream_recorder.h"
#include "sct/model/vision_transformer.h"
#include "fixture_models.h"

namespace sct {
namespace {

VitConfig tiny(int64_t classes = 4) {
  VitConfig c;
  c.name = "tiny-test";
  c.img_size = 16;
  c.patch_size = 4;
  c.width = 16;
  c.depth = 3;
  c.heads = 2;
  c.num_classes = classes;
  return c;
}

// timm's published sizes with the 1000-class ImageNet head (timm model cards: 86.6M, 22.1M, 5.7M),
// and by hand: patch 3*16*16*D + D, cls D, pos 197*D, 12 * (12 D^2 + 13 D), norm 2D, head 1001*D... .
TEST(Vit, NamedConfigsHaveTimmParameterCounts) {
  EXPECT_EQ(test::parameter_count(*VisionTransformer(vit_config("vit_base_patch16_224"))), 86567656);
  EXPECT_EQ(test::parameter_count(*VisionTransformer(vit_config("vit_small_patch16_224"))), 22050664);
  EXPECT_EQ(test::parameter_count(*VisionTransformer(vit_config("vit_tiny_patch16_224"))), 5717416);
  const VitConfig h = vit_config("vit_huge_patch14_224");
  EXPECT_EQ(h.grid(), 16);
  EXPECT_EQ(h.width, 1280);
  EXPECT_EQ(vit_config("vit_large_patch16_224").depth, 24);
  EXPECT_THROW(vit_config("vit_gigantic"), Error);
}

// The embedded backbone's shape keeps the paper's where it matters: 12 blocks, width divisible by 8.
// By hand: patch 3*4*4*96 + 96, cls 96, pos 65*96, 12 * (12*96^2 + 13*96), norm 2*96 = 1,353,312.
TEST(Vit, PicoConfigIsTheEmbeddedBackbonesShape) {
  VitConfig c = vit_config("vit_pico_patch4_32");
  EXPECT_EQ(c.depth, 12);
  EXPECT_EQ(c.width % 8, 0);
  EXPECT_EQ(c.num_tokens(), 65);
  c.num_classes = 0;
  EXPECT_EQ(test::parameter_count(*VisionTransformer(c)), 1353312);
}

TEST(Vit, ParameterNamesAreTimms) {
  VisionTransformer m(tiny());
  std::vector<std::string> names;
  for (const auto& kv : m->named_parameters()) names.push_back(kv.key());
  const std::vector<std::string> expected_prefix = {
      "cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias",  // PyTorch's order too
      "blocks.0.norm1.weight", "blocks.0.norm1.bias", "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias",
      "blocks.0.attn.proj.weight", "blocks.0.attn.proj.bias", "blocks.0.norm2.weight", "blocks.0.norm2.bias",
      "blocks.0.mlp.fc1.weight", "blocks.0.mlp.fc1.bias", "blocks.0.mlp.fc2.weight", "blocks.0.mlp.fc2.bias"};
  ASSERT_GE(names.size(), expected_prefix.size());
  EXPECT_EQ(std::vector<std::string>(names.begin(), names.begin() + 16), expected_prefix);
  EXPECT_EQ(names[names.size() - 4], "norm.weight");
  EXPECT_EQ(names.back(), "head.bias");
}

TEST(Vit, InvalidConfigsAndInputsAreClearErrors) {
  VitConfig c = tiny();
  c.heads = 3;  // 16 not divisible by 3
  EXPECT_THROW(VisionTransformer{c}, Error);
  VisionTransformer m(tiny());
  try {
    m->forward(at::zeros({1, 3, 20, 20}));
    FAIL() << "wrong image size accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(B, 3, 16, 16)"), std::string::npos) << e.what();
  }
}

TEST(Vit, TimmInitialisation) {
  at::manual_seed(0);
  VitConfig c = vit_config("vit_small_patch16_224");
  VisionTransformer m(c);
  const at::Tensor w = m->block(0).attn->qkv->weight;
  EXPECT_NEAR(w.std().item<double>(), 0.02 * 0.98, 0.001);  // trunc at +-2 absolute: ~N(0, 0.02^2)
  EXPECT_EQ(m->block(0).attn->qkv->bias.abs().max().item<double>(), 0.0);
  EXPECT_EQ(m->block(0).norm1->weight.min().item<double>(), 1.0);
  EXPECT_LT(m->cls_token.abs().max().item<double>(), 1e-5);
  // The head keeps PyTorch's default Linear init, U(-1/sqrt(D), 1/sqrt(D)), as SCT's new head.
  const double bound = 1.0 / std::sqrt(double(c.width));
  EXPECT_LE(m->head->weight.abs().max().item<double>(), bound);
  EXPECT_GT(m->head->weight.abs().max().item<double>(), 0.9 * bound);
}

TEST(Vit, ResetHeadChangesClassCountOrRemovesIt) {
  VisionTransformer m(tiny(4));
  m->eval();
  const at::Tensor x = at::randn({2, 3, 16, 16});
  EXPECT_EQ(m->forward(x).sizes(), (std::vector<int64_t>{2, 4}));
  m->reset_head(7);
  EXPECT_EQ(m->forward(x).sizes(), (std::vector<int64_t>{2, 7}));
  EXPECT_EQ(m->config().num_classes, 7);
  m->reset_head(0);
  EXPECT_EQ(m->forward(x).sizes(), (std::vector<int64_t>{2, 16}));
  for (const auto& kv : m->named_parameters()) EXPECT_NE(kv.key().rfind("head.", 0), 0u) << kv.key();
}

TEST(Vit, DropPathFollowsTheLinearRuleAndOnlyActsInTraining) {
  VitConfig c = tiny();
  c.depth = 5;
  c.drop_path_rate = 0.2;
  VisionTransformer m(c);
  for (int64_t i = 0; i < 5; ++i) EXPECT_DOUBLE_EQ(m->block(i).drop_path_rate, 0.2 * double(i) / 4.0);
  const at::Tensor x = at::randn({64, 3, 16, 16});
  m->eval();
  EXPECT_TRUE(at::equal(m->forward(x), m->forward(x)));
  m->train();
  at::manual_seed(1);
  const at::Tensor a = m->forward(x);
  at::manual_seed(2);
  EXPECT_FALSE(at::allclose(a, m->forward(x)));
}

// A hook that adds a constant at one site: the change must show exactly where the site says.
class AddAt : public BlockHookImpl {
 public:
  AddAt(HookSite s, double v) : site_(s), v_(v) {}
  uint32_t sites() const override { return site_bit(site_); }
  at::Tensor apply(HookSite, const at::Tensor&, at::Tensor out) override { return out + v_; }

 private:
  HookSite site_;
  double v_;
};

TEST(Vit, HookSitesSitWhereDocumented) {
  VisionTransformer m(tiny());
  m->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor x = at::randn({2, 3, 16, 16});
  auto before = std::make_shared<StreamRecorderImpl>(HookSite::AttnResidual);
  auto out = std::make_shared<StreamRecorderImpl>(HookSite::BlockOutput);
  m->block(1).attach("before", before);
  m->forward(x);
  const at::Tensor x1 = before->recorded.at(0);
  // Adding 1 at AttnResidual is adding 1 to the input of norm2 and to the residual path.
  m->block(1).detach_all();
  m->block(1).attach("add", std::make_shared<AddAt>(HookSite::AttnResidual, 1.0));
  m->block(1).attach("out", out);
  m->forward(x);
  auto& b = m->block(1);
  const at::Tensor expected = (x1 + 1.0) + b.mlp->forward(b.norm2(x1 + 1.0), HookChain());
  EXPECT_LE((out->recorded.at(0) - expected).abs().max().item<double>(), 1e-5);
  // Observers change nothing; detaching restores the plain model.
  m->block(1).detach_all();
  EXPECT_TRUE(b.hook_names().empty());
  EXPECT_THROW(({
                 b.attach("x", std::make_shared<AddAt>(HookSite::Fc1, 0.0));
                 b.attach("x", std::make_shared<AddAt>(HookSite::Fc1, 0.0));
               }),
               Error);
}

// The model's own sites: PatchEmbed sees the patch tokens before CLS and pos_embed, FinalNorm the
// final norm's output; the hook's tensors are hook tensors, not backbone; detach_all removes it.
TEST(Vit, ModelHookSitesSitWhereDocumented) {
  VisionTransformer m(tiny());
  m->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor x = at::randn({2, 3, 16, 16});
  const at::Tensor plain = m->forward_features(x);
  auto tokens = std::make_shared<StreamRecorderImpl>(HookSite::PatchEmbed);
  m->attach("tokens", tokens);
  m->attach("add", std::make_shared<AddAt>(HookSite::FinalNorm, 1.0));
  EXPECT_LE((m->forward_features(x) - (plain + 1.0)).abs().max().item<double>(), 1e-6);
  EXPECT_TRUE(at::equal(tokens->recorded.at(0), m->patch_embed(x)));
  EXPECT_FALSE(tokens->is_training());  // attached to an eval model, it evaluates too
  m->block(1).attach("late", std::make_shared<AddAt>(HookSite::Fc1, 0.0));
  EXPECT_FALSE(m->block(1).named_children()["late"]->is_training());
  m->block(1).detach_all();
  EXPECT_EQ(m->hook_names(), (std::vector<std::string>{"tokens", "add"}));
  EXPECT_THROW(m->attach("add", std::make_shared<AddAt>(HookSite::FinalNorm, 0.0)), Error);

  auto scaled = std::make_shared<StreamRecorderImpl>(HookSite::FinalNorm);
  scaled->register_parameter("w", at::ones({1}));
  m->attach("scaled", scaled);
  EXPECT_TRUE(m->is_hook_tensor("scaled.w"));
  EXPECT_FALSE(m->is_hook_tensor("norm.weight"));
  for (const auto& [name, t] : m->backbone_tensors()) EXPECT_NE(name, "scaled.w");
  m->block(0).attach("obs", std::make_shared<StreamRecorderImpl>(HookSite::BlockOutput));
  m->detach_all();
  EXPECT_TRUE(m->hook_names().empty());
  EXPECT_TRUE(m->block(0).hook_names().empty());
  EXPECT_TRUE(at::equal(m->forward_features(x), plain));
}

// detach(name) removes one hook and keeps the others in their order (a later hook sees what the earlier
// ones made); hook(name) returns the attached module; unknown names throw.
TEST(Vit, DetachOneHookByNameKeepsTheOthersInOrder) {
  VisionTransformer m(tiny());
  m->eval();
  torch::NoGradGuard no_grad;
  const at::Tensor x = at::randn({2, 3, 16, 16});
  auto& b = m->block(2);
  const auto add1 = std::make_shared<AddAt>(HookSite::AttnResidual, 1.0);
  const auto add2 = std::make_shared<AddAt>(HookSite::AttnResidual, 2.0);
  const auto seen = std::make_shared<StreamRecorderImpl>(HookSite::AttnResidual);
  b.attach("one", add1);
  b.attach("two", add2);
  b.attach("seen", seen);
  m->forward(x);
  b.detach("two");
  EXPECT_EQ(b.hook_names(), (std::vector<std::string>{"one", "seen"}));
  EXPECT_EQ(b.named_children().find("two"), nullptr);
  EXPECT_EQ(b.hook("one").get(), add1.get());
  m->forward(x);
  // The recorder, still after "one", now sees the residual plus 1 instead of plus 3.
  EXPECT_LE((seen->recorded.at(0) - seen->recorded.at(1) - 2.0).abs().max().item<double>(), 1e-5);
  EXPECT_THROW(b.detach("two"), Error);
  EXPECT_THROW(b.hook("two"), Error);
  b.attach("two", add2);  // the name is free again
  EXPECT_EQ(b.hook_names(), (std::vector<std::string>{"one", "seen", "two"}));
  m->attach("final", std::make_shared<AddAt>(HookSite::FinalNorm, 1.0));
  m->detach("final");
  EXPECT_TRUE(m->hook_names().empty());
  EXPECT_THROW(m->detach("final"), Error);
}

TEST(Vit, EveryParameterGetsAGradient) {
  VisionTransformer m(tiny());
  m->train();
  at::cross_entropy_loss(m->forward(at::randn({2, 3, 16, 16})), at::tensor({1, 3}, at::kLong)).backward();
  for (const auto& kv : m->named_parameters()) {
    ASSERT_TRUE(kv.value().grad().defined()) << kv.key();
    EXPECT_GT(kv.value().grad().abs().sum().item<double>(), 0.0) << kv.key();
  }
}

}  // namespace
}  // namespace sct

namespace sct {
namespace {

TEST(Vit, FingerprintCoversBackboneOnlyAndIsFormatIndependent) {
  VitConfig c = tiny();
  VisionTransformer a(c), b(c);
  {
    torch::NoGradGuard no_grad;
    for (auto& [name, t] : a->backbone_tensors()) t.fill_(0.5);
    for (auto& [name, t] : b->backbone_tensors()) t.fill_(0.5);
  }
  EXPECT_EQ(backbone_fingerprint(*a), backbone_fingerprint(*b));  // heads differ: not counted
  b->block(0).attach("obs", std::make_shared<StreamRecorderImpl>(HookSite::BlockOutput));
  EXPECT_EQ(backbone_fingerprint(*a), backbone_fingerprint(*b));
  {
    torch::NoGradGuard no_grad;
    b->block(2).norm2->bias[3] = 0.25;
  }
  EXPECT_NE(backbone_fingerprint(*a), backbone_fingerprint(*b));
}

}  // namespace
}  // namespace sct
