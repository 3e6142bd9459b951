// Method recipes (configs/methods/<model>.json): the shipped files, what an entry sets, bad files.
#include "sct/train/method_recipe.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "sct/core/error.h"
#include "sct/peft/peft_method.h"
#include "test_util.h"

namespace sct {
namespace {

namespace fs = std::filesystem;

TEST(MethodRecipe, ShippedFilesParseAndNameTheirModel) {
  int files = 0;
  for (const auto& entry : fs::directory_iterator(test::config_dir("methods"))) {
    if (entry.path().extension() != ".json") continue;
    ++files;
    for (const std::string& method : peft_method_names()) {
      const auto r = load_method_recipe(entry.path().string(), method);
      if (r) EXPECT_EQ(r->model, entry.path().stem().string()) << entry.path();
    }
  }
  EXPECT_GE(files, 2);
  // ViT-B/16: every comparison method at NOAH's setting (lr 1e-3, wd 1e-4, no augmentation, no label
  // smoothing); sct keeps its per-task recipe (no entry).
  for (const std::string& method : peft_method_names()) {
    if (method == "sct") continue;
    const auto r = find_method_recipe("vit_base_patch16_224", method, {test::config_dir("methods")});
    ASSERT_TRUE(r) << method;
    EXPECT_EQ(*r->lr, 0.001) << method;
    EXPECT_EQ(*r->weight_decay, 0.0001) << method;
    EXPECT_EQ(r->train_aug, false) << method;
    EXPECT_EQ(r->label_smoothing, 0.0) << method;
  }
  // VPT's prompt length per VTAB-1K task, and its search set as the tune axis.
  const auto vpt = find_method_recipe("vit_base_patch16_224", "vpt", {test::config_dir("methods")});
  EXPECT_EQ(vpt->task_method_options.size(), 19u);
  EXPECT_EQ(vpt->task_method_options.at("cifar100").at("length"), 10.0);
  EXPECT_EQ(vpt->task_method_options.at("oxford_flowers102").at("length"), 1.0);
  EXPECT_EQ(vpt->task_method_options.at("smallnorb_ele").at("length"), 200.0);
  EXPECT_EQ(vpt->tune_method_options.at("length"), (std::vector<double>{1, 5, 10, 50, 100, 200}));
  TrainConfig c;
  c.task = "svhn";
  vpt->apply_to(c);
  EXPECT_EQ(c.method_options.at("length"), 50.0);
  EXPECT_FALSE(find_method_recipe("vit_base_patch16_224", "sct", {test::config_dir("methods")}));
  EXPECT_FALSE(find_method_recipe("no_such_model", "lora", {test::config_dir("methods")}));
}

TEST(MethodRecipe, AnEntrySetsOnlyTheFieldsItNames) {
  test::ScratchDir dir;
  const std::string path = dir.file("m.json");
  test::write_file(path, R"({"model": "m", "methods": {"full": {"lr": 0.0005, "tune_lrs": [0.0001, 0.0005]},
                             "bias": {"weight_decay": 0.02, "train_aug": false, "label_smoothing": 0.0}}})");
  TrainConfig c;  // as a task recipe with augmentation and smoothing leaves it
  c.lr = 0.013;
  c.weight_decay = 1.0;
  c.train_aug = true;
  c.label_smoothing = 0.1;
  load_method_recipe(path, "full")->apply_to(c);
  EXPECT_EQ(c.lr, 0.0005);
  EXPECT_EQ(c.weight_decay, 1.0);
  EXPECT_EQ(c.tune_lrs, (std::vector<double>{0.0001, 0.0005}));
  EXPECT_TRUE(c.tune_weight_decays.empty());
  EXPECT_TRUE(c.train_aug);
  EXPECT_EQ(c.label_smoothing, 0.1);
  load_method_recipe(path, "bias")->apply_to(c);
  EXPECT_EQ(c.lr, 0.0005);
  EXPECT_EQ(c.weight_decay, 0.02);
  EXPECT_FALSE(c.train_aug);
  EXPECT_EQ(c.label_smoothing, 0.0);
  EXPECT_FALSE(load_method_recipe(path, "lora"));
}

TEST(MethodRecipe, BadFilesAreNamed) {
  test::ScratchDir dir;
  const auto fails = [&](const std::string& text, const std::string& part) {
    const std::string path = dir.file("bad.json");
    test::write_file(path, text);
    test::expect_error([&] { load_method_recipe(path, "lora"); }, {path, part});
  };
  fails(R"({"model": "m", "methods": {"lora": {"lr": 0.001})", "not valid JSON");
  fails(R"({"model": "m", "methods": {"lroa": {"lr": 0.001}}})", "unknown field 'lroa'");
  fails(R"({"model": "m", "methods": {"lora": {"learning_rate": 0.001}}})", "unknown field 'learning_rate'");
  fails(R"({"model": "m", "methods": {"lora": {"lr": 0}}})", "lr > 0");
  fails(R"({"model": "m", "methods": {"lora": {"tune_lrs": []}}})", "tune_lrs");
  fails(R"({"model": "m", "methods": {"lora": {"lr": "fast"}}})", "");
  fails(R"({"model": "m", "methods": {"lora": {"label_smoothing": 1.0}}})", "label_smoothing in [0, 1)");
  fails(R"({"model": "m", "methods": {"lora": {"train_aug": "no"}}})", "");
  fails(R"({"methods": {}})", "'model'");
  fails(R"({"model": "m", "methods": {"lora": {"task_method_options": {"cifar": {"rank": 4}}}}})",
        "'cifar' is an alias; name the task cifar100");
  test::expect_error([&] { load_method_recipe(dir.file("missing.json"), "lora"); }, {"missing.json"});

  // A file under another model's name is refused.
  fs::create_directories(dir.file("methods"));
  test::write_file(dir.file("methods/vit_x.json"), R"({"model": "vit_y", "methods": {"lora": {"lr": 0.001}}})");
  test::expect_error([&] { find_method_recipe("vit_x", "lora", {dir.file("methods")}); }, {"vit_x.json", "vit_y"});
}

}  // namespace
}  // namespace sct
