#include "sct/data/random_resized_crop.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>

#include "sct/core/error.h"

namespace sct {
namespace {

TEST(RandomResizedCropTest, BoxesRespectScaleRatioAndBounds) {
  const RandomResizedCropOptions options;
  const cv::Size image(320, 240);
  std::mt19937_64 rng(1);
  double min_area = 1, max_area = 0, min_log_ratio = 1, max_log_ratio = -1;
  for (int i = 0; i < 20000; ++i) {
    const cv::Rect box = random_resized_crop_box(image, options, rng);
    ASSERT_TRUE(box.x >= 0 && box.y >= 0 && box.width > 0 && box.height > 0) << box;
    ASSERT_LE(box.x + box.width, image.width) << box;
    ASSERT_LE(box.y + box.height, image.height) << box;
    const double area = static_cast<double>(box.area()) / image.area();
    const double log_ratio = std::log(static_cast<double>(box.width) / box.height);
    // Rounding w and h to whole pixels moves area and ratio slightly past the drawn range.
    ASSERT_GE(area, 0.08 * 0.97) << box;
    ASSERT_LE(log_ratio, std::log(4.0 / 3.0) + 0.1) << box;
    ASSERT_GE(log_ratio, std::log(3.0 / 4.0) - 0.1) << box;
    min_area = std::min(min_area, area);
    max_area = std::max(max_area, area);
    min_log_ratio = std::min(min_log_ratio, log_ratio);
    max_log_ratio = std::max(max_log_ratio, log_ratio);
  }
  // The draws cover the whole range.
  EXPECT_LT(min_area, 0.09);
  EXPECT_GT(max_area, 0.95);
  EXPECT_LT(min_log_ratio, std::log(3.0 / 4.0) + 0.02);
  EXPECT_GT(max_log_ratio, std::log(4.0 / 3.0) - 0.02);
}

TEST(RandomResizedCropTest, FullScaleAtTheImageRatioTakesTheWholeImage) {
  RandomResizedCropOptions options;
  options.scale_min = options.scale_max = 1.0;
  options.ratio_min = options.ratio_max = 1.0;
  std::mt19937_64 rng(2);
  EXPECT_EQ(random_resized_crop_box({50, 50}, options, rng), cv::Rect(0, 0, 50, 50));
}

TEST(RandomResizedCropTest, FallsBackToACentredCropAtTheNearestRatio) {
  // A full-area box at ratio >= 2 never fits a square image, so all 10 attempts fail:
  // torchvision then keeps the width and sets h = round(w / ratio_min), centred.
  RandomResizedCropOptions options;
  options.scale_min = options.scale_max = 1.0;
  options.ratio_min = 2.0;
  options.ratio_max = 3.0;
  std::mt19937_64 rng(3);
  EXPECT_EQ(random_resized_crop_box({101, 101}, options, rng), cv::Rect(0, 25, 101, 50));  // round(50.5) = 50
  // A wide image with narrow allowed ratios: keep the height, w = round(h * ratio_max).
  options.ratio_min = 0.25;
  options.ratio_max = 0.5;
  EXPECT_EQ(random_resized_crop_box({100, 40}, options, rng), cv::Rect(40, 0, 20, 40));
}

TEST(RandomResizedCropTest, OutputHasTheRequestedSizeAndIsDeterministicPerSeed) {
  cv::Mat image(240, 320, CV_8UC3);
  cv::randu(image, cv::Scalar::all(0), cv::Scalar::all(256));
  RandomResizedCropOptions options;
  options.size = cv::Size(64, 48);
  std::mt19937_64 a(4), b(4), c(5);
  const cv::Mat out_a = random_resized_crop(image, options, a);
  const cv::Mat out_b = random_resized_crop(image, options, b);
  const cv::Mat out_c = random_resized_crop(image, options, c);
  EXPECT_EQ(out_a.size(), cv::Size(64, 48));
  EXPECT_EQ(out_a.type(), CV_8UC3);
  EXPECT_EQ(cv::norm(out_a, out_b, cv::NORM_INF), 0.0);
  EXPECT_GT(cv::norm(out_a, out_c, cv::NORM_INF), 0.0);
}

TEST(RandomResizedCropTest, ResizesTheCroppedRegion) {
  // Left half red, right half blue: a crop inside one half stays that colour after resizing.
  cv::Mat image(100, 200, CV_8UC3, cv::Scalar(255, 0, 0));
  image(cv::Rect(100, 0, 100, 100)).setTo(cv::Scalar(0, 0, 255));
  RandomResizedCropOptions options;
  options.size = cv::Size(16, 16);
  options.scale_min = 0.08;
  options.scale_max = 0.2;
  const cv::Mat red(options.size, CV_8UC3, cv::Scalar(255, 0, 0));
  const cv::Mat blue(options.size, CV_8UC3, cv::Scalar(0, 0, 255));
  std::mt19937_64 rng(6);
  int checked = 0;
  for (int i = 0; i < 50; ++i) {
    std::mt19937_64 probe = rng;
    const cv::Rect box = random_resized_crop_box(image.size(), options, probe);
    const cv::Mat out = random_resized_crop(image, options, rng);
    if (box.x + box.width <= 100) {
      EXPECT_EQ(cv::norm(out, red, cv::NORM_INF), 0.0) << box;
      ++checked;
    } else if (box.x >= 100) {
      EXPECT_EQ(cv::norm(out, blue, cv::NORM_INF), 0.0) << box;
      ++checked;
    }
  }
  EXPECT_GT(checked, 10);
}

TEST(RandomResizedCropTest, RejectsImpossibleOptions) {
  std::mt19937_64 rng(7);
  RandomResizedCropOptions bad_scale;
  bad_scale.scale_min = 0.9;
  bad_scale.scale_max = 0.5;
  EXPECT_THROW(random_resized_crop_box({10, 10}, bad_scale, rng), Error);
  RandomResizedCropOptions bad_ratio;
  bad_ratio.ratio_min = 0.0;
  EXPECT_THROW(random_resized_crop_box({10, 10}, bad_ratio, rng), Error);
  RandomResizedCropOptions bad_size;
  bad_size.size = cv::Size(0, 5);
  EXPECT_THROW(random_resized_crop(cv::Mat(4, 4, CV_8UC3), bad_size, rng), Error);
  EXPECT_THROW(random_resized_crop(cv::Mat(), RandomResizedCropOptions{}, rng), Error);
}

}  // namespace
}  // namespace sct
