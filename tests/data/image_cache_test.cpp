#include "sct/data/image_cache.h"

#include <gtest/gtest.h>

#include <cstring>

#include "data_test_util.h"
#include "sct/data/image_decode.h"
#include "sct/data/pil_resize.h"

namespace sct {
namespace {

using test::expect_error;
using test::fixture_image;
using test::TempDir;
using test::write_bytes;

std::vector<ImageRecord> fixture_records() {
  std::vector<ImageRecord> r;
  int64_t label = 0;
  for (const char* f : {"photo_50x40.jpg", "gray_37x53.png", "rgba_40x30.png", "palette_33x21.png", "rgb_64x48.png",
                        "gray_31x29.jpg", "la_18x26.png", "exif_rot_36x20.jpg"})
    r.push_back({fixture_image(f), label++, std::string("fixtures:") + std::to_string(label)});
  return r;
}

bool same_image(const ImageCache& a, int64_t i, const ImageCache& b, int64_t j) {
  const size_t n = static_cast<size_t>(a.image_size() * a.image_size() * 3);
  return a.image_size() == b.image_size() && std::memcmp(a.pixels(i), b.pixels(j), n) == 0;
}

TEST(ImageCache, HoldsPilResizedImagesAtModelSize) {
  const ImageCache cache = ImageCache::from_records(fixture_records(), 24);
  ASSERT_EQ(cache.num_images(), 8);
  EXPECT_EQ(cache.image_size(), 24);
  EXPECT_EQ(cache.bytes(), 8u * 24 * 24 * 3);
  EXPECT_EQ(cache.label(3), 3);
  // Independent reference: PIL's Image.open(...).convert('RGB').resize((24, 24), BICUBIC).
  const cv::Mat expected = test::read_png_rgb(fixture_image("photo_50x40.24x24.png"));
  EXPECT_EQ(cv::norm(cache.view(0), expected, cv::NORM_INF), 0.0);
  const cv::Mat expected_gray = test::read_png_rgb(fixture_image("gray_37x53.24x24.png"));
  EXPECT_EQ(cv::norm(cache.view(1), expected_gray, cv::NORM_INF), 0.0);
}

TEST(ImageCache, IdenticalForAnyThreadCount) {
  const auto records = fixture_records();
  CacheOptions one, many;
  one.threads = 1;
  many.threads = 5;
  const ImageCache a = ImageCache::from_records(records, 40, one);
  const ImageCache b = ImageCache::from_records(records, 40, many);
  ASSERT_EQ(a.num_images(), b.num_images());
  for (int64_t i = 0; i < a.num_images(); ++i) EXPECT_TRUE(same_image(a, i, b, i)) << i;
}

TEST(ImageCache, MissingImageNamesPathAndListLine) {
  TempDir dir;
  auto records = fixture_records();
  records[5] = {dir.path("images/test/000005.jpg"), 5, dir.path("test.txt") + ":6"};
  CacheOptions options;
  options.threads = 3;
  expect_error([&] { ImageCache::from_records(records, 24, options); },
               {dir.path("images/test/000005.jpg"), dir.path("test.txt") + ":6", "No such file"});
}

TEST(ImageCache, FirstBadImageIsReportedWhateverTheThreads) {
  TempDir dir;
  write_bytes(dir.path("garbage.png"), "not a png");
  std::vector<ImageRecord> records = fixture_records();
  records.insert(records.end(), records.begin(), records.end());  // 16 records
  records[6] = {dir.path("garbage.png"), 0, "list:7"};
  records[13] = {dir.path("missing.png"), 0, "list:14"};
  for (int threads : {1, 2, 4, 8}) {
    CacheOptions options;
    options.threads = threads;
    expect_error([&] { ImageCache::from_records(records, 16, options); }, {dir.path("garbage.png"), "list:7"});
  }
}

TEST(ImageCache, SkipBadImagesCountsAndCompacts) {
  TempDir dir;
  const std::string jpg = test::read_bytes(fixture_image("photo_50x40.jpg"));
  write_bytes(dir.path("truncated.jpg"), jpg.substr(0, jpg.size() / 3));
  write_bytes(dir.path("garbage.jpg"), std::string(500, '\x5a'));
  const std::vector<ImageRecord> records = {{fixture_image("rgb_64x48.png"), 4, "l:1"},
                                            {dir.path("missing.jpg"), 1, "l:2"},
                                            {dir.path("garbage.jpg"), 2, "l:3"},
                                            {dir.path("truncated.jpg"), 3, "l:4"},
                                            {fixture_image("photo_50x40.jpg"), 7, "l:5"}};
  CacheOptions options;
  options.skip_bad_images = true;
  options.threads = 2;
  const ImageCache cache = ImageCache::from_records(records, 24, options);
  ASSERT_EQ(cache.num_images(), 2);
  EXPECT_EQ(cache.labels(), (std::vector<int64_t>{4, 7}));
  EXPECT_EQ(cache.source_indices(), (std::vector<int64_t>{0, 4}));
  ASSERT_EQ(cache.skipped().size(), 3u);
  EXPECT_NE(cache.skipped()[0].find("missing.jpg"), std::string::npos);
  EXPECT_NE(cache.skipped()[1].find("garbage.jpg"), std::string::npos);
  EXPECT_NE(cache.skipped()[2].find("truncated.jpg"), std::string::npos);
  EXPECT_NE(cache.skipped()[2].find("l:4"), std::string::npos);
  // Compaction moved the last image to slot 1 intact.
  const ImageCache alone = ImageCache::from_records({records[4]}, 24);
  EXPECT_TRUE(same_image(cache, 1, alone, 0));
}

TEST(ImageCache, FromImagesEqualsDecodingTheSameImages) {
  ImageSet set;
  for (const auto& r : fixture_records()) {
    set.images.push_back(decode_image_rgb(r.path));
    set.labels.push_back(r.label);
  }
  const ImageCache a = ImageCache::from_images(set, 32, 3);
  const ImageCache b = ImageCache::from_records(fixture_records(), 32);
  for (int64_t i = 0; i < a.num_images(); ++i) EXPECT_TRUE(same_image(a, i, b, i));
  set.labels.pop_back();
  expect_error([&] { ImageCache::from_images(set, 32); }, {"labels"});
}

TEST(ImageCache, NormalizedTensorAndLabels) {
  const ImageCache cache = ImageCache::from_records(fixture_records(), 8);
  const at::Tensor x = cache.normalized(Normalization::inception(), 2, 3);
  ASSERT_EQ(x.sizes(), (std::vector<int64_t>{3, 3, 8, 8}));
  EXPECT_EQ(x.scalar_type(), at::kFloat);
  // Pixel (y=5, x=6), green channel, of cached image 3 (-> tensor row 1): (v / 255 - 0.5) / 0.5.
  const uint8_t v = cache.pixels(3)[(5 * 8 + 6) * 3 + 1];
  EXPECT_EQ(x[1][1][5][6].item<float>(), (static_cast<float>(v) / 255.0f - 0.5f) / 0.5f);
  const at::Tensor y = cache.label_tensor(2, 3);
  EXPECT_EQ(y.scalar_type(), at::kLong);
  EXPECT_EQ(y[2].item<int64_t>(), 4);
  expect_error([&] { cache.normalized(Normalization::imagenet(), 6, 3); }, {"outside"});
}

TEST(ImageCache, RejectsBadSizes) {
  expect_error([] { ImageCache::from_records(fixture_records(), 0); }, {"image size"});
}

}  // namespace
}  // namespace sct
