#include "sct/data/fashion_mnist_1k.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "data_test_util.h"
#include "sct/data/idx_file.h"
#include "sct/data/image_cache.h"

namespace sct {
namespace {

using test::expect_error;
using test::TempDir;

bool have_fashion_mnist() {
  return std::filesystem::exists(std::string(kDebianFashionMnistDir) + "/train-images-idx3-ubyte.gz");
}

// Loading decompresses 30 MB: once for the whole suite.
class FashionMnist1kTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!have_fashion_mnist()) return;
    task_ = new FashionMnist1k(load_fashion_mnist_1k());
  }
  static void TearDownTestSuite() {
    delete task_;
    task_ = nullptr;
  }
  void SetUp() override {
    if (task_ == nullptr) GTEST_SKIP() << "package fashion-mnist not installed";
  }
  static const FashionMnist1k& task() { return *task_; }

 private:
  static FashionMnist1k* task_;
};

FashionMnist1k* FashionMnist1kTest::task_ = nullptr;

using test::same_pixels;

TEST_F(FashionMnist1kTest, SplitsAreClassBalancedAndDisjoint) {
  const FashionMnist1k& t = task();
  ASSERT_EQ(t.train800.images.size(), 800u);
  ASSERT_EQ(t.val200.images.size(), 200u);
  ASSERT_EQ(t.train800val200.images.size(), 1000u);
  ASSERT_EQ(t.test.images.size(), 10000u);
  std::map<int64_t, int> train_count, val_count;
  for (int64_t l : t.train800.labels) ++train_count[l];
  for (int64_t l : t.val200.labels) ++val_count[l];
  for (int c = 0; c < 10; ++c) {
    EXPECT_EQ(train_count[c], 80) << c;
    EXPECT_EQ(val_count[c], 20) << c;
  }
  const std::set<int64_t> sources(t.train800val200_source.begin(), t.train800val200_source.end());
  EXPECT_EQ(sources.size(), 1000u);  // no training image drawn twice: train800 and val200 are disjoint
  // train800val200 = train800 then val200.
  for (size_t i = 0; i < 1000; ++i) {
    const ImageSet& part = i < 800 ? t.train800 : t.val200;
    const size_t j = i < 800 ? i : i - 800;
    ASSERT_TRUE(same_pixels(t.train800val200.images[i], part.images[j]));
    ASSERT_EQ(t.train800val200.labels[i], part.labels[j]);
  }
  // The lists are shuffled, not class-sorted.
  EXPECT_NE(std::vector<int64_t>(t.train800.labels.begin(), t.train800.labels.begin() + 80),
            std::vector<int64_t>(80, t.train800.labels[0]));
}

TEST_F(FashionMnist1kTest, ImagesAreTheSourcePixelsReplicatedToRgb) {
  const FashionMnist1k& t = task();
  const IdxArray images = read_idx_file(std::string(kDebianFashionMnistDir) + "/train-images-idx3-ubyte.gz");
  const IdxArray labels = read_idx_file(std::string(kDebianFashionMnistDir) + "/train-labels-idx1-ubyte.gz");
  for (size_t i = 0; i < 1000; i += 37) {
    const int64_t src = t.train800val200_source[i];
    const cv::Mat& img = t.train800val200.images[i];
    ASSERT_EQ(img.type(), CV_8UC3);
    ASSERT_EQ(img.rows, 28);
    EXPECT_EQ(t.train800val200.labels[i], labels.data[src]);
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x)
        for (int c = 0; c < 3; ++c) ASSERT_EQ(img.at<cv::Vec3b>(y, x)[c], images.data[src * 784 + y * 28 + x]);
  }
  // The test split is the official test set in file order (labels checked against numpy).
  EXPECT_EQ(std::vector<int64_t>(t.test.labels.begin(), t.test.labels.begin() + 10),
            (std::vector<int64_t>{9, 2, 1, 1, 6, 1, 4, 6, 5, 7}));
  EXPECT_EQ(fashion_mnist_class_names()[9], "Ankle boot");
  EXPECT_EQ(fashion_mnist_class_names()[0], "T-shirt/top");
}

TEST_F(FashionMnist1kTest, TheSeedFixesTheDraw) {
  const FashionMnist1k again = load_fashion_mnist_1k();
  EXPECT_EQ(again.train800val200_source, task().train800val200_source);
  const FashionMnist1k other = load_fashion_mnist_1k(kDebianFashionMnistDir, 7);
  EXPECT_NE(other.train800val200_source, task().train800val200_source);
}

// The on-disk task, read through the generic VTAB-1K loader, gives the same pixels as the in-memory one.
TEST_F(FashionMnist1kTest, MaterialisedTaskReadsBackIdentically) {
  TempDir root;
  const std::string dir = write_fashion_mnist_1k(task(), root.path());
  EXPECT_EQ(dir, root.path("fashion-mnist-1k"));
  const VtabTask vt = open_vtab_task(root.path(), "fashion-mnist-1k");
  EXPECT_EQ(vt.num_classes, 10);
  for (VtabSplit s : {VtabSplit::Train800, VtabSplit::Val200, VtabSplit::Train800Val200}) {
    const auto records = vt.read_split(s);
    ASSERT_EQ(records.size(), task().split(s).images.size());
    EXPECT_EQ(records[3].path, dir + "/images/" + vtab_split_name(s) + "/000003.png");
    const ImageCache from_disk = ImageCache::from_records(records, 32);
    const ImageCache in_memory = ImageCache::from_images(task().split(s), 32);
    ASSERT_EQ(from_disk.labels(), in_memory.labels());
    EXPECT_EQ(std::memcmp(from_disk.pixels(0), in_memory.pixels(0), in_memory.bytes()), 0) << vtab_split_name(s);
  }
  const auto test_records = vt.read_split(VtabSplit::Test);
  ASSERT_EQ(test_records.size(), 10000u);
  const std::vector<ImageRecord> head(test_records.begin(), test_records.begin() + 200);
  ImageSet test_head;
  test_head.images.assign(task().test.images.begin(), task().test.images.begin() + 200);
  test_head.labels.assign(task().test.labels.begin(), task().test.labels.begin() + 200);
  const ImageCache a = ImageCache::from_records(head, 28), b = ImageCache::from_images(test_head, 28);
  EXPECT_EQ(a.labels(), b.labels());
  EXPECT_EQ(std::memcmp(a.pixels(0), b.pixels(0), a.bytes()), 0);

  // Writing again is a no-op; a different drawing is refused instead of mixed in.
  EXPECT_EQ(write_fashion_mnist_1k(task(), root.path()), dir);
  FashionMnist1k other_seed;
  other_seed.seed = 7;
  expect_error([&] { write_fashion_mnist_1k(other_seed, root.path()); }, {dir, "seed 7"});
}

TEST(FashionMnist1k, MissingFilesAreNamed) {
  TempDir dir;
  expect_error([&] { load_fashion_mnist_1k(dir.path()); }, {dir.path("train-images-idx3-ubyte.gz")});
}

}  // namespace
}  // namespace sct
