// One backbone, many tasks (multi_task_model.h): a batch mixing six methods' images gives each image
// what its task's own model gives it alone, the way sct predict computes it; a task from another
// backbone, a taken or bad name and an unknown task are refused by name.
#include "sct/model/vision_transformer.h"
#include "sct/serve/multi_task_model.h"

#include <gtest/gtest.h>

#include "serve_fixtures.h"

namespace sct {
namespace {

struct MixedBatch {
  test::ScratchDir dir;
  std::vector<test::ServeFixtureTask> tasks = test::serve_fixture_tasks();
  std::string task_dir(const test::ServeFixtureTask& t) const { return dir.file(t.name); }
  MixedBatch() {
    for (size_t i = 0; i < tasks.size(); ++i) test::write_serve_task(tasks[i], task_dir(tasks[i]), 100 + i);
  }
};

void expect_mixed_batch_matches_alone(Precision precision, double tolerance) {
  MixedBatch fx;
  MultiTaskModel model([] { return test::served_backbone(); }, precision);
  for (const auto& t : fx.tasks) model.add_task(t.name, fx.task_dir(t));
  EXPECT_TRUE(model.task("sct").shares_batches);
  EXPECT_FALSE(model.task("vpt").shares_batches);  // its prompts change the token count
  EXPECT_TRUE(model.task("bias").own_backbone);     // it trains backbone biases
  EXPECT_FALSE(model.task("lora").own_backbone);
  EXPECT_EQ(model.task("linear").trainable, 32 * 5 + 5);

  // 15 images, tasks interleaved so that every task's rows are scattered through the batch.
  at::manual_seed(7);
  const at::Tensor images = at::randn({15, 3, 16, 16});
  std::vector<std::string> names;
  for (int64_t i = 0; i < images.size(0); ++i) names.push_back(fx.tasks[size_t(i * 5 % 6)].name);
  const std::vector<at::Tensor> mixed = model.predict(images, names);
  ASSERT_EQ(mixed.size(), names.size());
  for (const auto& t : fx.tasks) {
    const at::Tensor alone = test::predict_alone(fx.task_dir(t), images, precision);
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] != t.name) continue;
      ASSERT_EQ(mixed[i].size(0), t.classes) << t.name;
      EXPECT_LE(test::max_abs_diff(mixed[i], alone[long(i)]), tolerance) << t.name << " image " << i;
    }
  }
  // Routing matters: sct and vpt have 4 classes each, and their models disagree by far more than the
  // tolerance, so rows given to the wrong task's modules would fail the comparison above.
  const at::Tensor sct = test::predict_alone(fx.task_dir(fx.tasks[0]), images, precision);
  const at::Tensor vpt = test::predict_alone(fx.task_dir(fx.tasks[3]), images, precision);
  EXPECT_GT(test::max_abs_diff(sct, vpt), 0.05);
}

TEST(MultiTaskModel, MixedBatchEqualsEachTaskAloneFp32) { expect_mixed_batch_matches_alone(Precision::fp32, 1e-5); }

TEST(MultiTaskModel, MixedBatchEqualsEachTaskAloneBf16) {
  // bf16 GEMMs may round a row differently in another batch: equal within bf16's step, not bit for bit.
  expect_mixed_batch_matches_alone(Precision::bf16, 2e-2);
}

TEST(MultiTaskModel, RefusesWhatItCannotServe) {
  MixedBatch fx;
  MultiTaskModel model([] { return test::served_backbone(); }, Precision::fp32);
  model.add_task("sct", fx.task_dir(fx.tasks[0]));
  test::expect_error([&] { model.add_task("sct", fx.task_dir(fx.tasks[1])); }, {"'sct'", "already served"});
  test::expect_error([&] { model.add_task("a/b", fx.task_dir(fx.tasks[1])); }, {"'a/b'", "A-Z"});
  test::expect_error([&] { model.add_task("x", fx.dir.file("nowhere")); }, {"nowhere", "adapter_config.json"});
  test::expect_error([&] { model.predict(at::zeros({1, 3, 16, 16}), {"nope"}); }, {"no task named 'nope'"});
  test::expect_error([&] { model.predict(at::zeros({2, 3, 16, 16}), {"sct"}); }, {"one task per image"});

  MultiTaskModel other([] { return test::served_backbone(2); }, Precision::fp32);
  test::expect_error([&] { other.add_task("sct", fx.task_dir(fx.tasks[0])); }, {fx.task_dir(fx.tasks[0]), "fingerprint"});
  MultiTaskModel forced([] { return test::served_backbone(2); }, Precision::fp32, /*force=*/true);
  EXPECT_NO_THROW(forced.add_task("sct", fx.task_dir(fx.tasks[0])));

  // Another architecture (width 48) is refused before its tensors are looked at.
  MultiTaskModel wide(
      [] {
        VitConfig cfg = test::tiny_vit_config();
        cfg.width = 48;
        return VisionTransformer(cfg);
      },
      Precision::fp32, /*force=*/true);
  test::expect_error([&] { wide.add_task("sct", fx.task_dir(fx.tasks[0])); }, {"trained on backbone", "\"width\":32"});

  // Unloading: the others keep answering, the name is free again, its images are refused.
  model.add_task("lora", fx.task_dir(fx.tasks[1]));
  const at::Tensor image = at::randn({1, 3, 16, 16});
  const at::Tensor before = model.predict(image, {"lora"})[0];
  model.remove_task("sct");
  EXPECT_TRUE(at::equal(model.predict(image, {"lora"})[0], before));
  test::expect_error([&] { model.predict(image, {"sct"}); }, {"no task named 'sct'"});
  test::expect_error([&] { model.remove_task("sct"); }, {"no task named 'sct'"});
  model.add_task("sct", fx.task_dir(fx.tasks[0]));
  EXPECT_LE(test::max_abs_diff(model.predict(image, {"sct"})[0],
                               test::predict_alone(fx.task_dir(fx.tasks[0]), image, Precision::fp32)[0]),
            1e-6);
}

}  // namespace
}  // namespace sct
