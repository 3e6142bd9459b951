// Channel selection (channel_selector.h): scores and indices against a direct PyTorch transcription of
// the reference formula (tools/make_sct_fixtures.py), oracles by construction, ties, strategies, memory,
// the selection file.
#include "sct/model/vision_transformer.h"
#include "sct/peft/channel_selector.h"

#include <gtest/gtest.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <nlohmann/json.hpp>

#include "sct/core/error.h"
#include "sct/io/checkpoint.h"
#include "sct/io/safetensors.h"
#include "sct/model/stream_recorder.h"
#include "fixture_models.h"
#include "test_util.h"

namespace sct {
namespace {

VisionTransformer d12_model() { return test::d12_fixture_model(); }

// A small random model for the oracles.
VisionTransformer selector_model(double drop_path = 0.0) {
  at::manual_seed(7);
  return VisionTransformer(test::tiny_vit_config(drop_path));
}

std::vector<std::vector<int64_t>> rows(const at::Tensor& t) {
  const at::Tensor l = t.to(at::kLong).contiguous();
  std::vector<std::vector<int64_t>> out;
  for (int64_t r = 0; r < l.size(0); ++r)
    out.emplace_back(l[r].data_ptr<int64_t>(), l[r].data_ptr<int64_t>() + l.size(1));
  return out;
}

// Feeds the fixture's 9 images in two uneven batches, so that sums carry across batches.
Selection select_on_fixture(const SelectionOptions& options) {
  const TensorMap ref = load_safetensors(test::fixture("sct/select_d12.safetensors"));
  const at::Tensor images = ref.at("images"), labels = ref.at("labels").to(at::kLong);
  ChannelSelector selector(options);
  selector.attach(d12_model(), 5);
  selector.observe_batch(images.narrow(0, 0, 4), labels.narrow(0, 0, 4));
  selector.observe_batch(images.narrow(0, 4, 5), labels.narrow(0, 4, 5));
  return selector.finish();
}

struct FixtureCase {
  std::string name, position;
  bool reference_mlp_site;
  std::string strategy;
  std::vector<std::pair<std::string, std::string>> parts;  // part -> fixture key prefix
};

void PrintTo(const FixtureCase& c, std::ostream* os) { *os << c.name; }

class ChannelSelectorParity : public testing::TestWithParam<FixtureCase> {};

TEST_P(ChannelSelectorParity, ScoresAndIndicesMatchPyTorch) {
  const FixtureCase& c = GetParam();
  SelectionOptions opt;
  opt.position = parse_sct_position(c.position);
  opt.reference_mlp_site = c.reference_mlp_site;
  opt.strategy = parse_channel_strategy(c.strategy);  // K: the default 1/8 of 24 = 3
  const Selection sel = select_on_fixture(opt);
  const TensorMap ref = load_safetensors(test::fixture("sct/select_d12.safetensors"));
  EXPECT_EQ(sel.class_counts, (std::vector<int64_t>{4, 1, 2, 0, 2}));
  EXPECT_EQ(sel.num_images, 9);
  EXPECT_EQ(sel.k, std::vector<int64_t>(12, 3));
  ASSERT_EQ(sel.parts.size(), c.parts.size());
  for (const auto& [part, key] : c.parts) {
    const SelectionPart& p = sel.part(part);
    const at::Tensor expected = ref.at(key + ".scores");
    // float32 features, float64 sums: the generator measures 2e-7 relative between float32 and float64.
    EXPECT_LE(test::max_abs_diff(at::stack(p.scores), expected) / expected.abs().max().item<double>(), 1e-5) << key;
    EXPECT_EQ(p.indices, rows(ref.at(key + ".indices"))) << key;
  }
}

std::vector<FixtureCase> fixture_cases() {
  return {
      {"attn", "attn", false, "salient", {{"attn", "attn.salient"}}},
      {"attn_insalient", "attn", false, "insalient", {{"attn", "attn.insalient"}}},
      {"attn_dataset", "attn", false, "dataset", {{"attn", "attn.dataset"}}},
      {"mlp", "mlp", false, "salient", {{"mlp", "mlp.salient"}}},
      {"mlp_insalient", "mlp", false, "insalient", {{"mlp", "mlp.insalient"}}},
      {"mlp_reference_site", "mlp", true, "salient", {{"mlp", "mlp_reference.salient"}}},
      {"mlp_reference_site_insalient", "mlp", true, "insalient", {{"mlp", "mlp_reference.insalient"}}},
      {"both", "both", false, "salient", {{"attn", "attn.salient"}, {"mlp", "mlp.salient"}}},
      {"qkv", "qkv", false, "salient", {{"q", "q.salient"}, {"v", "v.salient"}}},
      {"qkv_insalient", "qkv", false, "insalient", {{"q", "q.insalient"}, {"v", "v.insalient"}}},
  };
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ChannelSelectorParity, testing::ValuesIn(fixture_cases()),
                         [](const testing::TestParamInfo<FixtureCase>& info) { return info.param.name; });

TEST(ChannelSelector, ClassAwareScoreDiffersFromDatasetScoreOnFixture) {
  SelectionOptions opt;
  const Selection class_aware = select_on_fixture(opt);
  opt.strategy = ChannelStrategy::Dataset;
  const Selection dataset = select_on_fixture(opt);
  EXPECT_GT(test::max_abs_diff(at::stack(class_aware.parts[0].scores), at::stack(dataset.parts[0].scores)), 1.0);
}

at::Tensor tiny_images(int64_t n, int64_t seed) {
  at::manual_seed(seed);
  return at::randn({n, 3, 16, 16});
}

Selection select_tiny(VisionTransformer model, SelectionOptions opt, int64_t batches = 2) {
  ChannelSelector selector(opt);
  selector.attach(model, 4);
  for (int64_t b = 0; b < batches; ++b)
    selector.observe_batch(tiny_images(6, 100 + b), at::tensor({0, 1, 2, 3, 0, 1}, at::kLong));
  return selector.finish();
}

bool contains(const std::vector<int64_t>& v, int64_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// A channel made huge by construction (a row of the projection feeding the site, times 1000) must be
// selected, in its block only.
TEST(ChannelSelector, HugeChannelIsSelected) {
  for (const std::string position : {"attn", "mlp"}) {
    VisionTransformer model = selector_model();
    {
      torch::NoGradGuard no_grad;
      auto& lin = position == "attn" ? model->block(1).attn->proj : model->block(1).mlp->fc2;
      lin->weight[13].mul_(1000.0);
      lin->bias[13].add_(50.0);
    }
    SelectionOptions opt;
    opt.position = parse_sct_position(position);
    opt.k = KSpec::count(1);
    const Selection sel = select_tiny(model, opt);
    EXPECT_EQ(sel.part(position).indices[1], (std::vector<int64_t>{13})) << position;
    opt.strategy = ChannelStrategy::Insalient;
    EXPECT_FALSE(contains(select_tiny(model, opt).part(position).indices[1], 13)) << position;
  }
}

// Channels whose MLP output is exactly zero (zero rows of fc2) tie at score 0: the lower indices win.
TEST(ChannelSelector, TiesGoToTheLowerChannel) {
  VisionTransformer model = selector_model();
  {
    torch::NoGradGuard no_grad;
    for (int64_t j : {20, 5, 9}) {
      model->block(0).mlp->fc2->weight[j].zero_();
      model->block(0).mlp->fc2->bias[j].zero_();
    }
  }
  SelectionOptions opt;
  opt.position = SctPosition::Mlp;
  opt.strategy = ChannelStrategy::Insalient;
  opt.k = KSpec::count(2);
  const Selection sel = select_tiny(model, opt);
  EXPECT_EQ(sel.part("mlp").scores[0][5].item<float>(), 0.0f);
  EXPECT_EQ(sel.part("mlp").indices[0], (std::vector<int64_t>{5, 9}));

  EXPECT_EQ(rank_channels(at::tensor({1.0, 3.0, 3.0, 2.0, 3.0}), 2, ChannelStrategy::Salient), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(rank_channels(at::tensor({1.0, 3.0, 3.0, 2.0, 3.0}), 4, ChannelStrategy::Salient), (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(rank_channels(at::tensor({2.0, 1.0, 1.0, 0.0, 1.0}), 2, ChannelStrategy::Insalient), (std::vector<int64_t>{1, 3}));
  EXPECT_THROW(rank_channels(at::tensor({1.0, std::nan("")}), 1, ChannelStrategy::Salient), Error);
  EXPECT_THROW(rank_channels(at::tensor({1.0, 2.0}), 3, ChannelStrategy::Salient), Error);
}

TEST(ChannelSelector, InsalientIsTheBottomK) {
  VisionTransformer model = selector_model();
  SelectionOptions opt;
  opt.k = KSpec::count(5);
  opt.strategy = ChannelStrategy::Insalient;
  const Selection sel = select_tiny(model, opt);
  for (size_t b = 0; b < 3; ++b) {
    const at::Tensor z = sel.parts[0].scores[b];
    const at::Tensor sorted = std::get<0>(z.sort());
    const double fifth = sorted[4].item<double>();
    for (int64_t j : sel.parts[0].indices[b]) {
      EXPECT_LE(z[j].item<double>(), fifth);
    }
    EXPECT_EQ(sel.parts[0].indices[b].size(), 5u);
  }
}

TEST(ChannelSelector, RandomIsSeededUniformAndNeedsNoData) {
  auto draw = [](uint64_t seed) {
    SelectionOptions opt;
    opt.strategy = ChannelStrategy::Random;
    opt.seed = seed;
    opt.position = SctPosition::Both;
    ChannelSelector selector(opt);
    selector.attach(selector_model(), 4);
    return selector.finish();
  };
  const Selection a = draw(1), b = draw(1), c = draw(2);
  EXPECT_TRUE(a.parts[0].scores.empty());
  EXPECT_EQ(a.parts[0].indices, b.parts[0].indices);
  EXPECT_EQ(a.parts[1].indices, b.parts[1].indices);
  EXPECT_NE(a.parts[0].indices, c.parts[0].indices);
  EXPECT_NE(a.parts[0].indices[0], a.parts[0].indices[1]);  // a fresh draw per block
  for (const auto& idx : a.parts[0].indices) {
    ASSERT_EQ(idx.size(), 4u);  // 1/8 of 32
    for (size_t i = 0; i < idx.size(); ++i) {
      EXPECT_TRUE(idx[i] >= 0 && idx[i] < 32);
      if (i > 0) {
        EXPECT_LT(idx[i - 1], idx[i]);
      }
    }
  }
  // Uniform: over many seeds every channel is drawn about K / D = 1/8 of the time.
  std::vector<int> hits(32, 0);
  for (uint64_t s = 0; s < 200; ++s) {
    const Selection sel = draw(s);
    for (int64_t j : sel.parts[0].indices[0]) ++hits[size_t(j)];
  }
  for (int h : hits) EXPECT_TRUE(h > 5 && h < 50) << h;  // expected 25, sd 4.7
}

// O(L * C * D): the selector keeps per-class sums, never a feature map, whatever the batch size.
TEST(ChannelSelector, MemoryIsLayersTimesClassesTimesWidth) {
  VisionTransformer model = selector_model();
  ChannelSelector selector(SelectionOptions{});
  selector.attach(model, 4);
  selector.observe_batch(tiny_images(2, 1), at::tensor({0, 1}, at::kLong));
  const int64_t sums = 3 * 4 * 32 * int64_t(sizeof(double));
  EXPECT_EQ(selector.state_bytes(), sums);
  selector.observe_batch(tiny_images(24, 2), at::zeros({24}, at::kLong));
  EXPECT_EQ(selector.state_bytes(), sums);
  {
    torch::NoGradGuard no_grad;
    model->eval();
    model->forward(tiny_images(24, 3));  // between a forward and observe(): one (B, D) row set per block
  }
  EXPECT_EQ(selector.state_bytes(), sums + 3 * 24 * 32 * int64_t(sizeof(double)));
  selector.observe(at::zeros({24}, at::kLong));
  EXPECT_EQ(selector.state_bytes(), sums);
}

TEST(ChannelSelector, EvalModeAndOtherHooksAreRestored) {
  // Drop path would make the scores random; the selector measures in eval mode and gives the mode back.
  VisionTransformer model = selector_model(/*drop_path=*/0.5);
  auto recorder = std::make_shared<StreamRecorderImpl>(HookSite::BlockOutput);
  model->block(2).attach("rec", recorder);
  model->train();
  const Selection a = select_tiny(model, SelectionOptions{});
  EXPECT_TRUE(model->is_training());
  EXPECT_EQ(model->block(2).hook_names(), (std::vector<std::string>{"rec"}));
  model->eval();
  const Selection b = select_tiny(model, SelectionOptions{});
  EXPECT_TRUE(at::equal(at::stack(a.parts[0].scores), at::stack(b.parts[0].scores)));
  EXPECT_EQ(recorder->recorded.size(), 4u);  // still attached, and called
}

TEST(ChannelSelector, BlocksAndPerBlockK) {
  EXPECT_EQ(last_blocks(12, 6), (std::vector<int64_t>{6, 7, 8, 9, 10, 11}));
  EXPECT_THROW(last_blocks(12, 13), Error);
  SelectionOptions opt;
  opt.blocks = last_blocks(3, 2);
  opt.k = KSpec::parse("6x1,2");
  VisionTransformer model = selector_model();
  const Selection sel = select_tiny(model, opt);
  EXPECT_EQ(sel.blocks, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(sel.k, (std::vector<int64_t>{6, 2}));
  EXPECT_EQ(sel.parts[0].indices[0].size(), 6u);
  EXPECT_EQ(sel.parts[0].indices[1].size(), 2u);
  EXPECT_EQ(at::stack(sel.parts[0].scores).sizes().vec(), (std::vector<int64_t>{2, 32}));
  for (int64_t b = 0; b < 3; ++b) EXPECT_TRUE(model->block(b).hook_names().empty());  // detached

  opt.k = KSpec::per_block({4, 4, 4});  // three Ks for two blocks
  ChannelSelector bad(opt);
  EXPECT_THROW(bad.attach(selector_model(), 4), Error);
  opt.k = KSpec{};
  opt.blocks = {2, 1};
  ChannelSelector unordered(opt);
  EXPECT_THROW(unordered.attach(selector_model(), 4), Error);
}

TEST(ChannelSelector, KSpecForms) {
  EXPECT_EQ(KSpec{}.resolve(0, 12, 768), 96);
  EXPECT_EQ(KSpec::parse("96").resolve(3, 12, 768), 96);
  EXPECT_EQ(KSpec::parse("1/8").resolve(0, 12, 768), 96);
  EXPECT_EQ(KSpec::parse("0.25").resolve(0, 12, 768), 192);
  const KSpec list = KSpec::parse("192x4,96x8");
  EXPECT_EQ(list.resolve(3, 12, 768), 192);
  EXPECT_EQ(list.resolve(4, 12, 768), 96);
  EXPECT_EQ(list.str(), "192,192,192,192,96,96,96,96,96,96,96,96");
  EXPECT_THROW(list.resolve(0, 6, 768), Error);
  EXPECT_THROW(KSpec::parse("ninety"), Error);
  EXPECT_THROW(KSpec::parse("96x0"), Error);
  EXPECT_THROW(KSpec::parse("1.5"), Error);
  EXPECT_THROW(KSpec::count(800).resolve(0, 1, 768), Error);
  EXPECT_THROW(KSpec::count(0).resolve(0, 1, 768), Error);
}

TEST(ChannelSelector, MisuseIsAClearError) {
  VisionTransformer model = selector_model();
  EXPECT_THROW(parse_sct_position("ffn"), Error);
  EXPECT_THROW(parse_channel_strategy("loudest"), Error);

  ChannelSelector selector(SelectionOptions{});
  EXPECT_THROW(selector.observe(at::zeros({2}, at::kLong)), Error);  // not attached
  selector.attach(model, 4);
  EXPECT_THROW(selector.attach(model, 4), Error);
  EXPECT_THROW(selector.observe(at::zeros({2}, at::kLong)), Error);                                  // no forward
  EXPECT_THROW(selector.observe_batch(tiny_images(2, 1), at::tensor({0, 4}, at::kLong)), Error);     // label range
  EXPECT_THROW(selector.observe_batch(tiny_images(2, 1), at::tensor({0, 1, 2}, at::kLong)), Error);  // count
  EXPECT_THROW(selector.finish(), Error);  // no data for a ranking strategy

  // A second selector on the same blocks fails to attach and leaves the first one's hooks in place.
  ChannelSelector second(SelectionOptions{});
  EXPECT_THROW(second.attach(model, 4), Error);
  EXPECT_EQ(model->block(0).hook_names(), std::vector<std::string>{"cais_attn"});
  selector.observe_batch(tiny_images(2, 1), at::tensor({0, 1}, at::kLong));
  EXPECT_EQ(selector.finish().num_images, 2);
  EXPECT_TRUE(model->block(0).hook_names().empty());
}

// A number no integer field can hold (a block index of 1.4e80) is refused while the file is parsed,
// naming it: nlohmann's conversion of it to int64 was undefined behaviour (fuzz finding).
TEST(ChannelSelector, SelectionFileWithAnOutOfRangeNumberIsRefused) {
  const std::string path = test::fixture("fuzz/selection_huge_number.json");
  test::expect_error([&] { Selection::load(path); }, {path, "out of range"});
}

TEST(ChannelSelector, SelectionFileRoundTrip) {
  test::ScratchDir dir;
  SelectionOptions opt;
  opt.position = SctPosition::Qkv;
  opt.blocks = {0, 2};
  Selection sel = select_tiny(selector_model(), opt);
  sel.backbone_name = "tiny";
  sel.backbone_sha256 = std::string(64, 'a');
  sel.dataset = "vtab/caltech101 train800val200";
  sel.save(dir.file("sel.json"));
  const Selection back = Selection::load(dir.file("sel.json"));
  EXPECT_EQ(back.to_json(), sel.to_json());
  EXPECT_EQ(back.dataset, sel.dataset);
  EXPECT_EQ(back.part("v").indices, sel.part("v").indices);
  EXPECT_TRUE(at::equal(at::stack(back.part("q").scores), at::stack(sel.part("q").scores)));  // float32 survives the text exactly
  EXPECT_EQ(back.channels(1), (std::vector<std::vector<int64_t>>{sel.part("q").indices[1], sel.part("v").indices[1]}));

  nlohmann::json j = sel.to_json();
  const nlohmann::json good = j;
  j["k"][0] = 5;  // K no longer matches the index lists
  EXPECT_THROW(Selection::from_json(j), Error);
  j = good;
  j["parts"][0]["indices"][0][0] = 99;  // outside the width
  EXPECT_THROW(Selection::from_json(j), Error);
  j = good;
  j.erase("position");
  EXPECT_THROW(Selection::from_json(j), Error);
  EXPECT_THROW(Selection::load(dir.file("missing.json")), Error);
}

TEST(ChannelSelector, SelectChannelsRunsTheWholePass) {
  int64_t served = 0;
  const Selection sel =
      select_channels(selector_model(), 4, SelectionOptions{}, [&](at::Tensor& images, at::Tensor& labels) {
        if (served == 3) return false;
        images = tiny_images(5, served);
        labels = at::full({5}, served, at::kLong);
        ++served;
        return true;
      });
  EXPECT_EQ(sel.num_images, 15);
  EXPECT_EQ(sel.class_counts, (std::vector<int64_t>{5, 5, 5, 0}));
}

}  // namespace
}  // namespace sct
