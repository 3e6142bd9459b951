#include "sct/data/list_file.h"

#include <gtest/gtest.h>

#include "data_test_util.h"

namespace sct {
namespace {

using test::expect_error;
using test::TempDir;
using test::write_bytes;

TEST(ListFile, ReadsVtabLinesRelativeToTheImageRoot) {
  TempDir dir;
  write_bytes(dir.path("train800.txt"), "images/train800/000000.jpg 3\nimages/train800/000001.jpg 0\n");
  const auto r = read_image_list(dir.path("train800.txt"), "/data/vtab/dtd", ListOptions{47});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].path, "/data/vtab/dtd/images/train800/000000.jpg");
  EXPECT_EQ(r[0].label, 3);
  EXPECT_EQ(r[0].origin, dir.path("train800.txt") + ":1");
  EXPECT_EQ(r[1].label, 0);
  EXPECT_EQ(r[1].origin, dir.path("train800.txt") + ":2");
}

TEST(ListFile, SplitsOnTheLastSpaceBecauseNamesContainSpaces) {
  TempDir dir;
  // An ImageNet-A line, a tab separator, Windows line ends, blank lines, and a repeated line (NOAH's
  // oxford-pets 1-shot lists): line numbers count every physical line.
  write_bytes(dir.path("val_meta.list"),
              "imagenet-a/n07753592/0.003773_soap dispenser _ soap dispenser_0.28588653.jpg 954\r\n"
              "\n"
              "a b\tc.png\t7\r\n"
              "Abyssinian_185.jpg 0\n"
              "Abyssinian_185.jpg 0\n"
              "   \n");
  const auto r = read_image_list(dir.path("val_meta.list"), "root", ListOptions{1000});
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].path, "root/imagenet-a/n07753592/0.003773_soap dispenser _ soap dispenser_0.28588653.jpg");
  EXPECT_EQ(r[0].label, 954);
  EXPECT_EQ(r[1].path, "root/a b\tc.png");
  EXPECT_EQ(r[1].label, 7);
  EXPECT_EQ(r[1].origin, dir.path("val_meta.list") + ":3");
  EXPECT_EQ(r[2].path, r[3].path);
  EXPECT_EQ(count_classes(r), 955);
}

TEST(ListFile, MissingListNamesIt) {
  TempDir dir;
  expect_error([&] { read_image_list(dir.path("test.txt"), dir.path()); }, {dir.path("test.txt"), "No such file"});
}

TEST(ListFile, LineWithoutLabelNamesFileAndLine) {
  TempDir dir;
  write_bytes(dir.path("train800.txt"), "images/a.jpg 1\nimages/b.jpg\n");
  expect_error([&] { read_image_list(dir.path("train800.txt"), dir.path()); },
               {dir.path("train800.txt") + ":2", "no label", "images/b.jpg"});
}

TEST(ListFile, NonIntegerLabelNamesFileAndLine) {
  TempDir dir;
  write_bytes(dir.path("val200.txt"), "images/a.jpg 1\nimages/b.jpg 1\nimages/c.jpg cat\n");
  expect_error([&] { read_image_list(dir.path("val200.txt"), dir.path()); },
               {dir.path("val200.txt") + ":3", "'cat' is not an integer"});
  write_bytes(dir.path("val200.txt"), "images/a.jpg 1.5\n");
  expect_error([&] { read_image_list(dir.path("val200.txt"), dir.path()); }, {":1", "'1.5' is not an integer"});
}

TEST(ListFile, LabelOutOfRangeNamesFileAndLine) {
  TempDir dir;
  write_bytes(dir.path("train800.txt"), "images/a.jpg 9\nimages/b.jpg 99\n");
  expect_error([&] { read_image_list(dir.path("train800.txt"), dir.path(), ListOptions{10}); },
               {dir.path("train800.txt") + ":2", "label 99 out of range [0, 10)"});
  write_bytes(dir.path("train800.txt"), "images/a.jpg -1\n");
  expect_error([&] { read_image_list(dir.path("train800.txt"), dir.path()); }, {":1", "label -1 out of range"});
}

TEST(ListFile, EmptySplitIsAnError) {
  TempDir dir;
  write_bytes(dir.path("train800.txt"), "");
  expect_error([&] { read_image_list(dir.path("train800.txt"), dir.path()); },
               {dir.path("train800.txt"), "no entries (empty split)"});
  write_bytes(dir.path("train800.txt"), "\n  \n\r\n");
  expect_error([&] { read_image_list(dir.path("train800.txt"), dir.path()); }, {"empty split"});
}

// CSV: the label after the last comma (paths may hold spaces), a "label" header skipped, a byte-order
// mark dropped; a header elsewhere is a bad label.
TEST(ListFile, CsvListsWithHeaderAndByteOrderMark) {
  TempDir dir;
  write_bytes(dir.path("train.csv"), "\xEF\xBB\xBF" "file,label\nmy cat.jpg, 2\nsub,dir/dog.jpg,0\n");
  ListOptions csv{3};
  csv.separator = ',';
  const auto r = read_image_list(dir.path("train.csv"), "/d", csv);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].path, "/d/my cat.jpg");
  EXPECT_EQ(r[0].label, 2);
  EXPECT_EQ(r[1].path, "/d/sub,dir/dog.jpg");
  EXPECT_EQ(r[1].origin, dir.path("train.csv") + ":3");
  write_bytes(dir.path("train.csv"), "a.jpg,1\nfile,label\n");
  expect_error([&] { read_image_list(dir.path("train.csv"), "/d", csv); }, {"train.csv:2", "'label' is not an integer"});
  // The byte-order mark is not part of the first path of a space-separated list either.
  write_bytes(dir.path("train.txt"), "\xEF\xBB\xBF" "a.jpg 1\n");
  EXPECT_EQ(read_image_list(dir.path("train.txt"), "/d").at(0).path, "/d/a.jpg");
}

// A file with CR-only line ends reads as one long line: the message quotes its start and says why.
TEST(ListFile, CrOnlyLineEndsGiveAShortMessage) {
  TempDir dir;
  std::string text;
  for (int i = 0; i < 300; ++i) text += "images/train800/" + std::to_string(100000 + i) + ".jpg " + std::to_string(i % 7) + "\r";
  write_bytes(dir.path("train800.txt"), text);
  try {
    read_image_list(dir.path("train800.txt"), dir.path());
    FAIL() << "a CR-only list was read";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_LT(msg.size(), 400u) << msg;
    EXPECT_NE(msg.find("train800.txt:1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("CR-only line ends"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace sct
