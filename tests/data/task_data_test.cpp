// TaskData (data/task_data.h): the layouts it detects from --data, the splits and class names it
// derives, and the bad folders it names.
#include "sct/data/task_data.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <set>
#include <sstream>

#include "sct/core/error.h"
#include "test_util.h"

namespace sct {
namespace {

namespace fs = std::filesystem;

// `count` 8x8 PNGs of one grey level each in `dir`, named 0.png, 1.png, ...
void write_images(const fs::path& dir, int count, int level) {
  fs::create_directories(dir);
  for (int i = 0; i < count; ++i)
    cv::imwrite((dir / (std::to_string(i) + ".png")).string(), cv::Mat(8, 8, CV_8UC3, cv::Scalar::all(level + i)));
}

int64_t count_label(const std::vector<int64_t>& labels, int64_t label) {
  return std::count(labels.begin(), labels.end(), label);
}

std::vector<int64_t> labels_of(const TaskData& d, VtabSplit split) {
  const auto cache = d.cache(split, 8);
  std::vector<int64_t> out;
  for (int64_t i = 0; i < cache->num_images(); ++i) out.push_back(cache->label_tensor(i, 1).item<int64_t>());
  return out;
}

TEST(TaskData, SplitFoldersGiveTrainValTestAndTrainsClassNames) {
  test::ScratchDir dir;
  const fs::path root = dir.file("pets");
  for (const auto& [cls, level] : {std::pair{"dog", 10}, std::pair{"cat", 100}, std::pair{"bird", 200}}) {
    write_images(root / "train" / cls, 4, level);
    write_images(root / "test" / cls, 2, level);
  }
  write_images(root / "val" / "cat", 3, 100);  // val may lack classes
  TaskSource source;
  source.data = root.string();
  std::ostringstream log;
  const TaskData d(source, log);
  EXPECT_EQ(d.name(), "pets");
  EXPECT_EQ(d.class_names(), (std::vector<std::string>{"bird", "cat", "dog"}));  // sorted folder names
  EXPECT_NE(log.str().find("3 classes, 12 train, 3 val, 6 test images"), std::string::npos) << log.str();
  EXPECT_EQ(labels_of(d, VtabSplit::Train800).size(), 12u);
  const std::vector<int64_t> val = labels_of(d, VtabSplit::Val200);
  EXPECT_EQ(val, (std::vector<int64_t>{1, 1, 1}));  // "cat" is class 1, as in train
  EXPECT_EQ(labels_of(d, VtabSplit::Train800Val200).size(), 15u);
  EXPECT_EQ(count_label(labels_of(d, VtabSplit::Test), 2), 2);

  source.num_classes = 4;
  test::expect_error([&] { TaskData(source, log); }, {"3 class folders", "--classes says 4"});
  source.num_classes = 0;
  write_images(root / "test" / "fish", 1, 50);
  test::expect_error([&] { TaskData(source, log); }, {"fish", "a class only in test"});
}

TEST(TaskData, ClassFoldersAreSplitPerClassBySeededFractions) {
  test::ScratchDir dir;
  const fs::path root = dir.file("shapes");
  write_images(root / "a", 10, 0);
  write_images(root / "b", 20, 100);
  TaskSource source;
  source.data = root.string();
  std::ostringstream log;
  const TaskData d(source, log);
  EXPECT_EQ(d.class_names(), (std::vector<std::string>{"a", "b"}));
  // 0.8 / 0.1 / 0.1 of each class: a 8/1/1, b 16/2/2.
  const auto train = labels_of(d, VtabSplit::Train800), val = labels_of(d, VtabSplit::Val200),
             test = labels_of(d, VtabSplit::Test);
  EXPECT_EQ(count_label(train, 0), 8);
  EXPECT_EQ(count_label(train, 1), 16);
  EXPECT_EQ(count_label(val, 1), 2);
  EXPECT_EQ(count_label(test, 0), 1);
  EXPECT_EQ(labels_of(d, VtabSplit::Train800Val200).size(), 27u);

  // The same seed gives the same split; another seed another one; the splits never share an image.
  const auto paths = [](const TaskData& t, VtabSplit s) {
    std::set<std::vector<float>> out;
    const auto c = t.cache(s, 8);
    for (int64_t i = 0; i < c->num_images(); ++i) {
      const at::Tensor x = c->normalized(Normalization::imagenet(), i, 1).contiguous();
      out.insert(std::vector<float>(x.data_ptr<float>(), x.data_ptr<float>() + 3));
    }
    return out;
  };
  EXPECT_EQ(paths(TaskData(source, log), VtabSplit::Test), paths(d, VtabSplit::Test));
  for (const auto& p : paths(d, VtabSplit::Test)) EXPECT_FALSE(paths(d, VtabSplit::Train800).count(p));
  source.split_seed = 7;
  EXPECT_NE(paths(TaskData(source, log), VtabSplit::Test), paths(d, VtabSplit::Test));

  source.split = {0.5, 0.5, 0.5};
  test::expect_error([&] { TaskData(source, log); }, {"sum to 1"});
  source.split = {0.1, 0.45, 0.45};
  test::expect_error([&] { TaskData(source, log); }, {"too few to keep one for training"});
}

// An unreadable image stops the run, naming it, unless --skip-bad-images: then it is left out and counted.
TEST(TaskData, BadImagesStopTheRunOrAreLeftOutAndCounted) {
  test::ScratchDir dir;
  const fs::path root = dir.file("ds");
  write_images(root / "train" / "a", 3, 0);
  write_images(root / "test" / "a", 2, 0);
  test::write_file((root / "train" / "a" / "broken.png").string(), "not a png");
  test::write_file((root / "test" / "a" / "cut.png").string(), "\x89PNG\r\n");
  TaskSource source;
  source.data = root.string();
  std::ostringstream log;
  const TaskData strict(source, log);
  test::expect_error([&] { strict.cache(VtabSplit::Train800, 8); }, {"broken.png"});
  source.skip_bad_images = true;
  const TaskData lenient(source, log);
  EXPECT_EQ(lenient.cache(VtabSplit::Train800, 8)->num_images(), 3);
  EXPECT_NE(log.str().find("left out 1 unreadable images of train800"), std::string::npos) << log.str();
  EXPECT_EQ(lenient.skipped_images(), 1);
  const auto test_split = lenient.eval_source(VtabSplit::Test, 8, Normalization::imagenet(), 4);
  int64_t seen = 0;
  test_split->for_each_batch([&](const Batch& b) { seen += b.labels.size(0); });
  EXPECT_EQ(seen, 2);
  EXPECT_EQ(lenient.skipped_images(), 2);
}

TEST(TaskData, BadFoldersAreNamed) {
  test::ScratchDir dir;
  std::ostringstream log;
  TaskSource source;
  source.data = dir.file("none");
  test::expect_error([&] { TaskData(source, log); }, {"none", "is not a folder"});
  fs::create_directories(dir.file("empty/cls"));
  source.data = dir.file("empty");
  test::expect_error([&] { TaskData(source, log); }, {"holds no image file"});
  // A VTAB root without --task is not taken for class folders.
  write_images(dir.file("vtab/dtd/images"), 1, 0);
  test::write_file(dir.file("vtab/dtd/train800val200.txt"), "images/0.png 0\n");
  source.data = dir.file("vtab");
  test::expect_error([&] { TaskData(source, log); }, {"VTAB-1K root", "--task"});
  // Splits the data does not have are named when asked for.
  write_images(dir.file("flat/train/x"), 2, 0);
  source.data = dir.file("flat");
  const TaskData d(source, log);
  test::expect_error([&] { d.cache(VtabSplit::Test, 8); }, {"no test images"});
  TaskSource nothing;
  test::expect_error([&] { TaskData(nothing, log); }, {"no task given"});
}

}  // namespace
}  // namespace sct
