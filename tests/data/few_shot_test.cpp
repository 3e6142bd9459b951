#include "sct/data/few_shot.h"

#include <gtest/gtest.h>

#include "data_test_util.h"

namespace sct {
namespace {

using test::expect_error;
using test::TempDir;
using test::write_bytes;

TEST(FewShot, ListPathsFollowNoahsNaming) {
  EXPECT_EQ(few_shot_train_list("/d/oxford-pets", 16, 2),
            "/d/oxford-pets/annotations/train_meta.list.num_shot_16.seed_2");
  EXPECT_EQ(few_shot_val_list("/d/food101"), "/d/food101/annotations/val_meta.list");
  EXPECT_EQ(few_shot_test_list("/d/food101"), "/d/food101/annotations/test_meta.list");
}

TEST(FewShot, ReadsTheThreeListsUnderImages) {
  TempDir root;
  // NOAH's oxford-pets 1-shot list repeats every line: both copies are kept.
  write_bytes(root.path("annotations/train_meta.list.num_shot_1.seed_0"),
              "Abyssinian_185.jpg 0\nAbyssinian_185.jpg 0\namerican_bulldog_107.jpg 1\namerican_bulldog_107.jpg 1\n");
  write_bytes(root.path("annotations/val_meta.list"), "Bengal 1.jpg 5\n");
  write_bytes(root.path("annotations/test_meta.list"), "yorkshire_terrier_153.jpg 36\n");
  const FewShotSplits s = open_few_shot(root.path(), 1, 0, 37);
  ASSERT_EQ(s.train.size(), 4u);
  EXPECT_EQ(s.train[0].path, root.path("images/Abyssinian_185.jpg"));
  EXPECT_EQ(s.train[3].label, 1);
  ASSERT_EQ(s.val.size(), 1u);
  EXPECT_EQ(s.val[0].path, root.path("images/Bengal 1.jpg"));
  EXPECT_EQ(s.test[0].label, 36);
  // Stanford Cars keeps its images at the root.
  EXPECT_EQ(open_few_shot(root.path(), 1, 0, 37, root.path()).test[0].path, root.path("yorkshire_terrier_153.jpg"));
  // Class count enforced; a missing shot/seed combination names the file.
  expect_error([&] { open_few_shot(root.path(), 1, 0, 30); }, {"test_meta.list:1", "out of range [0, 30)"});
  expect_error([&] { open_few_shot(root.path(), 2, 0, 37); }, {"train_meta.list.num_shot_2.seed_0"});
}

}  // namespace
}  // namespace sct
