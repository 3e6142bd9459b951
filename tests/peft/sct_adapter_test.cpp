// The SCT module (sct_adapter.h) against a PyTorch autograd transcription of the reference code
// (tools/make_sct_fixtures.py): logits and the gradients of the SCT weights and of the input images, for
// every position and scale variant; then its invariants (init, CLS included, aliasing, saving).
#include "sct/peft/sct_adapter.h"

#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <optional>

#include "sct/core/error.h"
#include "sct/io/safetensors.h"
#include "sct/model/stream_recorder.h"
#include "sct/model/vision_transformer.h"
#include "fixture_models.h"
#include "test_util.h"

namespace sct {
namespace {

// The float32 C++ run against float64 PyTorch: the generator measures 1e-6 on the logits in float32.
// 1e-4 leaves room for another summation order, while a wrong channel, scale or q/v slice moves the
// logits by more than 1e-2 (the generator asserts each case's SCT effect exceeds that).


std::vector<int64_t> to_vector(const at::Tensor& t) {
  const at::Tensor l = t.to(at::kLong).contiguous();
  return std::vector<int64_t>(l.data_ptr<int64_t>(), l.data_ptr<int64_t>() + l.numel());
}

struct AdapterCase {
  std::string name, position;
  std::optional<double> scale;
  bool scale_on_x;
  std::vector<int64_t> blocks;
};

void PrintTo(const AdapterCase& c, std::ostream* os) { *os << c.name; }

// Mirrors ADAPTER_CASES in tools/make_sct_fixtures.py.
std::vector<AdapterCase> adapter_cases() {
  return {{"attn", "attn", std::nullopt, false, {0, 1}},        {"mlp", "mlp", std::nullopt, false, {0, 1}},
          {"both", "both", std::nullopt, false, {0, 1}},        {"qkv", "qkv", std::nullopt, false, {0, 1}},
          {"attn_scale", "attn", 0.7, false, {0, 1}},           {"attn_scaleonx", "attn", 0.7, true, {0, 1}},
          {"both_scaleonx", "both", 0.4, true, {0, 1}},         {"qkv_scale", "qkv", 0.4, false, {0, 1}},
          {"attn_last_block", "attn", std::nullopt, false, {1}}};
}

// Attaches the case's adapters with the fixture's channels and weights.
void attach_case(VisionTransformerImpl& model, const AdapterCase& c, const TensorMap& ref) {
  SctAdapterOptions opt;
  opt.position = parse_sct_position(c.position);
  opt.scale = c.scale;
  opt.scale_on_x = c.scale_on_x;
  for (int64_t i : c.blocks) {
    std::vector<std::vector<int64_t>> channels;
    for (const auto& part : sct_parts(parse_sct_position(c.position)))
      channels.push_back(to_vector(ref.at(c.name + ".blocks." + std::to_string(i) + ".sct." + part + ".indices")));
    model.block(i).attach("sct", SctAdapter(model.config().width, channels, opt).ptr());
  }
  torch::NoGradGuard no_grad;
  for (auto& kv : model.named_parameters())
    if (kv.key().find(".sct.") != std::string::npos) kv.value().copy_(ref.at(c.name + "." + kv.key()));
}

class SctAdapterParity : public testing::TestWithParam<AdapterCase> {};

TEST_P(SctAdapterParity, LogitsAndGradientsMatchPyTorch) {
  const AdapterCase& c = GetParam();
  const TensorMap ref = load_safetensors(test::fixture("sct/adapter_d2.safetensors"));
  VisionTransformer model = test::d2_fixture_model();
  for (auto& p : model->parameters()) p.set_requires_grad(false);  // a frozen backbone, as in training
  attach_case(*model, c, ref);

  int64_t sct_tensors = 0;
  for (const auto& kv : model->named_parameters())
    if (kv.key().find(".sct.") != std::string::npos) {
      EXPECT_TRUE(kv.value().requires_grad()) << kv.key();
      ++sct_tensors;
    }
  EXPECT_EQ(sct_tensors, int64_t(c.blocks.size() * sct_parts(parse_sct_position(c.position)).size() * 2));

  const at::Tensor images = ref.at("images").clone().set_requires_grad(true);
  const at::Tensor logits = model->forward(images);
  (logits * ref.at("loss_weights")).sum().backward();
  EXPECT_LE(test::max_abs_diff(logits, ref.at(c.name + ".logits")), test::kParityTol);
  EXPECT_LE(test::max_abs_diff(images.grad(), ref.at(c.name + ".grad.images")), test::kParityTol);
  for (const auto& kv : model->named_parameters()) {
    if (kv.key().find(".sct.") == std::string::npos) continue;
    ASSERT_TRUE(kv.value().grad().defined()) << kv.key();
    EXPECT_LE(test::max_abs_diff(kv.value().grad(), ref.at(c.name + ".grad." + kv.key())), test::kParityTol) << kv.key();
  }

  // Inference writes into the block's tensors instead of copies: same numbers.
  torch::NoGradGuard no_grad;
  const at::Tensor inferred = model->forward(ref.at("images"));
  EXPECT_LE(test::max_abs_diff(inferred, logits.detach()), 1e-6);
  c10::InferenceMode inference;
  EXPECT_LE(test::max_abs_diff(model->forward(ref.at("images")), logits.detach()), 1e-6);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SctAdapterParity, testing::ValuesIn(adapter_cases()),
                         [](const testing::TestParamInfo<AdapterCase>& info) { return info.param.name; });

// ModuleHolder's forwarding constructor cannot take braced channel lists.
SctAdapter adapter(int64_t width, std::vector<std::vector<int64_t>> channels, const SctAdapterOptions& options = {}) {
  return SctAdapter(width, channels, options);
}

std::vector<int64_t> first_k(int64_t k, int64_t step = 1) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < k; ++i) v.push_back(i * step);
  return v;
}

// Paper §4 / reference §1: ViT-B/16, K = 96 in all 12 blocks = 12 * (96 * 96 + 96) = 111,744 ("0.11M").
TEST(SctAdapter, ParameterCountOfVitBaseAtK96) {
  int64_t attn = 0, both = 0, qkv = 0;
  SctAdapterOptions b, q;
  b.position = SctPosition::Both;
  q.position = SctPosition::Qkv;
  for (int i = 0; i < 12; ++i) {
    attn += test::parameter_count(*adapter(768, {first_k(96, 8)}));
    both += test::parameter_count(*adapter(768, {first_k(96, 8)}, b));
    qkv += test::parameter_count(*adapter(768, {first_k(96, 8)}, q));
  }
  EXPECT_EQ(attn, 111744);
  EXPECT_EQ(both, 2 * 111744);
  EXPECT_EQ(qkv, 2 * 111744);
}

TEST(SctAdapter, InitialisationIsTruncNormalWeightAndZeroBias) {
  at::manual_seed(0);
  SctAdapter a = adapter(768, {first_k(768)});
  const at::Tensor w = a->parts()[0].linear->linear->weight;
  EXPECT_NEAR(w.std().item<double>(), 0.02, 0.0005);  // cut at +-2 = 100 std: practically N(0, 0.02^2)
  EXPECT_NEAR(w.mean().item<double>(), 0.0, 0.0002);
  EXPECT_GT(w.abs().min().item<double>(), 0.0);  // not zero-initialised
  EXPECT_EQ(a->parts()[0].linear->linear->bias.abs().max().item<double>(), 0.0);
}

TEST(SctAdapter, NamesSitesAndIndexBuffers) {
  SctAdapterOptions opt;
  opt.position = SctPosition::Qkv;
  SctAdapter a = adapter(32, {{1, 5}, {0, 31}}, opt);
  EXPECT_EQ(a->sites(), site_bit(HookSite::Qkv));
  std::vector<std::string> names;
  for (const auto& kv : a->named_parameters()) names.push_back(kv.key());
  EXPECT_EQ(names, (std::vector<std::string>{"q.linear.weight", "q.linear.bias", "v.linear.weight", "v.linear.bias"}));
  const auto buffers = a->named_buffers();
  EXPECT_EQ(to_vector(buffers["q.indices"]), (std::vector<int64_t>{1, 5}));
  EXPECT_EQ(to_vector(buffers["v.indices"]), (std::vector<int64_t>{64, 95}));  // v is [2D, 3D) of qkv

  opt.position = SctPosition::Both;
  SctAdapter both = adapter(32, {{3, 4}}, opt);  // one set serves both parts
  EXPECT_EQ(both->sites(), site_bit(HookSite::AttnResidual) | site_bit(HookSite::MlpBranch));
  EXPECT_EQ(to_vector(both->named_buffers()["mlp.indices"]), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(adapter(32, {{3}})->sites(), site_bit(HookSite::AttnResidual));
}

TEST(SctAdapter, InvalidArgumentsAreClearErrors) {
  EXPECT_THROW(adapter(32, {{3, 2}}), Error);   // not ascending
  EXPECT_THROW(adapter(32, {{2, 2}}), Error);   // duplicate
  EXPECT_THROW(adapter(32, {{0, 32}}), Error);  // outside the width
  EXPECT_THROW(adapter(32, {std::vector<int64_t>{}}), Error);
  SctAdapterOptions opt;
  opt.position = SctPosition::Attn;
  EXPECT_THROW(adapter(32, {{1}, {2}}, opt), Error);  // two sets for one part
  EXPECT_THROW(parse_sct_position("ffn"), Error);
  opt.position = SctPosition::Attn;
  opt.scale_on_x = true;
  EXPECT_THROW(adapter(32, {{1}}, opt), Error);  // scale_on_x without a scale
}

// x[:, :, I] += W x[:, :, I] + b on every token, CLS included, nothing else; an observer attached before
// the module keeps the values it saw although inference writes in place.
TEST(SctAdapter, ChangesOnlySelectedChannelsOfEveryTokenAndSparesEarlierObservers) {
  VisionTransformer model = test::d2_fixture_model();
  const std::vector<int64_t> channels = {2, 7, 19, 30};
  auto before = std::make_shared<StreamRecorderImpl>(HookSite::AttnResidual);
  auto after = std::make_shared<StreamRecorderImpl>(HookSite::AttnResidual);
  SctAdapter sct = adapter(32, {channels});
  {
    torch::NoGradGuard no_grad;
    sct->parts()[0].linear->linear->bias.copy_(at::arange(1, 5, at::kFloat));
  }
  model->block(0).attach("before", before);
  model->block(0).attach("sct", sct.ptr());
  model->block(0).attach("after", after);
  torch::NoGradGuard no_grad;
  const TensorMap ref = load_safetensors(test::fixture("sct/adapter_d2.safetensors"));
  model->forward(ref.at("images"));
  const at::Tensor x = before->recorded.at(0), y = after->recorded.at(0);  // (B, N, D)
  const at::Tensor idx = at::tensor(channels, at::kLong);
  const at::Tensor w = sct->parts()[0].linear->linear->weight;
  const at::Tensor sel = x.index_select(2, idx);
  const at::Tensor expected = sel + at::matmul(sel, w.t()) + at::arange(1, 5, at::kFloat);
  EXPECT_LE(test::max_abs_diff(y.index_select(2, idx), expected), 1e-5);  // CLS (token 0) included
  at::Tensor others = at::ones({32}, at::kBool);
  others.index_fill_(0, idx, false);
  EXPECT_TRUE(at::equal(y.index({"...", others}), x.index({"...", others})));
  EXPECT_FALSE(at::allclose(x.index_select(2, idx), y.index_select(2, idx)));  // `before` was not overwritten
}

// In-place writes only when no other handle sees the memory (and under autograd not into a view).
TEST(SctAdapter, WritesInPlaceOnlyIntoUnobservedTensors) {
  SctAdapter a = adapter(16, {{1, 3}});
  const at::Tensor x = at::randn({2, 5, 16});
  {
    torch::NoGradGuard no_grad;
    at::Tensor y = x.clone();
    const void* mem = y.data_ptr();
    EXPECT_EQ(a->apply(HookSite::AttnResidual, x, std::move(y)).data_ptr(), mem);

    const at::Tensor kept = x.clone();  // a second handle (an observer's recording)
    EXPECT_NE(a->apply(HookSite::AttnResidual, x, kept).data_ptr(), kept.data_ptr());
    EXPECT_TRUE(at::equal(kept, x));

    at::Tensor base = x.clone();
    const at::Tensor flat_view = base.view({-1});  // a view held elsewhere shares the storage
    EXPECT_NE(a->apply(HookSite::AttnResidual, x, std::move(base)).data_ptr(), flat_view.data_ptr());
    EXPECT_TRUE(at::equal(flat_view.view({2, 5, 16}), x));

    // A 3-D linear's output (a view of its 2-D product while autograd tracks views) is private.
    at::Tensor branch = at::linear(at::randn({2, 5, 8}), at::randn({16, 8}), at::randn({16}));
    mem = branch.data_ptr();
    EXPECT_EQ(a->apply(HookSite::AttnResidual, x, std::move(branch)).data_ptr(), mem);
  }
  // Grad mode, trainable module: in place into a fresh tensor (backward keeps the K channels it needs),
  // a copy of a view.
  at::Tensor y = x.clone();
  const void* mem = y.data_ptr();
  const at::Tensor out = a->apply(HookSite::AttnResidual, x, std::move(y));
  EXPECT_EQ(out.data_ptr(), mem);
  EXPECT_TRUE(out.requires_grad());
  at::Tensor branch = at::linear(at::randn({2, 5, 8}), at::randn({16, 8}), at::randn({16}));
  mem = branch.data_ptr();
  EXPECT_NE(a->apply(HookSite::AttnResidual, x, std::move(branch)).data_ptr(), mem);
}

// The index buffer travels with the module: save, load into a module built with other channels, same
// output. Converting the model's dtype leaves the indices int64.
TEST(SctAdapter, SavedModuleRestoresChannelsAndWeights) {
  test::ScratchDir dir;
  const TensorMap ref = load_safetensors(test::fixture("sct/adapter_d2.safetensors"));
  const at::Tensor images = ref.at("images");
  at::manual_seed(3);
  VisionTransformer a = test::d2_fixture_model();
  SctAdapterOptions opt;
  opt.position = SctPosition::Both;
  for (int64_t i = 0; i < 2; ++i) a->block(i).attach("sct", adapter(32, {{1, 4, 9}, {0, 3, 30}}, opt).ptr());
  TensorMap state;
  for (const auto& kv : a->named_parameters())
    if (kv.key().find(".sct.") != std::string::npos) state[kv.key()] = kv.value().detach();
  for (const auto& kv : a->named_buffers())
    if (kv.key().find(".sct.") != std::string::npos) state[kv.key()] = kv.value();
  EXPECT_EQ(state.size(), 2u * 2u * 3u);  // blocks x parts x (weight, bias, indices)
  save_safetensors(dir.file("sct.safetensors"), state);

  VisionTransformer b = test::d2_fixture_model();
  for (int64_t i = 0; i < 2; ++i) b->block(i).attach("sct", adapter(32, {{5, 6, 7}}, opt).ptr());
  const TensorMap loaded = load_safetensors(dir.file("sct.safetensors"));
  torch::NoGradGuard no_grad;
  for (auto& kv : b->named_parameters())
    if (loaded.count(kv.key())) kv.value().copy_(loaded.at(kv.key()));
  for (auto& kv : b->named_buffers())
    if (loaded.count(kv.key())) kv.value().copy_(loaded.at(kv.key()));
  EXPECT_TRUE(at::equal(a->forward(images), b->forward(images)));

  b->to(at::kDouble);
  for (const auto& kv : b->named_buffers())
    if (kv.key().find(".sct.") != std::string::npos) {
      EXPECT_EQ(kv.value().scalar_type(), at::kLong) << kv.key();
    }
  EXPECT_LE(test::max_abs_diff(b->forward(images.to(at::kDouble)), a->forward(images)), 1e-4);
}

}  // namespace
}  // namespace sct
