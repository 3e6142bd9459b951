// SCT as a PEFT method (sct_method.h): what trains, what stays frozen, and how much trains.
#include "sct/model/vision_transformer.h"
#include "sct/peft/sct_method.h"

#include <gtest/gtest.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/optim/adamw.h>

#include "fixture_models.h"
#include "sct/core/error.h"

namespace sct {
namespace {

// A selection without data: the random strategy needs none, which keeps these tests to the method.
Selection random_selection(VisionTransformer model, SctPosition position, KSpec k = {},
                           std::vector<int64_t> blocks = {}) {
  SelectionOptions opt;
  opt.position = position;
  opt.strategy = ChannelStrategy::Random;
  opt.k = std::move(k);
  opt.blocks = std::move(blocks);
  ChannelSelector selector(opt);
  selector.attach(model, 1);
  return selector.finish();
}

VisionTransformer method_model() {
  at::manual_seed(11);
  return VisionTransformer(test::tiny_vit_config(0.1));
}

bool is_sct(const std::string& name) { return name.find(".sct.") != std::string::npos; }
bool is_head(const std::string& name) { return name.rfind("head.", 0) == 0; }

// Paper §4: ViT-B/16, K = 96 in all 12 blocks trains 12 * (96^2 + 96) = 111,744 SCT parameters.
TEST(SctMethod, TrainableCountMatchesFormulaOnVitBase) {
  VitConfig cfg = vit_config("vit_base_patch16_224");
  cfg.num_classes = 100;
  for (const SctPosition position : {SctPosition::Attn, SctPosition::Both}) {
    VisionTransformer model(cfg);
    SctMethod method(random_selection(model, position, KSpec::count(96)));
    method.attach(*model);
    const ParameterCount count = count_parameters(*model);
    const int64_t expected = (position == SctPosition::Both ? 2 : 1) * 12 * (96 * 96 + 96);
    EXPECT_EQ(count.trainable - count.trainable_head, expected) << to_string(position);
    EXPECT_EQ(sct_parameter_count(method.selection()), expected);
    EXPECT_EQ(count.trainable_head, 768 * 100 + 100);
  }
}

TEST(SctMethod, OnlySctAndHeadTrainAndTheRestStaysBitIdentical) {
  VisionTransformer model = method_model();
  SctMethod method(random_selection(model, SctPosition::Both, KSpec::count(6), {1, 2}), /*scale=*/0.5);
  EXPECT_EQ(method.name(), "sct");
  method.attach(*model);
  EXPECT_EQ(model->block(0).hook_names(), std::vector<std::string>{});
  EXPECT_EQ(model->block(1).hook_names(), std::vector<std::string>{"sct"});

  std::map<std::string, at::Tensor> frozen;
  std::vector<at::Tensor> trainable;
  int64_t sct_count = 0;
  for (const auto& kv : model->named_parameters()) {
    const bool trains = is_sct(kv.key()) || is_head(kv.key());
    EXPECT_EQ(kv.value().requires_grad(), trains) << kv.key();
    if (trains)
      trainable.push_back(kv.value());
    else
      frozen[kv.key()] = kv.value().detach().clone();
    if (is_sct(kv.key())) sct_count += kv.value().numel();
  }
  EXPECT_EQ(sct_count, 2 * 2 * (6 * 6 + 6));
  std::map<std::string, at::Tensor> sct_before;
  for (const auto& kv : model->named_parameters())
    if (is_sct(kv.key())) sct_before[kv.key()] = kv.value().detach().clone();

  // Weight decay on: a frozen tensor handed to the optimiser would move even with a zero gradient.
  torch::optim::AdamW optimizer(trainable, torch::optim::AdamWOptions(1e-2).weight_decay(0.1));
  model->train();
  at::manual_seed(5);
  const at::Tensor images = at::randn({4, 3, 16, 16});
  const at::Tensor labels = at::tensor({0, 1, 2, 3}, at::kLong);
  optimizer.zero_grad();
  at::cross_entropy_loss(model->forward(images), labels).backward();
  for (const auto& kv : model->named_parameters()) {
    const at::Tensor& g = kv.value().grad();
    if (frozen.count(kv.key())) {
      EXPECT_FALSE(g.defined()) << kv.key();
    } else {
      EXPECT_TRUE(g.defined() && g.abs().sum().item<double>() > 0) << kv.key();
    }
  }
  optimizer.step();
  for (const auto& kv : model->named_parameters()) {
    if (frozen.count(kv.key())) {
      EXPECT_TRUE(at::equal(kv.value(), frozen.at(kv.key()))) << kv.key();
    } else if (sct_before.count(kv.key())) {
      EXPECT_FALSE(at::equal(kv.value(), sct_before.at(kv.key()))) << kv.key();
    }
  }
  for (const auto& kv : model->named_buffers()) {  // the channel indices are not trained either
    if (is_sct(kv.key())) {
      EXPECT_EQ(kv.value().scalar_type(), at::kLong) << kv.key();
    }
  }
}

TEST(SctMethod, SelectionMustFitTheModel) {
  VisionTransformer model = method_model();
  Selection sel = random_selection(model, SctPosition::Attn);
  VitConfig wider = model->config();
  wider.width = 64;
  VisionTransformer other(wider);
  EXPECT_THROW(SctMethod(sel).attach(*other), Error);
  EXPECT_THROW(SctMethod(sel, std::nullopt, /*scale_on_x=*/true), Error);  // scale_on_x needs a scale
  sel.parts.clear();
  EXPECT_THROW(SctMethod{sel}, Error);
}

}  // namespace
}  // namespace sct
