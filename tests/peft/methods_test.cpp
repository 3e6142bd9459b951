// The comparison methods (LoRA, Adapter, AdaptFormer, SSF, VPT-deep, BitFit, full, linear) against a
// PyTorch transcription (tools/make_peft_fixtures.py): logits and the gradients of every trainable
// tensor and of the images. Then: identity at initialisation, ViT-B/16 trainable counts, configs.
#include <gtest/gtest.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <nlohmann/json.hpp>

#include "sct/model/vision_transformer.h"
#include "sct/core/error.h"
#include "sct/io/safetensors.h"
#include "sct/peft/merge.h"
#include "sct/peft/peft_method.h"
#include "fixture_models.h"
#include "test_util.h"

namespace sct {
namespace {

using nlohmann::json;

// float32 C++ against float64 PyTorch: the generator measures 1e-6 on the logits in float32; each
// method moves the logits by more than 1e-2.


struct MethodCase {
  std::string name;  // the fixture's case: a method, or adapter_both
  json config;       // the fixture's sizes
};

void PrintTo(const MethodCase& c, std::ostream* os) { *os << c.name; }

class MethodParity : public testing::TestWithParam<MethodCase> {};

TEST_P(MethodParity, LogitsAndGradientsMatchPyTorch) {
  const MethodCase& c = GetParam();
  const TensorMap ref = load_safetensors(test::fixture("peft/methods_d2.safetensors"));
  VisionTransformer model = test::d2_fixture_model();
  auto method = make_peft_method(c.config);
  method->attach(*model);
  {
    torch::NoGradGuard no_grad;  // the fixture's values for the method's tensors (BitFit: its biases)
    for (auto& kv : model->named_parameters())
      if (ref.count(c.name + "." + kv.key())) kv.value().copy_(ref.at(c.name + "." + kv.key()));
  }
  const at::Tensor images = ref.at("images").clone().set_requires_grad(true);
  const at::Tensor logits = model->forward(images);
  (logits * ref.at("loss_weights")).sum().backward();
  EXPECT_LE(test::max_abs_diff(logits, ref.at(c.name + ".logits")), test::kParityTol);
  EXPECT_LE(test::max_abs_diff(images.grad(), ref.at(c.name + ".grad.images")), test::kParityTol);

  // Exactly the fixture's trainable tensors train, and their gradients match.
  size_t expected = 0;
  for (const auto& kv : ref)
    if (kv.first.rfind(c.name + ".grad.", 0) == 0 && kv.first != c.name + ".grad.images") ++expected;
  size_t trainable = 0;
  for (const auto& kv : model->named_parameters()) {
    if (!kv.value().requires_grad()) continue;
    ++trainable;
    const std::string key = c.name + ".grad." + kv.key();
    ASSERT_TRUE(ref.count(key)) << kv.key() << " trains but the fixture has no gradient for it";
    EXPECT_LE(test::max_abs_diff(kv.value().grad(), ref.at(key)), test::kParityTol) << kv.key();
  }
  EXPECT_EQ(trainable, expected);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MethodParity,
                         testing::Values(MethodCase{"lora", {{"name", "lora"}, {"rank", 4}, {"alpha", 8}}},
                                         MethodCase{"adapter", {{"name", "adapter"}, {"bottleneck", 8}}},
                                         MethodCase{"adapter_both",
                                                    {{"name", "adapter"}, {"bottleneck", 8}, {"placement", "both"}}},
                                         MethodCase{"adaptformer", {{"name", "adaptformer"}, {"bottleneck", 8}}},
                                         MethodCase{"ssf", {{"name", "ssf"}}},
                                         MethodCase{"vpt", {{"name", "vpt"}, {"length", 3}}},
                                         MethodCase{"bias", {{"name", "bias"}}}),
                         [](const testing::TestParamInfo<MethodCase>& info) { return info.param.name; });

// Zero-initialised up-projections and LoRA's B = 0 start exactly at the frozen backbone.
TEST(Methods, IdentityAtInitialisationReproducesTheBackbone) {
  at::manual_seed(4);
  const at::Tensor images = at::randn({2, 3, 32, 32});
  torch::NoGradGuard no_grad;
  const at::Tensor plain = test::d2_fixture_model()->forward(images);
  for (const std::string name : {"lora", "adapter", "adaptformer"}) {
    VisionTransformer model = test::d2_fixture_model();
    make_peft_method(name)->attach(*model);
    EXPECT_TRUE(at::equal(model->forward(images), plain)) << name;
  }
  for (const std::string name : {"ssf", "vpt"}) {  // random initialisation: they change the output
    VisionTransformer model = test::d2_fixture_model();
    make_peft_method(name)->attach(*model);
    EXPECT_GT(test::max_abs_diff(model->forward(images), plain), 1e-6) << name;
  }
}

// ViT-B/16, 100 classes: adapter parameters (head excluded) by method.
TEST(Methods, TrainableCountsOnVitBase) {
  VitConfig cfg = vit_config("vit_base_patch16_224");
  cfg.num_classes = 100;
  const int64_t head = 768 * 100 + 100;
  const std::vector<std::pair<json, int64_t>> cases = {
      {{{"name", "linear"}}, 0},
      {{{"name", "lora"}}, 294912},                                        // 12 * 2 * (8 * 768 * 2)
      {{{"name", "adapter"}}, 156768},  // 12 * (768*8 + 8 + 8*768 + 768): one after each MLP, the papers' 0.16M
      {{{"name", "adapter"}, {"placement", "both"}}, 2 * 156768},          // Houlsby: after attention too
      {{{"name", "adaptformer"}}, 12 * (768 * 64 + 64 + 64 * 768 + 768)},  // 1.19M
      {{{"name", "ssf"}}, 205824},  // 74 sites: 12 * 2 * (4*768 + 3*768 + 3072) in blocks, 2 * 2 * 768 on the model
      {{{"name", "vpt"}}, 12 * 10 * 768},
      {{{"name", "bias"}}, 768 + 12 * (4 * 768 + 3 * 768 + 3072) + 768},  // 0.10M
      {{{"name", "full"}}, 85798656},
  };
  VisionTransformer model(cfg);  // one model (building ViT-B takes seconds); each method starts bare
  for (const auto& [config, expected] : cases) {
    model->detach_all();
    make_peft_method(config)->attach(*model);
    const ParameterCount count = count_parameters(*model);
    EXPECT_EQ(count.trainable - count.trainable_head, expected) << config.dump();
    EXPECT_EQ(count.trainable_head, head) << config.dump();
  }
}

// AdaptFormer's branch joins after the MLP's drop path (AdaptFormer's code: x = residual +
// drop_path(mlp(...)) + adapt_x), and its dropout acts in training only. With both residual branches
// of the backbone zeroed, drop path can only touch the adapter branch if it sat inside it.
TEST(Methods, AdaptFormerJoinsAfterDropPathWithDropoutInTrainingOnly) {
  VitConfig cfg = test::tiny_vit_config(/*drop_path=*/0.9);
  const auto model_with = [&](double dropout) {
    at::manual_seed(5);
    VisionTransformer model(cfg);
    make_peft_method(json{{"name", "adaptformer"}, {"bottleneck", 4}, {"dropout", dropout}})->attach(*model);
    torch::NoGradGuard no_grad;
    for (int64_t i = 0; i < model->depth(); ++i) {
      BlockImpl& b = model->block(i);
      for (at::Tensor t : {b.attn->proj->weight, b.attn->proj->bias, b.mlp->fc2->weight, b.mlp->fc2->bias})
        t.zero_();
      for (auto& kv : b.named_parameters())
        if (kv.key().rfind("adaptformer.", 0) == 0) kv.value().normal_(0.0, 0.5);
    }
    return model;
  };
  at::manual_seed(6);
  const at::Tensor images = at::randn({4, 3, 16, 16});
  torch::NoGradGuard no_grad;
  VisionTransformer plain = model_with(0.0);
  plain->eval();
  const at::Tensor eval_out = plain->forward(images);
  plain->train();
  EXPECT_LE(test::max_abs_diff(plain->forward(images), eval_out), 1e-6);  // drop path 0.9 left it alone
  VisionTransformer dropped = model_with(0.5);
  dropped->eval();
  EXPECT_LE(test::max_abs_diff(dropped->forward(images), eval_out), 1e-6);  // no dropout in eval
  dropped->train();
  EXPECT_GT(test::max_abs_diff(dropped->forward(images), eval_out), 1e-3);
  // Its down-projection bias starts at zero, as AdaptFormer initialises it.
  VisionTransformer fresh(cfg);
  make_peft_method("adaptformer")->attach(*fresh);
  EXPECT_TRUE(at::equal(fresh->named_parameters()["blocks.0.adaptformer.down.bias"], at::zeros({64})));
}

TEST(Methods, ConfigsRoundTripAndBadOptionsAreClearErrors) {
  const auto lora = make_peft_method(method_config("lora", {"rank=4"}));
  EXPECT_EQ(lora->config(), (json{{"name", "lora"}, {"rank", 4}, {"alpha", 8.0}}));
  EXPECT_EQ(make_peft_method(lora->config())->config(), lora->config());
  EXPECT_EQ(make_peft_method("none")->name(), "linear");
  EXPECT_EQ(make_peft_method("adapter")->config()["placement"], "mlp");
  // Tune grid points are doubles; whole numbers become the integers that integer options need.
  const json vpt = with_method_options(json{{"name", "vpt"}}, {{"length", 50.0}});
  EXPECT_TRUE(vpt["length"].is_number_integer());
  EXPECT_EQ(make_peft_method(vpt)->config()["length"], 50);
  EXPECT_EQ(with_method_options(json{{"name", "adaptformer"}}, {{"scale", 0.5}})["scale"], 0.5);
  EXPECT_EQ(method_config("adapter", {"placement=both"})["placement"], "both");

  test::expect_error([] { make_peft_method("loar"); }, {"unknown method 'loar'", "lora", "vpt"});
  test::expect_error([] { make_peft_method(method_config("lora", {"rnk=4"})); }, {"no option 'rnk'", "rank"});
  test::expect_error([] { make_peft_method(method_config("lora", {"rank=four"})); }, {"'rank'", "number"});
  test::expect_error([] { make_peft_method(method_config("lora", {"rank"})); }, {"key=value"});
  VisionTransformer untouched = test::d2_fixture_model();
  test::expect_error([&] { make_peft_method("sct")->attach(*untouched); }, {"no channels selected", "prepare"});
  VisionTransformer model = test::d2_fixture_model();
  test::expect_error([&] { make_peft_method(method_config("adapter", {"placement=ffn"}))->attach(*model); },
                     {"placement"});
}

// SCT is in the registry like every method: its options are config keys (numbers given for its text
// options become text), it is built unprepared until prepare() selects, and a selection given with it
// decides the options it was made with.
TEST(Methods, SctThroughTheRegistry) {
  const auto sct = make_peft_method(method_config("sct", {"k=4", "blocks=1", "strategy=random", "scale=0.5"}));
  EXPECT_TRUE(sct->needs_data());
  EXPECT_EQ(sct->config(), (json{{"name", "sct"},
                                 {"k", "4"},
                                 {"position", "attn"},
                                 {"strategy", "random"},
                                 {"blocks", "1"},
                                 {"reference_mlp_site", false},
                                 {"scale", 0.5},
                                 {"scale_on_x", false}}));
  VisionTransformer model = test::d2_fixture_model();
  MethodData data;  // no images: the random strategy needs none
  data.model = model;
  data.num_classes = 3;
  data.seed = 5;
  sct->prepare(data);
  EXPECT_FALSE(sct->needs_data());
  const json prepared = sct->config();
  EXPECT_EQ(prepared.at("selection").at("blocks"), json({1}));
  EXPECT_EQ(prepared.at("selection").at("k"), json({4}));
  EXPECT_EQ(prepared.at("scale"), 0.5);
  sct->attach(*model);
  EXPECT_EQ(count_parameters(*model).trainable - count_parameters(*model).trainable_head, 4 * 4 + 4);
  // A prepared config rebuilds the same method; one with options its selection decides is refused.
  EXPECT_EQ(make_peft_method(prepared)->config(), prepared);
  json conflicting = prepared;
  conflicting["k"] = "8";
  test::expect_error([&] { make_peft_method(conflicting); }, {"selection decides"});

  test::expect_error([] { make_peft_method(method_config("sct", {"rank=4"})); }, {"no option 'rank'", "k, position"});
  test::expect_error([] { make_peft_method(method_config("sct", {"strategy=best"})); }, {"unknown strategy 'best'"});
  test::expect_error([] { make_peft_method(method_config("sct", {"k=0.5.5"})); }, {"0.5.5"});
  test::expect_error([] { make_peft_method(method_config("sct", {"blocks=2,1"})); }, {"ascending"});
  test::expect_error([] { make_peft_method(method_config("sct", {"scale=big"})); }, {"scale"});
  // The help texts come from the registry.
  EXPECT_EQ(peft_method_list(), "sct, linear, full, bias, lora, adapter, adaptformer, ssf, vpt");
  EXPECT_NE(peft_method_options_help().find("sct: blocks=paper k=1/8 position=attn reference_mlp_site=false scale_on_x=false strategy=salient"),
            std::string::npos)
      << peft_method_options_help();
  EXPECT_NE(peft_method_options_help().find("vpt: length=10"), std::string::npos);
}

// LoRA and SSF fold into the backbone's weights: the merged plain ViT computes the same logits.
TEST(Methods, MergedLoraAndSsfMatchTheUnmergedModel) {
  const TensorMap ref = load_safetensors(test::fixture("peft/methods_d2.safetensors"));
  const at::Tensor images = ref.at("images");
  for (const json& config : {json{{"name", "lora"}, {"rank", 4}, {"alpha", 8}}, json{{"name", "ssf"}}}) {
    const std::string name = config["name"];
    VisionTransformer model = test::d2_fixture_model();
    make_peft_method(config)->attach(*model);
    torch::NoGradGuard no_grad;
    for (auto& kv : model->named_parameters())
      if (ref.count(name + "." + kv.key())) kv.value().copy_(ref.at(name + "." + kv.key()));
    const at::Tensor unmerged = model->forward(images);
    merge_hooks(*model);
    EXPECT_TRUE(model->hook_names().empty());
    for (int64_t i = 0; i < model->depth(); ++i) EXPECT_TRUE(model->block(i).hook_names().empty());
    EXPECT_LE(test::max_abs_diff(model->forward(images), unmerged), 1e-5) << name;
    EXPECT_LE(test::max_abs_diff(unmerged, ref.at(name + ".logits")), test::kParityTol) << name;
  }
  VisionTransformer adapter = test::d2_fixture_model();
  make_peft_method("adapter")->attach(*adapter);
  test::expect_error([&] { merge_hooks(*adapter); }, {"block 0", "'adapter'", "cannot be merged"});
  EXPECT_EQ(adapter->block(0).hook_names().size(), 1u);  // left as it was
}

}  // namespace
}  // namespace sct
