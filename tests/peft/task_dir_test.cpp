// Task folders (task_dir.h): a trained SCT model saved and applied to a fresh copy of its backbone gives
// the same logits; a folder that does not fit, or another backbone, is refused with the file named.
#include "sct/model/vision_transformer.h"
#include "sct/peft/task_dir.h"

#include <gtest/gtest.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <filesystem>
#include <fstream>
#include <limits>

#include "sct/io/safetensors.h"
#include "sct/model/backbone_fingerprint.h"
#include "sct/peft/sct_method.h"
#include "fixture_models.h"
#include "test_util.h"

namespace sct {
namespace {

VisionTransformer backbone(uint64_t seed) {
  at::manual_seed(seed);
  return VisionTransformer(test::tiny_vit_config());
}

// A "trained" SCT model: the backbone of seed 1, a random selection, and every trainable tensor moved
// away from its initialisation.
VisionTransformer trained_model(const SctMethod& method) {
  VisionTransformer model = backbone(1);
  SctMethod(method).attach(*model);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters())
    if (p.requires_grad()) p.add_(at::randn_like(p));
  return model;
}

SctMethod random_sct(VisionTransformer model) {
  SelectionOptions opt;
  opt.position = SctPosition::Both;
  opt.strategy = ChannelStrategy::Random;
  opt.k = KSpec::count(5);
  opt.blocks = {0, 2};
  ChannelSelector selector(opt);
  selector.attach(model, 4);
  return SctMethod(selector.finish(), /*scale=*/0.3);
}

TaskInfo info_for(VisionTransformerImpl& model, const PeftMethod& method) {
  TaskInfo info;
  info.method = method.config();
  info.backbone = model.config_json();
  info.class_names = {"a", "b", "c", "d"};
  info.task = "toy";
  info.normalization = Normalization::inception();
  return info;
}

TEST(TaskDir, RoundTripReproducesTheLogits) {
  test::ScratchDir dir;
  const SctMethod method = random_sct(backbone(1));
  VisionTransformer trained = trained_model(method);
  VisionTransformer fresh_backbone = backbone(1);
  TaskInfo info = info_for(*trained, method);
  info.backbone_sha256 = backbone_fingerprint(*fresh_backbone);
  save_task_dir(dir.file("task"), info, *trained);

  const TaskDir task = read_task_dir(dir.file("task"));
  EXPECT_EQ(task.info.class_names, info.class_names);
  EXPECT_EQ(task.info.normalization.mean, Normalization::inception().mean);
  EXPECT_EQ(task.info.method["scale"], 0.3);
  // SCT weights and indices of 2 parts in 2 blocks, and the head.
  EXPECT_EQ(task.tensors.size(), 2u * 2 * 3 + 2);
  EXPECT_EQ(task.tensors.at("blocks.2.sct.mlp.indices").scalar_type(), at::kLong);

  auto method_back = apply_task(*fresh_backbone, task, dir.file("task"));
  EXPECT_EQ(method_back->name(), "sct");
  trained->eval();
  fresh_backbone->eval();
  at::manual_seed(3);
  const at::Tensor images = at::randn({2, 3, 16, 16});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(at::equal(trained->forward(images), fresh_backbone->forward(images)));
}

TEST(TaskDir, RefusesAnotherBackboneAndFilesThatDoNotFit) {
  test::ScratchDir dir;
  const SctMethod method = random_sct(backbone(1));
  VisionTransformer trained = trained_model(method);
  TaskInfo info = info_for(*trained, method);
  info.backbone_sha256 = backbone_fingerprint(*backbone(1));
  save_task_dir(dir.file("task"), info, *trained);
  TaskDir task = read_task_dir(dir.file("task"));

  test::expect_error([&] { apply_task(*backbone(2), task, dir.file("task")); }, {"fingerprint", "--force"});
  EXPECT_NO_THROW(apply_task(*backbone(2), task, dir.file("task"), /*force=*/true));

  TaskDir missing = task;
  missing.tensors.erase("blocks.0.sct.attn.linear.weight");
  test::expect_error([&] { apply_task(*backbone(1), missing, dir.file("task")); },
                     {"adapter_model.safetensors", "missing: blocks.0.sct.attn.linear.weight"});
  TaskDir reshaped = task;
  reshaped.tensors["head.bias"] = at::zeros({5});
  test::expect_error([&] { apply_task(*backbone(1), reshaped, dir.file("task")); }, {"head.bias", "[4]", "[5]"});

  // Tensors are checked, not trusted: NaN, another dtype, channel indices other than the config's.
  TaskDir nan = task;
  nan.tensors["head.bias"] = at::full({4}, std::numeric_limits<float>::quiet_NaN());
  test::expect_error([&] { apply_task(*backbone(1), nan, dir.file("task")); }, {"head.bias", "NaN"});
  TaskDir integer = task;
  integer.tensors["head.bias"] = at::zeros({4}, at::kLong);
  test::expect_error([&] { apply_task(*backbone(1), integer, dir.file("task")); }, {"head.bias", "float", "Long"});
  TaskDir moved = task;
  const std::string indices = "blocks.0.sct.attn.indices";
  ASSERT_TRUE(moved.tensors.count(indices)) << "no " << indices;
  moved.tensors[indices] = moved.tensors[indices].flip(0).clone();
  test::expect_error([&] { apply_task(*backbone(1), moved, dir.file("task")); },
                     {indices, "differs from what adapter_config.json describes"});

  // The folder is written whole or not at all: a second save replaces it, leaving no temporary behind.
  save_task_dir(dir.file("task"), info, *trained);
  for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(dir.file("task")).parent_path()))
    EXPECT_EQ(e.path().filename().string().find(".sct-"), std::string::npos) << e.path();

  test::expect_error([&] { read_task_dir(dir.file("nowhere")); }, {"adapter_config.json", "nowhere"});
  std::ofstream(dir.file("task/adapter_config.json")) << "{\"format\": \"sct-task\", \"version\": 1}";
  test::expect_error([&] { read_task_dir(dir.file("task")); }, {"adapter_config.json: field 'method' is missing"});
  std::ofstream(dir.file("task/adapter_config.json")) << "{\"format\": \"sct-task\", \"version\": \"1\"}";
  test::expect_error([&] { read_task_dir(dir.file("task")); }, {"adapter_config.json: a field has the wrong type"});
  std::ofstream(dir.file("task/adapter_config.json")) << "{\"format\": ";
  test::expect_error([&] { read_task_dir(dir.file("task")); }, {"adapter_config.json: not valid JSON"});
  try {
    read_task_dir(dir.file("task"));
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find("[json.exception"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sct
