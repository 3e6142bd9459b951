// --precision: parsing and resolution, bf16 mixed precision against eager PyTorch's autocast
// (tools/make_bf16_fixtures.py), and the master-weight rule.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <cstdlib>
#include <sstream>

#include <nlohmann/json.hpp>

#include "fixture_models.h"
#include "sct/model/backbone.h"
#include "sct/model/vision_transformer.h"
#include "sct/io/safetensors.h"
#include "sct/peft/peft_method.h"
#include "sct/peft/sct_method.h"
#include "sct/runtime/precision.h"
#include "test_util.h"

namespace sct {
namespace {

// Sets SCT_CPU_BF16 for one scope.
class ForcedCpuIsa {
 public:
  explicit ForcedCpuIsa(const char* isa) { setenv("SCT_CPU_BF16", isa, 1); }
  ~ForcedCpuIsa() { unsetenv("SCT_CPU_BF16"); }
};

TEST(Precision, ParsesItsThreeNamesAndNothingElse) {
  EXPECT_EQ(parse_precision("fp32"), Precision::fp32);
  EXPECT_EQ(parse_precision("bf16"), Precision::bf16);
  EXPECT_EQ(parse_precision("auto"), Precision::automatic);
  for (const char* bad : {"fp16", "BF16", "", "float32"}) test::expect_error([&] { parse_precision(bad); }, {"fp32, bf16 or auto"});
  EXPECT_EQ(to_string(Precision::bf16), "bf16");
  EXPECT_EQ(compute_dtype(Precision::bf16), at::kBFloat16);
  EXPECT_EQ(compute_dtype(Precision::fp32), at::kFloat);
}

TEST(Precision, AutoPicksBf16OnlyWhereTheCpuMultipliesItNatively) {
  const c10::Device cpu(c10::kCPU);
  std::ostringstream log;
  {
    ForcedCpuIsa isa("amx_bf16");
    EXPECT_EQ(cpu_bf16_isa(), "amx_bf16");
    EXPECT_EQ(resolve_precision(Precision::automatic, cpu, log), Precision::bf16);
  }
  {
    ForcedCpuIsa isa("avx512_bf16");
    EXPECT_EQ(resolve_precision(Precision::automatic, cpu, log), Precision::bf16);
  }
  EXPECT_EQ(log.str(), "");
  ForcedCpuIsa isa("none");
  EXPECT_EQ(resolve_precision(Precision::automatic, cpu, log), Precision::fp32);
  EXPECT_EQ(resolve_precision(Precision::fp32, cpu, log), Precision::fp32);
  EXPECT_EQ(log.str(), "");
  // An explicit bf16 without native support runs (emulated, same results) and says it is slow.
  EXPECT_EQ(resolve_precision(Precision::bf16, cpu, log), Precision::bf16);
  EXPECT_NE(log.str().find("warning: --precision bf16"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("slower than fp32"), std::string::npos) << log.str();
}

TEST(Precision, TheEnvironmentOverrideIsChecked) {
  ForcedCpuIsa isa("amx");
  test::expect_error([] { cpu_bf16_isa(); }, {"SCT_CPU_BF16='amx'"});
}

VisionTransformer frozen_d12_model() {
  VisionTransformer model = test::d12_fixture_model();
  model->eval();
  model->freeze();
  return model;
}

double max_abs(const at::Tensor& t) { return t.abs().max().item<double>(); }

// Logits and d(loss)/d(images) of the fixture ViT, images requiring grad so that the gradient crosses
// every block's backward.
std::pair<at::Tensor, at::Tensor> logits_and_input_grad(VisionTransformerImpl& model, const TensorMap& ref) {
  const at::Tensor x = ref.at("x").clone().set_requires_grad(true);
  const at::Tensor logits = model.forward(x);
  at::cross_entropy_loss(logits, ref.at("labels").to(at::kLong)).backward();
  return {logits.detach(), x.grad()};
}

TEST(MixedPrecision, Bf16MatchesPyTorchAutocastForwardAndBackward) {
  const TensorMap ref = load_safetensors(test::fixture("vit_d12_w24_h3.bf16_32.safetensors"));
  VisionTransformer fp32 = frozen_d12_model();
  VisionTransformer bf16 = frozen_d12_model();
  bf16->set_precision(Precision::bf16);
  const auto [logits32, grad32] = logits_and_input_grad(*fp32, ref);
  const auto [logits16, grad16] = logits_and_input_grad(*bf16, ref);
  EXPECT_EQ(logits16.scalar_type(), at::kFloat);

  // fp32 is exact to the float64 reference; bf16 is not, by about what autocast's own rounding costs.
  const double autocast_logit_err = max_abs(ref.at("logits_bf16") - ref.at("logits_f64"));
  const double autocast_grad_err = max_abs(ref.at("grad_x_bf16") - ref.at("grad_x_f64"));
  EXPECT_LT(max_abs(logits32 - ref.at("logits_f64")), test::kParityTol);
  EXPECT_LT(max_abs(grad32 - ref.at("grad_x_f64")), test::kParityTol * 0.1);
  const double logit_err = max_abs(logits16 - ref.at("logits_f64"));
  const double grad_err = max_abs(grad16 - ref.at("grad_x_f64"));
  EXPECT_GT(logit_err, 10 * test::kParityTol) << "the bf16 model did not compute in bf16";
  EXPECT_LT(logit_err, 2.0 * autocast_logit_err) << "autocast's own error: " << autocast_logit_err;
  EXPECT_LT(grad_err, 2.0 * autocast_grad_err) << "autocast's own error: " << autocast_grad_err;
  // And against autocast itself: within the sum of both roundings.
  EXPECT_LT(max_abs(logits16 - ref.at("logits_bf16")), 2.0 * autocast_logit_err);
  EXPECT_LT(max_abs(grad16 - ref.at("grad_x_bf16")), 2.0 * autocast_grad_err);
}

TEST(MixedPrecision, FrozenGemmWeightsBecomeBf16OnceAndTrainableTensorsStayFp32) {
  at::manual_seed(5);
  VisionTransformer model(test::tiny_vit_config());
  make_peft_method("lora")->attach(*model);
  model->set_precision(Precision::bf16);
  for (const auto& p : model->named_parameters()) {
    const std::string& name = p.key();
    const bool gemm = name.find("qkv.") != std::string::npos || name.find("proj.") != std::string::npos ||
                      name.find("fc1.") != std::string::npos || name.find("fc2.") != std::string::npos;
    const bool weight = name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0;
    const at::ScalarType want = !p.value().requires_grad() && gemm && weight ? at::kBFloat16 : at::kFloat;
    EXPECT_EQ(p.value().scalar_type(), want) << name;
  }
  EXPECT_EQ(model->named_parameters()["blocks.0.attn.qkv.weight"].scalar_type(), at::kBFloat16);
  EXPECT_EQ(model->named_parameters()["blocks.0.attn.qkv.bias"].scalar_type(), at::kFloat);  // added in fp32
  EXPECT_EQ(model->named_parameters()["head.weight"].scalar_type(), at::kFloat);
  EXPECT_EQ(model->named_parameters()["blocks.0.norm1.weight"].scalar_type(), at::kFloat);
  EXPECT_EQ(model->pos_embed.scalar_type(), at::kFloat);

  // A training step: gradients land on the fp32 master tensors, in fp32.
  model->train();
  const at::Tensor logits = model->forward(at::randn({2, 3, 16, 16}));
  at::cross_entropy_loss(logits, at::tensor({0, 1}, at::kLong)).backward();
  for (const auto& p : model->named_parameters())
    if (p.value().requires_grad()) {
      ASSERT_TRUE(p.value().grad().defined()) << p.key();
      EXPECT_EQ(p.value().grad().scalar_type(), at::kFloat) << p.key();
    }
  test::expect_error([&] { model->set_precision(Precision::fp32); }, {"already bf16"});
  test::expect_error([&] { model->set_precision(Precision::automatic); }, {"resolve 'auto'"});
}

// One method attached to a fresh backbone; sct with a seeded random selection (no data needed).
std::unique_ptr<PeftMethod> method_named(const std::string& name, Backbone model) {
  if (name != "sct") return make_peft_method(name);
  SelectionOptions options;
  options.strategy = ChannelStrategy::Random;
  options.k = KSpec::count(4);
  return std::make_unique<SctMethod>(
      select_channels(model, 4, options, [](at::Tensor&, at::Tensor&) { return false; }));
}

// Both backbones: the Swin's patch embedding hands its norm a transposed (non-contiguous) stream and its
// patch merging a permuted one, which the bf16 norm's backward must take.
TEST(MixedPrecision, EveryMethodTrainsInBf16CloseToFp32) {
  const nlohmann::json vit = VisionTransformer(test::tiny_vit_config())->config_json(),
                       swin = SwinTransformer(test::swin_fixture_config())->config_json();
  for (const nlohmann::json& config : {vit, with_classes(swin, 4)})
    for (const std::string& name : peft_method_names()) {
      if (name == "none" || (name == "vpt" && config.at("arch").get<std::string>() == "swin")) continue;
      const std::string what = name + " on " + config.at("arch").get<std::string>();
      std::vector<at::Tensor> losses;
      for (Precision p : {Precision::fp32, Precision::bf16}) {
        at::manual_seed(9);
        Backbone model = make_backbone(config);
        method_named(name, model)->attach(*model);
        model->set_precision(p);
        model->train();
        const int64_t px = model->img_size();
        const at::Tensor logits = model->forward(at::randn({4, 3, px, px}));
        const at::Tensor loss = at::cross_entropy_loss(logits, at::tensor({0, 1, 2, 3}, at::kLong));
        loss.backward();
        losses.push_back(loss.detach());
        for (const auto& t : model->named_parameters())
          if (t.value().requires_grad()) {
            ASSERT_TRUE(t.value().grad().defined()) << what << " " << t.key();
            EXPECT_EQ(t.value().grad().scalar_type(), at::kFloat) << what << " " << t.key();
            EXPECT_TRUE(t.value().grad().isfinite().all().item<bool>()) << what << " " << t.key();
          }
      }
      EXPECT_NEAR(losses[0].item<double>(), losses[1].item<double>(), 0.02) << what;
      EXPECT_NE(losses[0].item<double>(), losses[1].item<double>()) << what << ": bf16 changed nothing";
    }
}

}  // namespace
}  // namespace sct
