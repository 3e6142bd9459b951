#include "sct/data/domain_shift.h"

#include <gtest/gtest.h>

#include "data_test_util.h"

namespace sct {
namespace {

using test::expect_error;
using test::TempDir;
using test::write_bytes;

TEST(ClassSubset, FromLabelsPresent) {
  const std::vector<ImageRecord> r = {{"a", 954, "l:1"}, {"b", 6, "l:2"}, {"c", 954, "l:3"}, {"d", 330, "l:4"}};
  const ClassSubset s = classes_present(r, 1000);
  EXPECT_EQ(s.indices, (std::vector<int64_t>{6, 330, 954}));
  EXPECT_TRUE(s.contains(330));
  EXPECT_FALSE(s.contains(331));
  const at::Tensor m = s.mask();
  ASSERT_EQ(m.numel(), 1000);
  EXPECT_EQ(m.scalar_type(), at::kBool);
  EXPECT_EQ(m.sum().item<int64_t>(), 3);
  EXPECT_TRUE(m[954].item<bool>());
  EXPECT_FALSE(m[0].item<bool>());
  EXPECT_EQ(s.index_tensor()[1].item<int64_t>(), 330);
  expect_error(
      [] {
        classes_present({{"a", 1000, "val_meta.list:9"}}, 1000);
      },
      {"val_meta.list:9", "label 1000 out of range"});
}

TEST(ClassSubset, ReadFromFile) {
  TempDir dir;
  write_bytes(dir.path("a200.txt"), "# ImageNet-A classes\n6, 11 13\n\n954 # last\n");
  const ClassSubset s = read_class_subset(dir.path("a200.txt"), 1000);
  EXPECT_EQ(s.indices, (std::vector<int64_t>{6, 11, 13, 954}));
  write_bytes(dir.path("bad.txt"), "1 2\n3 x4\n");
  expect_error([&] { read_class_subset(dir.path("bad.txt"), 1000); }, {dir.path("bad.txt") + ":2", "'x4'"});
  write_bytes(dir.path("big.txt"), "1000\n");
  expect_error([&] { read_class_subset(dir.path("big.txt"), 1000); }, {":1", "out of range [0, 1000)"});
  write_bytes(dir.path("none.txt"), "# nothing\n");
  expect_error([&] { read_class_subset(dir.path("none.txt"), 1000); }, {"lists no class"});
  EXPECT_EQ(all_classes(1000).indices.size(), 1000u);
}

TEST(DomainShift, ImageNetAIsScoredOnItsClassesAndV2OnAll) {
  TempDir root;
  const std::string list =
      "imagenet-a/n07753592/0.003773_soap dispenser _ soap dispenser_0.28588653.jpg 954\n"
      "imagenet-a/n02325366/0.028535_mushroom _ wheelbarrow_0.53334415.jpg 330\n";
  write_bytes(root.path("imagenet-adversarial/annotations/val_meta.list"), list);
  const DomainShiftTest a = open_domain_shift_test(root.path("imagenet-adversarial"), "imagenet-adversarial");
  EXPECT_EQ(a.name, "imagenet-a");
  ASSERT_EQ(a.images.size(), 2u);
  EXPECT_EQ(
      a.images[0].path,
      root.path("imagenet-adversarial/imagenet-a/n07753592/0.003773_soap dispenser _ soap dispenser_0.28588653.jpg"));
  EXPECT_EQ(a.classes.indices, (std::vector<int64_t>{330, 954}));

  // A given subset file wins, and must contain every label.
  write_bytes(root.path("a.txt"), "1 330 954\n");
  EXPECT_EQ(open_domain_shift_test(root.path("imagenet-adversarial"), "imagenet-a", root.path("a.txt"))
                .classes.indices.size(),
            3u);
  write_bytes(root.path("wrong.txt"), "1 330\n");
  expect_error([&] { open_domain_shift_test(root.path("imagenet-adversarial"), "imagenet-a", root.path("wrong.txt")); },
               {"val_meta.list:1", "954 is not in the class subset"});

  write_bytes(root.path("imagenetv2/annotations/val_meta.list"), "imagenetv2/0/a.jpeg 0\n");
  EXPECT_EQ(open_domain_shift_test(root.path("imagenetv2"), "imagenet-v2").classes.indices.size(), 1000u);
  expect_error([&] { open_domain_shift_test(root.path("imagenetv2"), "imagenet-c"); },
               {"unknown domain-shift test set"});
}

}  // namespace
}  // namespace sct
