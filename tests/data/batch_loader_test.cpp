#include "sct/data/batch_loader.h"

#include <gtest/gtest.h>

#include <atomic>
#include <opencv2/core.hpp>
#include <set>

#include "data_test_util.h"

namespace sct {
namespace {

using test::expect_error;

constexpr int kSize = 6;

// n distinct, left-right asymmetric 6 x 6 images; image i is labelled i % 5.
std::shared_ptr<const ImageCache> synthetic_cache(int n) {
  ImageSet set;
  for (int i = 0; i < n; ++i) {
    cv::Mat img(kSize, kSize, CV_8UC3);
    for (int y = 0; y < kSize; ++y)
      for (int x = 0; x < kSize; ++x)
        for (int c = 0; c < 3; ++c)
          img.at<cv::Vec3b>(y, x)[c] = static_cast<uint8_t>((i * 13 + x * 7 + y * 3 + c * 50) % 256);
    set.images.push_back(img);
    set.labels.push_back(i % 5);
  }
  return std::make_shared<const ImageCache>(ImageCache::from_images(set, kSize));
}

std::vector<Batch> epoch_batches(BatchLoader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<Batch> out;
  Batch b;
  while (loader.next(b)) out.push_back(b);
  return out;
}

bool same_batches(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!a[i].images.equal(b[i].images) || !a[i].labels.equal(b[i].labels) || !a[i].indices.equal(b[i].indices))
      return false;
  return true;
}

// An augmentation that depends on its RNG: adds a random offset to one random pixel.
void jitter(cv::Mat& rgb, std::mt19937_64& rng) {
  const int y = static_cast<int>(rng() % rgb.rows), x = static_cast<int>(rng() % rgb.cols);
  rgb.at<cv::Vec3b>(y, x)[rng() % 3] += static_cast<uint8_t>(1 + rng() % 200);
}

TEST(BatchLoader, EveryImageOncePerEpochWithoutDropLast) {
  BatchLoaderOptions opt;
  opt.batch_size = 3;
  opt.drop_last = false;
  BatchLoader loader(synthetic_cache(10), opt);
  EXPECT_EQ(loader.batches_per_epoch(), 4);
  const auto batches = epoch_batches(loader, 0);
  ASSERT_EQ(batches.size(), 4u);
  std::multiset<int64_t> seen;
  for (const auto& b : batches) {
    EXPECT_EQ(b.images.sizes(), (std::vector<int64_t>{b.labels.size(0), 3, kSize, kSize}));
    for (int64_t j = 0; j < b.indices.size(0); ++j) {
      seen.insert(b.indices[j].item<int64_t>());
      EXPECT_EQ(b.labels[j].item<int64_t>(), b.indices[j].item<int64_t>() % 5);
    }
  }
  EXPECT_EQ(batches.back().labels.size(0), 1);
  EXPECT_EQ(seen, (std::multiset<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(BatchLoader, DropLastGivesTheReferenceStepCount) {
  BatchLoaderOptions opt;  // batch 64, drop_last: 1000 images -> 15 steps
  BatchLoader loader(synthetic_cache(1000), opt);
  EXPECT_EQ(loader.batches_per_epoch(), 15);
  const auto batches = epoch_batches(loader, 3);
  ASSERT_EQ(batches.size(), 15u);
  for (const auto& b : batches) EXPECT_EQ(b.images.size(0), 64);
}

TEST(BatchLoader, IdenticalAcrossRunsAndWorkerCounts) {
  auto cache = synthetic_cache(50);
  BatchLoaderOptions a;
  a.batch_size = 8;
  a.hflip = true;
  a.augment = jitter;
  a.seed = 7;
  a.workers = 1;
  a.prefetch = 1;
  BatchLoaderOptions b = a;
  b.workers = 4;
  b.prefetch = 9;
  BatchLoader one(cache, a), many(cache, b), again(cache, a);
  for (int64_t epoch : {0, 1, 5}) {
    const auto x = epoch_batches(one, epoch);
    EXPECT_TRUE(same_batches(x, epoch_batches(many, epoch))) << "epoch " << epoch;
    EXPECT_TRUE(same_batches(x, epoch_batches(again, epoch))) << "epoch " << epoch;
  }
}

// Data parallelism: the shards of every batch, concatenated in rank order, are the whole batch, with
// each sample's own flip and augmentation (3 ranks: unequal shards of 8).
TEST(BatchLoader, ShardsTogetherAreTheWholeBatch) {
  auto cache = synthetic_cache(50);
  BatchLoaderOptions whole;
  whole.batch_size = 8;
  whole.hflip = true;
  whole.augment = jitter;
  whole.seed = 3;
  BatchLoader one(cache, whole);
  std::vector<std::unique_ptr<BatchLoader>> ranks;
  for (int64_t r = 0; r < 3; ++r) {
    BatchLoaderOptions o = whole;
    o.shard = Shard{r, 3};
    ranks.push_back(std::make_unique<BatchLoader>(cache, o));
  }
  for (int64_t epoch : {0, 4}) {
    const std::vector<Batch> expected = epoch_batches(one, epoch);
    std::vector<std::vector<Batch>> pieces;
    for (auto& loader : ranks) pieces.push_back(epoch_batches(*loader, epoch));
    ASSERT_EQ(pieces[0].size(), expected.size());
    for (size_t b = 0; b < expected.size(); ++b) {
      std::vector<at::Tensor> images, labels;
      int64_t row = 0;
      for (const auto& piece : pieces) {
        EXPECT_EQ(piece[b].first_row, row);
        EXPECT_EQ(piece[b].global_rows, 8);
        row += piece[b].labels.size(0);
        images.push_back(piece[b].images);
        labels.push_back(piece[b].labels);
      }
      EXPECT_EQ(pieces[0][b].labels.size(0), 2);  // 8 * 1 / 3
      EXPECT_TRUE(at::cat(images).equal(expected[b].images)) << "epoch " << epoch << " batch " << b;
      EXPECT_TRUE(at::cat(labels).equal(expected[b].labels));
    }
  }
  BatchLoaderOptions too_many = whole;
  too_many.shard = Shard{0, 9};
  expect_error([&] { BatchLoader(cache, too_many); }, {"batch of 8", "9 data-parallel ranks"});
}

TEST(BatchLoader, OrderDependsOnSeedAndEpoch) {
  auto cache = synthetic_cache(40);
  BatchLoaderOptions opt;
  opt.batch_size = 40;
  BatchLoader loader(cache, opt);
  const at::Tensor e0 = epoch_batches(loader, 0)[0].indices;
  const at::Tensor e1 = epoch_batches(loader, 1)[0].indices;
  EXPECT_FALSE(e0.equal(e1));
  EXPECT_TRUE(e0.equal(epoch_batches(loader, 0)[0].indices));
  opt.seed = 43;
  BatchLoader other(cache, opt);
  EXPECT_FALSE(e0.equal(epoch_batches(other, 0)[0].indices));
}

TEST(BatchLoader, NoShuffleKeepsCacheOrder) {
  BatchLoaderOptions opt;
  opt.batch_size = 4;
  opt.shuffle = false;
  BatchLoader loader(synthetic_cache(12), opt);
  const auto batches = epoch_batches(loader, 9);
  for (int64_t b = 0; b < 3; ++b)
    for (int64_t j = 0; j < 4; ++j) EXPECT_EQ(batches[b].indices[j].item<int64_t>(), b * 4 + j);
}

// Hand-computed values: no flip, no augmentation -> exactly (v / 255 - mean) / std of the cached pixel.
TEST(BatchLoader, NormalisesTheCachedPixels) {
  auto cache = synthetic_cache(4);
  BatchLoaderOptions opt;
  opt.batch_size = 4;
  opt.shuffle = false;
  BatchLoader loader(cache, opt);
  const Batch b = epoch_batches(loader, 0)[0];
  const Normalization n;
  for (int64_t i = 0; i < 4; ++i)
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < kSize; ++y)
        for (int x = 0; x < kSize; ++x) {
          const int v = (i * 13 + x * 7 + y * 3 + c * 50) % 256;
          ASSERT_EQ(b.images[i][c][y][x].item<float>(), (static_cast<float>(v) / 255.0f - n.mean[c]) / n.std[c]);
        }
}

TEST(BatchLoader, FlipsAboutHalfTheSamplesAndOnlyMirrors) {
  auto cache = synthetic_cache(100);
  BatchLoaderOptions opt;
  opt.batch_size = 50;
  opt.hflip = true;
  opt.normalization = Normalization::inception();
  BatchLoader loader(cache, opt);
  int flipped = 0, total = 0;
  for (int64_t epoch = 0; epoch < 4; ++epoch)
    for (const Batch& b : epoch_batches(loader, epoch))
      for (int64_t j = 0; j < b.indices.size(0); ++j) {
        const at::Tensor img = b.images[j];  // (3, S, S)
        const at::Tensor orig = cache->normalized(opt.normalization, b.indices[j].item<int64_t>(), 1)[0];
        const bool same = img.equal(orig), mirrored = img.equal(orig.flip({2}));
        EXPECT_TRUE(same || mirrored);
        flipped += mirrored;
        ++total;
      }
  EXPECT_EQ(total, 400);
  EXPECT_GT(flipped, 150);  // binomial(400, 0.5): mean 200, sd 10
  EXPECT_LT(flipped, 250);
}

TEST(BatchLoader, RestartingAnEpochReplaysIt) {
  BatchLoaderOptions opt;
  opt.batch_size = 5;
  opt.augment = jitter;
  BatchLoader loader(synthetic_cache(30), opt);
  const auto full = epoch_batches(loader, 2);
  loader.start_epoch(2);
  Batch first;
  ASSERT_TRUE(loader.next(first));  // abandon the epoch after one batch, with more being prefetched
  EXPECT_TRUE(same_batches(full, epoch_batches(loader, 2)));
  EXPECT_TRUE(first.images.equal(full[0].images));
}

TEST(BatchLoader, AugmentationErrorsReachTheCaller) {
  BatchLoaderOptions opt;
  opt.batch_size = 2;
  opt.augment = [](cv::Mat&, std::mt19937_64&) { throw Error("augment failed"); };
  BatchLoader loader(synthetic_cache(4), opt);
  loader.start_epoch(0);
  Batch b;
  expect_error([&] { loader.next(b); }, {"augment failed"});

  opt.augment = [](cv::Mat& rgb, std::mt19937_64&) { rgb = cv::Mat(3, 3, CV_8UC3); };
  BatchLoader resizing(synthetic_cache(4), opt);
  resizing.start_epoch(0);
  expect_error([&] { resizing.next(b); }, {"augmentation changed the image", "expected 6x6"});
}

TEST(BatchLoader, RejectsImpossibleSettings) {
  BatchLoaderOptions opt;
  expect_error([&] { BatchLoader(synthetic_cache(10), opt); }, {"10 images make no complete batch of 64"});
  expect_error([&] { BatchLoader(std::make_shared<const ImageCache>(), opt); }, {"empty"});
  opt.batch_size = 0;
  expect_error([&] { BatchLoader(synthetic_cache(10), opt); }, {"at least 1"});
  opt.batch_size = 2;
  BatchLoader loader(synthetic_cache(10), opt);
  Batch b;
  expect_error([&] { loader.next(b); }, {"before start_epoch"});
}

}  // namespace
}  // namespace sct
