#include "sct/data/vtab_task.h"

#include <gtest/gtest.h>

#include <map>

#include "data_test_util.h"

namespace sct {
namespace {

using test::expect_error;
using test::TempDir;
using test::write_bytes;

// Class counts of shared/reference/vtab1k.tsv, copied by hand.
TEST(VtabTask, RegistryHasTheNineteenTasksWithTheirClassCounts) {
  const std::map<std::string, int64_t> expected = {{"cifar100", 100},
                                                   {"caltech101", 102},
                                                   {"dtd", 47},
                                                   {"oxford_flowers102", 102},
                                                   {"oxford_iiit_pet", 37},
                                                   {"svhn", 10},
                                                   {"sun397", 397},
                                                   {"patch_camelyon", 2},
                                                   {"eurosat", 10},
                                                   {"resisc45", 45},
                                                   {"diabetic_retinopathy", 5},
                                                   {"clevr_count", 8},
                                                   {"clevr_dist", 6},
                                                   {"dmlab", 6},
                                                   {"kitti", 4},
                                                   {"dsprites_loc", 16},
                                                   {"dsprites_ori", 16},
                                                   {"smallnorb_azi", 18},
                                                   {"smallnorb_ele", 9}};
  std::map<std::string, int> groups;
  int64_t vtab = 0;
  for (const auto& t : vtab_task_registry()) {
    ++groups[t.group];
    if (t.group == "builtin") continue;
    ASSERT_TRUE(expected.count(t.name)) << t.name;
    EXPECT_EQ(t.num_classes, expected.at(t.name)) << t.name;
    ++vtab;
  }
  EXPECT_EQ(vtab, 19);
  EXPECT_EQ(groups["natural"], 7);
  EXPECT_EQ(groups["specialized"], 4);
  EXPECT_EQ(groups["structured"], 8);
  EXPECT_EQ(find_vtab_task("smallnorb_ele").num_classes, 9);  // the reference configures 18
  EXPECT_EQ(find_vtab_task("fashion-mnist-1k").num_classes, 10);
  EXPECT_EQ(find_vtab_task("cifar").name, "cifar100");
  EXPECT_EQ(find_vtab_task("oxford_pet").name, "oxford_iiit_pet");
  expect_error([] { find_vtab_task("imagenet"); }, {"unknown VTAB-1K task 'imagenet'", "smallnorb_ele"});
}

TEST(VtabTask, SplitNamesRoundTrip) {
  for (VtabSplit s : {VtabSplit::Train800, VtabSplit::Val200, VtabSplit::Train800Val200, VtabSplit::Test})
    EXPECT_EQ(parse_vtab_split(vtab_split_name(s)), s);
  expect_error([] { parse_vtab_split("train"); }, {"unknown VTAB-1K split 'train'"});
}

TEST(VtabTask, AliasFoldersAreFoundUnderEitherName) {
  TempDir root;
  test::fs::create_directories(root.path("cifar"));
  test::fs::create_directories(root.path("oxford_iiit_pet"));
  for (const std::string name : {"cifar100", "cifar"}) {
    const VtabTask t = open_vtab_task(root.path(), name);
    EXPECT_EQ(t.name, "cifar100");
    EXPECT_EQ(t.dir, root.path("cifar"));
    EXPECT_EQ(t.num_classes, 100);
  }
  EXPECT_EQ(open_vtab_task(root.path(), "oxford_pet").dir, root.path("oxford_iiit_pet"));
  EXPECT_EQ(open_vtab_task(root.path(), "oxford_pet").num_classes, 37);
}

TEST(VtabTask, CanonicalFolderWinsWhenBothExist) {
  TempDir root;
  test::fs::create_directories(root.path("cifar"));
  test::fs::create_directories(root.path("cifar100"));
  EXPECT_EQ(open_vtab_task(root.path(), "cifar").dir, root.path("cifar100"));
}

TEST(VtabTask, MissingFolderListsWhatWasLookedFor) {
  TempDir root;
  expect_error([&] { open_vtab_task(root.path(), "cifar100"); },
               {"no folder for VTAB-1K task 'cifar100'", root.path("cifar100"), root.path("cifar")});
}

TEST(VtabTask, ReadsSplitsWithTheTaskClassCount) {
  TempDir root;
  write_bytes(root.path("svhn/train800.txt"), "images/train800/000000.jpg 9\nimages/train800/000001.jpg 0\n");
  write_bytes(root.path("svhn/test.txt"), "images/test/000000.jpg 3\nimages/test/000001.jpg 99\n");
  const VtabTask t = open_vtab_task(root.path(), "svhn");
  EXPECT_EQ(t.list_path(VtabSplit::Test), root.path("svhn/test.txt"));
  const auto train = t.read_split(VtabSplit::Train800);
  ASSERT_EQ(train.size(), 2u);
  EXPECT_EQ(train[0].path, root.path("svhn/images/train800/000000.jpg"));
  EXPECT_EQ(train[0].label, 9);
  expect_error([&] { t.read_split(VtabSplit::Test); },
               {root.path("svhn/test.txt") + ":2", "label 99 out of range [0, 10)"});
  expect_error([&] { t.read_split(VtabSplit::Val200); }, {root.path("svhn/val200.txt")});
}

TEST(VtabTask, EmptyTrain800IsAnError) {
  TempDir root;
  write_bytes(root.path("dtd/train800.txt"), "");
  const VtabTask t = open_vtab_task(root.path(), "dtd");
  expect_error([&] { t.read_split(VtabSplit::Train800); }, {root.path("dtd/train800.txt"), "empty split"});
}

TEST(VtabTask, ClassCountOverride) {
  TempDir root;
  write_bytes(root.path("kitti/train800.txt"), "a.jpg 5\n");
  EXPECT_EQ(open_vtab_task(root.path(), "kitti", 6).num_classes, 6);
  EXPECT_EQ(open_vtab_task(root.path(), "kitti", 6).read_split(VtabSplit::Train800)[0].label, 5);
  expect_error([&] { open_vtab_task(root.path(), "kitti").read_split(VtabSplit::Train800); }, {"out of range [0, 4)"});
  // A task outside the registry opens only with an explicit class count.
  test::fs::create_directories(root.path("my_task"));
  expect_error([&] { open_vtab_task(root.path(), "my_task"); }, {"unknown VTAB-1K task 'my_task'"});
  const VtabTask custom = open_vtab_task(root.path(), "my_task", 3);
  EXPECT_EQ(custom.name, "my_task");
  EXPECT_EQ(custom.num_classes, 3);
  expect_error([&] { open_vtab_task(root.path(), "kitti", -2); }, {"must be positive"});
}

}  // namespace
}  // namespace sct
