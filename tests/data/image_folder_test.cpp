#include "sct/data/image_folder.h"

#include <gtest/gtest.h>

#include "data_test_util.h"

namespace sct {
namespace {

using test::expect_error;
using test::TempDir;
using test::write_bytes;

TEST(ImageFolder, ClassesSortedByNameImagesRecursiveAndFiltered) {
  TempDir root;
  write_bytes(root.path("zebra/b.JPG"), "x");
  write_bytes(root.path("zebra/a.png"), "x");
  write_bytes(root.path("zebra/notes.txt"), "x");
  write_bytes(root.path("Apple/sub/c.jpeg"), "x");
  write_bytes(root.path("mango/d.webp"), "x");
  write_bytes(root.path("stray.jpg"), "x");  // a file at the top level is not a class
  const ImageFolder f = read_image_folder(root.path());
  EXPECT_EQ(f.classes, (std::vector<std::string>{"Apple", "mango", "zebra"}));  // byte order: upper case first
  ASSERT_EQ(f.records.size(), 4u);
  EXPECT_EQ(f.records[0].path, root.path("Apple/sub/c.jpeg"));
  EXPECT_EQ(f.records[0].label, 0);
  EXPECT_EQ(f.records[1].label, 1);
  EXPECT_EQ(f.records[2].path, root.path("zebra/a.png"));
  EXPECT_EQ(f.records[3].path, root.path("zebra/b.JPG"));
  EXPECT_EQ(f.records[3].label, 2);
}

TEST(ImageFolder, Errors) {
  TempDir root;
  expect_error([&] { read_image_folder(root.path("missing")); }, {"not a directory"});
  expect_error([&] { read_image_folder(root.path()); }, {"no class folders"});
  write_bytes(root.path("a/x.png"), "x");
  write_bytes(root.path("b/readme.md"), "x");
  expect_error([&] { read_image_folder(root.path()); }, {root.path("b"), "holds no image"});
}

}  // namespace
}  // namespace sct
