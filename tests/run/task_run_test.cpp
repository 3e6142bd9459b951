// The task run as a library call (run/task_run.h): how its TrainConfig is layered, what it checks
// before any work, what it writes, and that the task folder it writes rebuilds the trained model.
#include "sct/model/vision_transformer.h"
#include "sct/run/task_run.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "sct/core/error.h"
#include "sct/data/synthetic_tasks.h"
#include "sct/model/backbone_fingerprint.h"
#include "sct/peft/sct_method.h"
#include "sct/peft/task_dir.h"
#include "sct/run/trained_model.h"
#include "fixture_models.h"

namespace sct {
namespace {

namespace fs = std::filesystem;

// A task recipe and a method recipe file in `dir`, with values no default has.
void write_recipes(const test::ScratchDir& dir) {
  test::write_file(dir.file("task.json"),
                   R"({"task": "shape-count", "group": "structured", "classes": 5, "lr": 0.02, "weight_decay": 0.3,
                       "label_smoothing": 0.2, "train_aug": false, "scale": 0.7, "scaleonx": true,
                       "reported_top1": 0})");
  test::write_file(dir.file("methods.json"),
                   R"({"model": "tiny", "source": "test",
                       "methods": {"lora": {"lr": 0.004, "label_smoothing": 0.0},
                                   "vpt": {"task_method_options": {"shape-count": {"length": 7}, "dtd": {"length": 3}},
                                           "tune_method_options": {"length": [1, 2]}}}})");
}

TEST(TaskRun, ConfigLayersRecipeThenMethodRecipeThenSpecThenOverrides) {
  test::ScratchDir dir;
  write_recipes(dir);
  TaskRunSpec spec;
  spec.recipe = dir.file("task.json");
  spec.method_recipe = dir.file("methods.json");
  spec.method = {{"name", "lora"}};
  spec.epochs = 3;
  spec.seed = 7;
  spec.precision = Precision::bf16;
  spec.protocol = "tune";
  std::ostringstream log;

  ResolvedConfig r = resolve_task_config(spec, "shape-count", "tiny", log);
  EXPECT_DOUBLE_EQ(r.config.lr, 0.004);             // the method recipe over the task's 0.02
  EXPECT_DOUBLE_EQ(r.config.weight_decay, 0.3);     // the task's: the method recipe leaves it
  EXPECT_DOUBLE_EQ(r.config.label_smoothing, 0.0);  // the method recipe over the task's 0.2
  EXPECT_EQ(r.config.epochs, 3);
  EXPECT_EQ(r.config.seed, 7u);
  EXPECT_EQ(r.config.precision, "bf16");
  EXPECT_EQ(r.config.protocol, Protocol::Tune);
  EXPECT_EQ(r.config.task, "shape-count");
  ASSERT_TRUE(r.method_recipe);
  EXPECT_NE(log.str().find("lora's settings from"), std::string::npos) << log.str();
  // 3 epochs under the default 10 warm-up epochs never reach the lr: said, not silently trained.
  EXPECT_NE(log.str().find("warning: warmup_epochs 10 >= epochs 3"), std::string::npos) << log.str();

  spec.overrides = {"lr=0.5", "epochs=9"};  // last, over everything
  r = resolve_task_config(spec, "shape-count", "tiny", log);
  EXPECT_DOUBLE_EQ(r.config.lr, 0.5);
  EXPECT_EQ(r.config.epochs, 9);

  // A method recipe file given by name must have the method; found by model name, it may lack it (sct
  // has none for "tiny"): the task recipe's lr stays. "none" drops either recipe.
  spec.overrides.clear();
  spec.method = {{"name", "sct"}};
  test::expect_error([&] { resolve_task_config(spec, "shape-count", "tiny", log); }, {"no entry for method 'sct'"});
  spec.method_recipe = "";
  EXPECT_DOUBLE_EQ(resolve_task_config(spec, "shape-count", "tiny", log).config.lr, 0.02);
  spec.recipe = "none";
  spec.method_recipe = "none";
  r = resolve_task_config(spec, "shape-count", "tiny", log);
  EXPECT_DOUBLE_EQ(r.config.lr, TrainConfig{}.lr);
  EXPECT_FALSE(r.recipe);
  spec.overrides = {"lr=-1"};
  test::expect_error([&] { resolve_task_config(spec, "shape-count", "tiny", log); }, {"lr"});
}

// A method recipe's per-task options (VPT's prompt length) apply to their task only, and an option the
// user gives wins over them and over their tune axis.
TEST(TaskRun, MethodRecipeSetsPerTaskOptionsUnlessTheUserGivesThem) {
  test::ScratchDir dir;
  write_recipes(dir);
  TaskRunSpec spec;
  spec.recipe = dir.file("task.json");  // task "shape-count"
  spec.method_recipe = dir.file("methods.json");
  spec.method = {{"name", "vpt"}};
  std::ostringstream log;
  ResolvedConfig r = resolve_task_config(spec, "shape-count", "tiny", log);
  EXPECT_EQ(r.config.method_options, (std::map<std::string, double>{{"length", 7.0}}));
  EXPECT_EQ(r.config.tune_method_options.at("length"), (std::vector<double>{1.0, 2.0}));
  spec.method = {{"name", "vpt"}, {"length", 50}};
  r = resolve_task_config(spec, "shape-count", "tiny", log);
  EXPECT_TRUE(r.config.method_options.empty());
  EXPECT_TRUE(r.config.tune_method_options.empty());
  spec.recipe = "none";  // no task: no per-task option
  spec.method = {{"name", "vpt"}};
  EXPECT_TRUE(resolve_task_config(spec, "shape-count", "tiny", log).config.method_options.empty());
}

TEST(TaskRun, RecipeValuedMethodOptionsTakeTheTaskRecipes) {
  test::ScratchDir dir;
  write_recipes(dir);
  const VtabRecipe recipe = load_recipe(dir.file("task.json"));
  const nlohmann::json m =
      resolve_method_options({{"name", "sct"}, {"scale", "recipe"}, {"scale_on_x", "recipe"}, {"k", 4}}, recipe);
  EXPECT_DOUBLE_EQ(m.at("scale").get<double>(), 0.7);
  EXPECT_TRUE(m.at("scale_on_x").get<bool>());
  EXPECT_EQ(m.at("k"), 4);
  test::expect_error([] { resolve_method_options({{"name", "sct"}, {"scale", "recipe"}}, std::nullopt); },
                     {"scale=recipe", "task recipe"});
  test::expect_error([&] { resolve_method_options({{"name", "lora"}, {"rank", "recipe"}}, recipe); },
                     {"no method option 'rank'"});
}

TEST(TaskRun, SummaryRoundTripsAndNamesAMissingField) {
  TaskSummary s;
  s.task = "t";
  s.method = "sct";
  s.test_acc = 81.25;
  s.trainable_params = 111744;
  s.task_dir_bytes = 123456;
  const nlohmann::json j = s.to_json();
  EXPECT_EQ(j.size(), 19u);
  EXPECT_EQ(TaskSummary::from_json(j).to_json(), j);
  nlohmann::json partial = j;
  partial.erase("lr");
  test::expect_error([&] { TaskSummary::from_json(partial); }, {"run summary", "'lr'"});
  nlohmann::json typo = j;
  typo["test_accuracy"] = 1.0;
  test::expect_error([&] { TaskSummary::from_json(typo); }, {"unknown run summary field 'test_accuracy'"});
}

// A generated task small enough to train in seconds, a tiny random backbone for it, and a spec of
// one epoch without warm-up.
struct TinyRun {
  test::ScratchDir dir;
  std::ostringstream data_log;
  TaskData data;
  PretrainedBackbone backbone;
  TaskRunSpec spec;

  TinyRun() : data(write_task(dir), data_log) {
    VitConfig cfg = test::tiny_vit_config();
    cfg.num_classes = data.num_classes();
    at::manual_seed(3);
    backbone.model = VisionTransformer(cfg);
    backbone.name = "tiny (random init)";
    backbone.sha256 = backbone_fingerprint(*backbone.model);
    spec.recipe = "none";
    spec.method_recipe = "none";
    spec.epochs = 1;
    spec.overrides = {"warmup_epochs=0", "batch_size=50", "lr=0.01"};
    spec.out = dir.file("run");
    spec.trainer.interactive = false;
  }
  static TaskSource write_task(const test::ScratchDir& dir) {
    write_synthetic_task(draw_synthetic_task("shape-count", 5, /*test_size=*/60), dir.file("data"));
    TaskSource source;
    source.task = "shape-count";
    source.data = dir.file("data");
    return source;
  }
};

TEST(TaskRun, SctRunWritesItsSelectionTaskFolderAndSummary) {
  TinyRun t;
  t.spec.method = {{"name", "sct"}, {"k", 4}, {"blocks", "last:2"}};
  std::ostringstream log;
  TaskRunResult r = run_task(t.spec, t.backbone, t.data, log);

  const TaskSummary& s = r.summary;
  EXPECT_EQ(s.method, "sct");
  EXPECT_EQ(s.task, "shape-count");
  EXPECT_EQ(s.protocol, "final");
  EXPECT_EQ(s.epochs, 1);
  EXPECT_EQ(s.trainable_params, 2 * (4 * 4 + 4));  // K = 4 in the last 2 blocks
  EXPECT_EQ(s.head_params, 32 * t.data.num_classes() + t.data.num_classes());
  EXPECT_GE(s.test_acc, 0.0);
  EXPECT_LE(s.test_acc, 100.0);
  EXPECT_EQ(s.task_dir, (fs::path(t.spec.out) / "task").string());
  EXPECT_EQ(s.task_dir_bytes, int64_t(fs::file_size(fs::path(s.task_dir) / "adapter_model.safetensors") +
                                      fs::file_size(fs::path(s.task_dir) / "adapter_config.json")));
  EXPECT_TRUE(fs::exists(fs::path(t.spec.out) / "selection.json"));
  EXPECT_TRUE(fs::exists(fs::path(t.spec.out) / "selection.png"));

  // The selection was measured on this backbone and these images; the task folder stores it.
  const Selection sel = Selection::load((fs::path(t.spec.out) / "selection.json").string());
  EXPECT_EQ(sel.backbone_sha256, t.backbone.sha256);
  EXPECT_EQ(sel.dataset, "shape-count/1000 training images");
  EXPECT_EQ(sel.blocks, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(r.method.at("selection").at("blocks"), nlohmann::json({1, 2}));

  // The task folder rebuilds the trained model: same logits on the same images.
  // The run copied, not changed, the backbone.
  Backbone rebuilt = load_trained_task(s.task_dir, t.backbone).model;
  r.model->eval();
  const at::Tensor x = at::randn({3, 3, 16, 16});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(at::allclose(rebuilt->forward(x), r.model->forward(x), 1e-5, 1e-6));
}

TEST(TaskRun, TuneGridPreparesSctOncePerTrainingSplit) {
  TinyRun t;
  t.spec.method = {{"name", "sct"}, {"k", 2}};
  t.spec.protocol = "tune";
  t.spec.overrides.push_back("tune_lrs=[0.001,0.01,0.1]");
  std::ostringstream log;
  const TaskRunResult r = run_task(t.spec, t.backbone, t.data, log);
  EXPECT_EQ(r.protocol.trials.size(), 3u);
  // One selection on train800 for the three grid points, one on train800val200 for the final run.
  const std::string text = log.str();
  size_t selections = 0;
  for (size_t at = text.find("select: "); at != std::string::npos; at = text.find("select: ", at + 1)) ++selections;
  EXPECT_EQ(selections, 2u) << text;
  EXPECT_EQ(r.method.at("selection").at("dataset"), "shape-count/1000 training images");
}

TEST(TaskRun, BadMethodConfigFailsBeforeAnythingIsWritten) {
  TinyRun t;
  std::ostringstream log;
  t.spec.method = {{"name", "lora"}, {"rnk", 4}};
  test::expect_error([&] { run_task(t.spec, t.backbone, t.data, log); }, {"no option 'rnk'", "rank"});
  t.spec.method = {{"name", "sct"}, {"position", "ffn"}};
  test::expect_error([&] { run_task(t.spec, t.backbone, t.data, log); }, {"unknown position 'ffn'"});
  t.spec.method = {{"name", "vpt"}};
  t.spec.overrides.push_back("tune_method_options={\"depth\":[1,2]}");
  test::expect_error([&] { run_task(t.spec, t.backbone, t.data, log); }, {"no option 'depth'"});
  EXPECT_FALSE(fs::exists(t.spec.out));
}

TEST(TaskRun, ComparisonMethodRunsThroughTheSameCall) {
  TinyRun t;
  t.spec.method = {{"name", "lora"}, {"rank", 2}};
  std::ostringstream log;
  const TaskRunResult r = run_task(t.spec, t.backbone, t.data, log);
  EXPECT_EQ(r.summary.method, "lora");
  EXPECT_EQ(r.method, nlohmann::json({{"name", "lora"}, {"rank", 2}, {"alpha", 8.0}}));
  EXPECT_EQ(r.summary.trainable_params, 3 * 2 * (2 * 32 + 32 * 2));  // 3 blocks x (q, v) x (A, B)
  EXPECT_FALSE(fs::exists(fs::path(t.spec.out) / "selection.json"));
}

// A run folder is one run: a fresh run refuses another's folder before it overwrites anything; a resume
// refuses a folder started on another backbone (its run.json) instead of reporting the other's result.
TEST(TaskRun, RunFolderBelongsToOneRun) {
  TinyRun t;
  t.spec.method = {{"name", "sct"}, {"k", 4}};
  std::ostringstream log;
  run_task(t.spec, t.backbone, t.data, log);
  const std::string selection = test::read_file((fs::path(t.spec.out) / "selection.json").string());
  const nlohmann::json record = nlohmann::json::parse(test::read_file((fs::path(t.spec.out) / "run.json").string()));
  EXPECT_EQ(record.at("task"), "shape-count");
  EXPECT_EQ(record.at("backbone_sha256"), t.backbone.sha256);
  EXPECT_EQ(record.at("method"), "sct");

  t.spec.seed = 7;  // would select other channels
  test::expect_error([&] { run_task(t.spec, t.backbone, t.data, log); }, {"already holds a training state", "--resume"});
  EXPECT_EQ(test::read_file((fs::path(t.spec.out) / "selection.json").string()), selection);

  PretrainedBackbone other = t.backbone;
  at::manual_seed(4);
  other.model = make_backbone(t.backbone.model->config_json());
  other.sha256 = backbone_fingerprint(*other.model);
  t.spec.trainer.resume = true;
  test::expect_error([&] { run_task(t.spec, other, t.data, log); }, {"--resume", "backbone_sha256", t.backbone.sha256});

  // Temporaries a killed writer left are cleaned when the run resumes.
  test::write_file((fs::path(t.spec.out) / "summary.json.sct-tmp.99999999.0").string(), "half");
  t.spec.seed = 42;
  run_task(t.spec, t.backbone, t.data, log);
  EXPECT_FALSE(fs::exists(fs::path(t.spec.out) / "summary.json.sct-tmp.99999999.0"));
}

// SCT on a Swin applies the task recipe's scale, as the paper's Swin code does; not on a ViT (the
// released ViT code never does), not without a recipe, and not over a scale the user names.
TEST(TaskRun, SctOnASwinTakesItsTaskRecipesScale) {
  const nlohmann::json sct = {{"name", "sct"}}, user_none = {{"name", "sct"}, {"scale", nullptr}};
  EXPECT_EQ(with_paper_scale(sct, "swin", true),
            nlohmann::json({{"name", "sct"}, {"scale", "recipe"}, {"scale_on_x", "recipe"}}));
  EXPECT_EQ(with_paper_scale(sct, "vit", true), sct);
  EXPECT_EQ(with_paper_scale(sct, "swin", false), sct);
  EXPECT_EQ(with_paper_scale(user_none, "swin", true), user_none);
  EXPECT_EQ(with_paper_scale({{"name", "lora"}}, "swin", true), nlohmann::json({{"name", "lora"}}));

  // Through a run: a small Swin on the tiny task under cifar100's recipe (scale 0.4, scale_on_x 0).
  TinyRun t;
  nlohmann::json swin = SwinTransformer(test::swin_fixture_config())->config_json();
  swin["img_size"] = 16;  // 8 x 8 tokens: a quarter of the fixture's work
  at::manual_seed(3);
  t.backbone.model = make_backbone(with_classes(swin, t.data.num_classes()));
  t.backbone.sha256 = backbone_fingerprint(*t.backbone.model);
  t.spec.recipe = "cifar100";
  t.spec.method = {{"name", "sct"}, {"k", 4}};
  std::ostringstream log;
  const TaskRunResult r = run_task(t.spec, t.backbone, t.data, log);
  EXPECT_EQ(r.method.at("scale"), 0.4);
  EXPECT_EQ(r.method.at("scale_on_x"), false);
}

// Re-reading a finished run (compare and suite reuse them) reports what the run measured while it
// trained, not the reading process's own peak RSS and inference time.
TEST(TaskRun, AFinishedRunKeepsTheCostsItMeasuredWhileTraining) {
  TinyRun t;
  t.spec.method = {{"name", "linear"}};
  std::ostringstream log;
  const TaskSummary first = run_task(t.spec, t.backbone, t.data, log).summary;
  const fs::path costs = fs::path(t.spec.out) / "costs.json";
  const nlohmann::json written = nlohmann::json::parse(test::read_file(costs.string()));
  EXPECT_EQ(written.at("peak_rss_mb").get<double>(), first.peak_rss_mb);
  EXPECT_EQ(written.at("infer_ms_per_image").get<double>(), first.infer_ms_per_image);
  EXPECT_GT(first.infer_ms_per_image, 0.0);

  test::write_file(costs.string(), "{\"peak_rss_mb\": 12345.0, \"infer_ms_per_image\": 6.5}");
  t.spec.trainer.resume = true;
  const TaskSummary again = run_task(t.spec, t.backbone, t.data, log).summary;
  EXPECT_EQ(again.peak_rss_mb, 12345.0);
  EXPECT_EQ(again.infer_ms_per_image, 6.5);
  EXPECT_EQ(again.test_acc, first.test_acc);

  test::write_file(costs.string(), "{\"peak_rss_mb\": 1.0}");
  test::expect_error([&] { run_task(t.spec, t.backbone, t.data, log); }, {"costs.json", "infer_ms_per_image"});

  // A run finished by an sct without this record: the reader's figures, never written down as the run's.
  fs::remove(costs);
  run_task(t.spec, t.backbone, t.data, log);
  EXPECT_FALSE(fs::exists(costs));
}

// A name or path JSON cannot hold (not UTF-8) is refused before any work, not after the training.
TEST(TaskRun, NonUtf8NamesAreRefusedUpFront) {
  test::ScratchDir dir;
  const std::string root = dir.file("data\xff");
  write_synthetic_task(draw_synthetic_task("shape-count", 5, /*test_size=*/20), root);
  TaskSource source;
  source.task = "shape-count";
  source.data = root;
  std::ostringstream log;
  const TaskData data(source, log);
  TinyRun t;
  t.spec.method = {{"name", "linear"}};
  test::expect_error([&] { run_task(t.spec, t.backbone, data, log); }, {"not valid UTF-8", "rename it"});
  EXPECT_FALSE(fs::exists(fs::path(t.spec.out) / "train_state.safetensors"));
}

}  // namespace
}  // namespace sct
