// The shipped VTAB-1K recipes (configs/vtab1k) against the reference table.
#include "sct/train/recipe.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "sct/core/error.h"
#include "test_util.h"

namespace sct {
namespace {

namespace fs = std::filesystem;

TEST(Recipe, LiteralExpectations) {
  const VtabRecipe c = load_recipe("cifar100", {test::config_dir("vtab1k")});
  EXPECT_EQ(c.task, "cifar100");
  EXPECT_EQ(c.group, "natural");
  EXPECT_EQ(c.classes, 100);
  EXPECT_EQ(c.lr, 0.013);
  EXPECT_EQ(c.weight_decay, 1.0);
  EXPECT_EQ(c.label_smoothing, 0.1);
  EXPECT_FALSE(c.train_aug);
  EXPECT_EQ(c.scale, 0.4);
  EXPECT_FALSE(c.scale_on_x);
  EXPECT_EQ(c.reported_top1, 75.3);

  const VtabRecipe e = load_recipe("smallnorb_ele", {test::config_dir("vtab1k")});
  EXPECT_EQ(e.classes, 9);  // not the reference config's 18
  EXPECT_EQ(e.lr, 0.0011);
  EXPECT_EQ(e.weight_decay, 0.0005);
  EXPECT_EQ(e.label_smoothing, 0.0);
  EXPECT_TRUE(e.scale_on_x);

  const VtabRecipe k = load_recipe("kitti", {test::config_dir("vtab1k")});
  EXPECT_EQ(k.group, "structured");
  EXPECT_EQ(k.label_smoothing, 0.1);  // the one structured task with smoothing
  EXPECT_TRUE(k.train_aug);
  EXPECT_EQ(k.weight_decay, 0.0001);
}

TEST(Recipe, AliasesAndPathsResolve) {
  EXPECT_EQ(load_recipe("cifar", {test::config_dir("vtab1k")}).task, "cifar100");
  EXPECT_EQ(load_recipe("oxford_pet", {test::config_dir("vtab1k")}).task, "oxford_iiit_pet");
  EXPECT_EQ(load_recipe(test::config_dir("vtab1k") + "/dtd.json").lr, 0.0032);
  EXPECT_THROW(load_recipe("imagenet", {test::config_dir("vtab1k")}), Error);
  try {
    load_recipe("dtd", {"/nonexistent/a", "/nonexistent/b"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/b/dtd.json"), std::string::npos) << e.what();
  }
}

TEST(Recipe, AppliesToTheTrainConfig) {
  TrainConfig c;
  load_recipe("svhn", {test::config_dir("vtab1k")}).apply_to(c);
  EXPECT_EQ(c.task, "svhn");
  EXPECT_EQ(c.lr, 0.075);
  EXPECT_EQ(c.weight_decay, 0.03);
  EXPECT_EQ(c.label_smoothing, 0.1);
  EXPECT_TRUE(c.train_aug);
  EXPECT_EQ(c.epochs, 100);  // untouched
}

TEST(Recipe, MalformedFilesAreErrors) {
  test::ScratchDir dir;
  const auto write = [&](const std::string& text) {
    std::ofstream(dir.file("bad.json")) << text;
    return dir.file("bad.json");
  };
  EXPECT_THROW(load_recipe(write("{")), Error);
  EXPECT_THROW(load_recipe(write(R"({"task": "dtd"})")), Error);  // fields missing
  std::ifstream in(test::config_dir("vtab1k") + "/dtd.json");
  std::stringstream good;
  good << in.rdbuf();
  std::string extra = good.str();
  extra.insert(extra.find('{') + 1, "\"epochs\": 5,");
  EXPECT_THROW(load_recipe(write(extra)), Error);  // unknown field
}

// Every row of the reference table is shipped and equal. The table lives outside the repository
// (shared/reference/vtab1k.tsv); without it only the literal expectations above run.
TEST(Recipe, EveryReferenceRowIsShippedAndMatches) {
  const fs::path tsv = fs::path(SCT_FIXTURE_DIR) / ".." / ".." / ".." / "shared" / "reference" / "vtab1k.tsv";
  if (!fs::exists(tsv)) GTEST_SKIP() << tsv << " not found";
  std::ifstream in(tsv);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(
      line,
      "task\taliases\tgroup\tclasses\tsct_lr\tsct_wd\ttrain_aug\tlabel_smoothing\tscale\tscaleonx\tsct_reported_top1");
  int rows = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string cell; std::getline(ss, cell, '\t');) f.push_back(cell);
    ASSERT_EQ(f.size(), 11u) << line;
    const VtabRecipe r = load_recipe(f[0], {test::config_dir("vtab1k")});
    EXPECT_EQ(r.task, f[0]);
    EXPECT_EQ(r.group, f[2]) << f[0];
    EXPECT_EQ(r.classes, std::stoll(f[3])) << f[0];
    EXPECT_EQ(r.lr, std::stod(f[4])) << f[0];
    EXPECT_EQ(r.weight_decay, std::stod(f[5])) << f[0];
    EXPECT_EQ(r.train_aug, f[6] == "1") << f[0];
    EXPECT_EQ(r.label_smoothing, std::stod(f[7])) << f[0];
    EXPECT_EQ(r.scale, std::stod(f[8])) << f[0];
    EXPECT_EQ(r.scale_on_x, f[9] == "1") << f[0];
    EXPECT_EQ(r.reported_top1, std::stod(f[10])) << f[0];
    if (!f[1].empty()) {
      EXPECT_EQ(load_recipe(f[1], {test::config_dir("vtab1k")}).task, f[0]);
    }
    ++rows;
  }
  EXPECT_EQ(rows, 19);
  int files = 0;
  for (const auto& entry : fs::directory_iterator(test::config_dir("vtab1k"))) files += entry.path().extension() == ".json";
  EXPECT_EQ(files, rows);  // nothing shipped that the table does not have
}

}  // namespace
}  // namespace sct
