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
  test::expect_error([&] { TaskData(source, log); }, {"3 classes", "--classes says 4"});
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

// A listed file that is missing (or a folder) stops the run when the data is opened, before any
// training, naming the file and its list line; --skip-bad-images only reports it; --no-check-data
// leaves it to the decoder.
TEST(TaskData, MissingFilesAreFoundAtTheStart) {
  test::ScratchDir dir;
  const fs::path root = dir.file("ds");
  write_images(root / "img", 3, 0);
  fs::create_directories(root / "img" / "folder.png");
  test::write_file((root / "train.txt").string(), "img/0.png 0\nimg/1.png 1\n");
  test::write_file((root / "val.txt").string(), "img/2.png 0\n");
  test::write_file((root / "test.txt").string(), "img/2.png 0\nimg/gone.png 1\nimg/folder.png 1\n");
  TaskSource source;
  source.data = root.string();
  std::ostringstream log;
  test::expect_error([&] { TaskData(source, log); },
                     {"2 files of " + root.string(), "img/gone.png (listed at ", "test.txt:2): no such file",
                      "test.txt:3): not a readable regular file", "--no-check-data"});
  source.skip_bad_images = true;
  EXPECT_NO_THROW(TaskData(source, log));
  EXPECT_NE(log.str().find("2 listed files"), std::string::npos) << log.str();
  source.skip_bad_images = false;
  source.check_data = false;
  EXPECT_NO_THROW(TaskData(source, log));
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

// List files beside their images: "path label" (.txt, .list) or CSV "path,label" with a header; class
// names from classes.txt; other split names by TaskSource::lists.
TEST(TaskData, ListFilesWithClassNamesAndMappedSplitNames) {
  test::ScratchDir dir;
  const fs::path root = dir.file("birds");
  write_images(root / "img", 6, 0);
  // A byte-order mark and Windows line ends, as spreadsheets write them; a space inside a path.
  test::write_file((root / "training.csv").string(), "\xEF\xBB\xBFpath,label\r\nimg/0.png,0\r\nimg/1.png,1\r\nimg/2.png,2\r\n");
  test::write_file((root / "holdout.txt").string(), "img/3.png 1\n");
  test::write_file((root / "exam.list").string(), "img/4.png 2\nimg/5.png 0\n");
  test::write_file((root / "classes.txt").string(), "\xEF\xBB\xBFrobin\nwren\nsparrow\n\n");
  TaskSource source;
  source.data = root.string();
  source.lists = {"training", "holdout", "exam"};
  std::ostringstream log;
  const TaskData d(source, log);
  EXPECT_EQ(d.name(), "birds");
  EXPECT_EQ(d.class_names(), (std::vector<std::string>{"robin", "wren", "sparrow"}));
  EXPECT_EQ(labels_of(d, VtabSplit::Train800), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(labels_of(d, VtabSplit::Val200), (std::vector<int64_t>{1}));
  EXPECT_EQ(labels_of(d, VtabSplit::Test), (std::vector<int64_t>{2, 0}));
  EXPECT_NE(log.str().find("list files"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("3 classes, 3 train, 1 val, 2 test images"), std::string::npos) << log.str();
  // The run record's origin does not depend on how the folder was spelled.
  TaskSource slashed = source;
  slashed.data = root.string() + "/./";
  EXPECT_EQ(TaskData(slashed, log).origin(), d.origin());
  EXPECT_EQ(d.origin().front(), '/');

  // A label beyond classes.txt names the line; without classes.txt classes are numbered.
  test::write_file((root / "exam.list").string(), "img/4.png 3\n");
  test::expect_error([&] { TaskData(source, log); }, {"exam.list:1", "out of range [0, 3)"});
  fs::remove(root / "classes.txt");
  test::write_file((root / "exam.list").string(), "img/4.png 2\n");
  EXPECT_EQ(TaskData(source, log).class_names(), (std::vector<std::string>{"0", "1", "2"}));
  // A class scored in test but never trained on is named.
  test::write_file((root / "exam.list").string(), "img/4.png 2\nimg/5.png 4\n");
  test::expect_error([&] { TaskData(source, log); }, {"exam.list:2", "class 4", "no training image"});
}

// Files outside the data root are refused unless allowed: "../", absolute paths, symlinks.
TEST(TaskData, FilesOutsideTheRootAreRefusedUnlessAllowed) {
  test::ScratchDir dir;
  write_images(dir.file("elsewhere"), 4, 0);
  const fs::path root = dir.file("ds");
  write_images(root / "img", 2, 0);
  test::write_file((root / "test.txt").string(), "img/1.png 0\n");
  TaskSource source;
  source.data = root.string();
  std::ostringstream log;
  for (const std::string& entry : {std::string("../elsewhere/0.png"), dir.file("elsewhere/0.png")}) {
    test::write_file((root / "train.txt").string(), "img/0.png 0\n" + entry + " 0\n");
    test::expect_error([&] { TaskData(source, log); }, {"train.txt:2", "outside the data root", "--allow-outside-root"});
  }
  source.allow_outside_root = true;
  EXPECT_EQ(labels_of(TaskData(source, log), VtabSplit::Train800).size(), 2u);

  // A symlinked class folder that leaves the root, in an image-folder tree.
  const fs::path tree = dir.file("tree");
  write_images(tree / "a", 2, 0);
  fs::create_directory_symlink(dir.file("elsewhere"), tree / "b");
  source = TaskSource{};
  source.data = tree.string();
  source.split = {0.5, 0.0, 0.5};
  test::expect_error([&] { TaskData(source, log); }, {"outside the data root"});
  // A symlink inside the root is fine.
  fs::remove(tree / "b");
  write_images(tree / "real_b", 2, 50);
  fs::create_directory_symlink(tree / "real_b", tree / "b");
  EXPECT_EQ(TaskData(source, log).num_classes(), 3);
}

// Duplicates across splits are warned about; files without an image extension are counted.
TEST(TaskData, DuplicatesAcrossSplitsWarnAndNonImagesAreCounted) {
  test::ScratchDir dir;
  const fs::path root = dir.file("ds");
  write_images(root / "train" / "a", 3, 0);
  write_images(root / "train" / "b", 3, 100);
  test::write_file((root / "train" / "a" / "notes.txt").string(), "hello");
  test::write_file((root / "train" / "b" / "Thumbs.db").string(), "x");
  fs::create_directories(root / "test" / "a");
  fs::copy_file(root / "train" / "a" / "0.png", root / "test" / "a" / "0.png");
  TaskSource source;
  source.data = root.string();
  std::ostringstream log;
  const TaskData d(source, log);
  EXPECT_NE(log.str().find("2 non-image files ignored"), std::string::npos) << log.str();
  EXPECT_EQ(log.str().find("also training files"), std::string::npos) << log.str();  // a copy, not the same file

  const fs::path lists = dir.file("lists");
  write_images(lists / "img", 3, 0);
  test::write_file((lists / "train.txt").string(), "img/0.png 0\nimg/1.png 1\n");
  test::write_file((lists / "test.txt").string(), "img/./1.png 1\nimg/2.png 0\n");
  source.data = lists.string();
  log.str("");
  const TaskData dup(source, log);
  EXPECT_NE(log.str().find("warning: 1 test files are also training files"), std::string::npos) << log.str();
}

// --shots: K images per class drawn from train by the seed; NOAH's few-shot roots list their own.
TEST(TaskData, ShotsDrawKPerClassOrReadNoahsLists) {
  test::ScratchDir dir;
  const fs::path root = dir.file("ds");
  for (const auto& [cls, level] : {std::pair{"a", 0}, std::pair{"b", 100}}) {
    write_images(root / "train" / cls, 6, level);
    write_images(root / "val" / cls, 1, level);
    write_images(root / "test" / cls, 2, level);
  }
  TaskSource source;
  source.data = root.string();
  source.shots = 2;
  std::ostringstream log;
  const TaskData d(source, log);
  EXPECT_EQ(labels_of(d, VtabSplit::Train800), (std::vector<int64_t>{0, 0, 1, 1}));
  EXPECT_EQ(labels_of(d, VtabSplit::Train800Val200), (std::vector<int64_t>{0, 0, 1, 1}));
  EXPECT_EQ(labels_of(d, VtabSplit::Val200).size(), 2u);  // val and test stay whole
  EXPECT_EQ(labels_of(d, VtabSplit::Test).size(), 4u);
  // Pixel sums identify the drawn images: the same seed draws the same, another seed others.
  const auto drawn = [&](int64_t seed) {
    TaskSource s = source;
    s.shot_seed = seed;
    const auto c = TaskData(s, log).cache(VtabSplit::Train800, 8);
    std::vector<double> sums;
    for (int64_t i = 0; i < c->num_images(); ++i) sums.push_back(c->normalized(Normalization::imagenet(), i, 1).sum().item<double>());
    return sums;
  };
  EXPECT_EQ(drawn(0), drawn(0));
  bool differs = false;
  for (int64_t seed = 1; seed < 6 && !differs; ++seed) differs = drawn(seed) != drawn(0);
  EXPECT_TRUE(differs);
  source.shots = 7;
  test::expect_error([&] { TaskData(source, log); }, {"class a has 6 training images", "--shots 7"});

  // NOAH's layout: the list named by shots and seed, images under images/; no --shots is an error.
  const fs::path noah = dir.file("oxford_pets");
  write_images(noah / "images", 4, 0);
  fs::create_directories(noah / "annotations");
  test::write_file((noah / "annotations/train_meta.list.num_shot_1.seed_2").string(), "0.png 0\n0.png 0\n1.png 36\n1.png 36\n");
  test::write_file((noah / "annotations/val_meta.list").string(), "2.png 0\n");
  test::write_file((noah / "annotations/test_meta.list").string(), "3.png 36\n");
  TaskSource fs_source;
  fs_source.data = noah.string();
  test::expect_error([&] { TaskData(fs_source, log); }, {"few-shot lists", "--shots"});
  fs_source.shots = 1;
  fs_source.shot_seed = 2;
  const TaskData pets(fs_source, log);
  EXPECT_EQ(pets.name(), "oxford-pets");
  EXPECT_EQ(pets.num_classes(), 37);
  EXPECT_EQ(labels_of(pets, VtabSplit::Train800Val200), (std::vector<int64_t>{0, 0, 36, 36}));  // repeats kept
  EXPECT_EQ(labels_of(pets, VtabSplit::Test), (std::vector<int64_t>{36}));
}

// The built-in fashion-mnist: all of Debian's Fashion-MNIST, and its K-shot draws.
TEST(TaskData, BuiltInFashionMnistAndItsShots) {
  TaskSource source;
  source.task = "fashion-mnist";
  source.shots = 3;
  source.shot_seed = 1;
  std::ostringstream log;
  const TaskData d(source, log);
  const std::vector<int64_t> train = labels_of(d, VtabSplit::Train800);
  ASSERT_EQ(train.size(), 30u);
  for (int64_t c = 0; c < 10; ++c) EXPECT_EQ(count_label(train, c), 3);
  EXPECT_EQ(d.cache(VtabSplit::Val200, 8)->num_images(), 10000);
  EXPECT_EQ(d.cache(VtabSplit::Test, 8)->num_images(), 10000);
  EXPECT_EQ(d.class_names().at(9), "Ankle boot");
}

}  // namespace
}  // namespace sct
