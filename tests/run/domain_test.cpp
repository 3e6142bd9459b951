// `sct domain` (run/domain_generalization.h) end to end at tiny settings: real trainings of the fixture
// ViT on a generated task, then each task folder scored on the shifted sets. An unshifted copy of the
// test set must reproduce every run's own test top-1 exactly: the same model, the same preprocessing.
#include "sct/run/domain_generalization.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "fixture_models.h"
#include "sct/data/image_shift.h"
#include "sct/data/synthetic_tasks.h"
#include "sct/model/backbone_fingerprint.h"
#include "sct/run/trained_model.h"
#include "test_util.h"

namespace sct {
namespace {

namespace fs = std::filesystem;

DomainTest test_set(const std::string& name, ImageSet images) {
  const auto set = std::make_shared<const ImageSet>(std::move(images));
  return {name,
          [set](int64_t size, const Normalization& normalization, int64_t batch) {
            return std::make_shared<CacheEvalSource>(std::make_shared<const ImageCache>(ImageCache::from_images(*set, size)),
                                                     normalization, batch);
          },
          std::nullopt};
}

TEST(Domain, TrainsOnceAndScoresEveryShiftedSetWithTheTasksPreprocessing) {
  test::ScratchDir dir;
  const SyntheticTask task = draw_synthetic_task("shape-count", 5, /*test_size=*/60);
  write_synthetic_task(task, dir.file("data"));
  TaskSource source;
  source.task = "shape-count";
  source.data = dir.file("data");
  std::ostringstream data_log;
  const TaskData data(source, data_log);

  const std::string checkpoint = test::fixture("vit_d2_w32_h4.safetensors");
  const PretrainedBackbone backbone =
      load_backbone(with_classes(test::d2_fixture_model()->config_json(), data.num_classes()), checkpoint, c10::kCPU);

  DomainSpec spec;
  spec.rows = method_rows({"sct", "linear"});
  spec.source_name = "shape-count test";
  spec.tests = {test_set("unshifted", task.test), test_set("inverted", shifted_copy(task.test, ImageShift::Invert))};
  spec.checkpoint = checkpoint;
  spec.out = dir.file("domain");
  int trainings = 0;
  FunctionRunner runner([&](const ExperimentRun& run, const std::string& run_dir) {
    ++trainings;
    TaskRunSpec s;
    s.method = {{"name", run.row}};
    s.recipe = "none";
    s.method_recipe = "none";
    s.epochs = 1;
    s.seed = run.seed;
    s.overrides = {"warmup_epochs=0", "batch_size=50", "lr=0.01"};
    s.out = run_dir;
    s.trainer.interactive = false;
    std::ostringstream log;
    return run_task(s, backbone, data, log).summary;
  });
  std::ostringstream log;
  const ExperimentReport report = run_domain(spec, runner, log);
  EXPECT_EQ(trainings, 2);  // one training per method, however many test sets
  EXPECT_EQ(report.table.header, (std::vector<std::string>{"method", "trainable params", "shape-count test", "unshifted",
                                                           "inverted", "shifted mean"}));
  ASSERT_EQ(report.table.rows.size(), 2u);
  for (const auto& row : report.table.rows) EXPECT_EQ(row[2], row[3]) << row[0] << "\n" << log.str();
  EXPECT_EQ(report.results.cell("sct", "unshifted").mean, report.results.cell("sct", "shape-count test").mean);
  const double mean = (report.results.cell("linear", "unshifted").mean + report.results.cell("linear", "inverted").mean) / 2;
  EXPECT_EQ(report.table.rows[1][5], format_number("%.1f", mean));
  for (const char* ext : {".md", ".csv", ".json", ".png"}) EXPECT_TRUE(fs::exists(spec.out + "/domain" + ext)) << ext;
  EXPECT_NE(log.str().find("sct/seed42 on inverted"), std::string::npos) << log.str();

  // A task folder trained on another backbone is refused by name; no checkpoint at all, before training.
  spec.checkpoint = test::fixture("vit_d12_w24_h3.safetensors");
  spec.out = dir.file("domain-other");
  test::expect_error([&] { run_domain(spec, runner, log); }, {"does not fit"});
  spec.checkpoint = "";
  trainings = 0;
  test::expect_error([&] { run_domain(spec, runner, log); }, {"needs --checkpoint"});
  EXPECT_EQ(trainings, 0);
}

}  // namespace
}  // namespace sct
