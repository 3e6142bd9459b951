// The offline domain shifts (data/image_shift.h) by their properties: inversion is an involution,
// flat images stay flat under rotation and down-sampling and have no edges to sketch, noise is seeded
// and centred, labels never change.
#include "sct/data/image_shift.h"

#include <gtest/gtest.h>

#include <opencv2/core.hpp>

#include "sct/core/error.h"
#include "test_util.h"

namespace sct {
namespace {

ImageSet two_images() {
  ImageSet set;
  set.images.push_back(cv::Mat(28, 28, CV_8UC3, cv::Scalar::all(100)));
  cv::Mat half(28, 28, CV_8UC3, cv::Scalar::all(0));
  half.colRange(14, 28).setTo(cv::Scalar::all(200));
  set.images.push_back(half);
  set.labels = {3, 7};
  return set;
}

bool equal(const cv::Mat& a, const cv::Mat& b) { return a.size() == b.size() && cv::norm(a, b, cv::NORM_INF) == 0.0; }

TEST(ImageShift, EachShiftKeepsLabelsAndSizes) {
  const ImageSet set = two_images();
  for (const ImageShift s : all_image_shifts()) {
    const ImageSet out = shifted_copy(set, s, 1);
    EXPECT_EQ(out.labels, set.labels) << image_shift_name(s);
    ASSERT_EQ(out.images.size(), 2u);
    EXPECT_EQ(out.images[1].size(), set.images[1].size());
    EXPECT_EQ(out.images[1].type(), CV_8UC3);
    EXPECT_EQ(parse_image_shift(image_shift_name(s)), s);
  }
  test::expect_error([] { parse_image_shift("blur"); }, {"unknown image shift 'blur'", "inverted"});
}

TEST(ImageShift, PropertiesOfEachShift) {
  const ImageSet set = two_images();
  const ImageSet inverted = shifted_copy(set, ImageShift::Invert);
  EXPECT_EQ(inverted.images[0].at<cv::Vec3b>(5, 5), cv::Vec3b(155, 155, 155));
  EXPECT_TRUE(equal(shifted_copy(inverted, ImageShift::Invert).images[1], set.images[1]));

  // A flat image has no edge: white. The half-and-half one has a dark line at its edge, white elsewhere.
  const ImageSet sketch = shifted_copy(set, ImageShift::Sketch);
  EXPECT_EQ(cv::countNonZero(sketch.images[0].reshape(1) != 255), 0);
  EXPECT_LT(sketch.images[1].at<cv::Vec3b>(10, 14)[0], 100);
  EXPECT_EQ(sketch.images[1].at<cv::Vec3b>(10, 3)[0], 255);

  // Rotation and down-sampling leave a flat image flat; rotation moves the vertical edge.
  EXPECT_TRUE(equal(shifted_copy(set, ImageShift::Rotate).images[0], set.images[0]));
  EXPECT_TRUE(equal(shifted_copy(set, ImageShift::LowRes).images[0], set.images[0]));
  EXPECT_FALSE(equal(shifted_copy(set, ImageShift::Rotate).images[1], set.images[1]));

  // Noise: the same seed the same pixels, another seed others; centred near the original.
  const ImageSet a = shifted_copy(set, ImageShift::Noise, 5), b = shifted_copy(set, ImageShift::Noise, 5),
                 c = shifted_copy(set, ImageShift::Noise, 6);
  EXPECT_TRUE(equal(a.images[0], b.images[0]));
  EXPECT_FALSE(equal(a.images[0], c.images[0]));
  EXPECT_NEAR(cv::mean(a.images[0])[0], 100.0, 5.0);
  EXPECT_FALSE(equal(a.images[0], a.images[1]));
}

}  // namespace
}  // namespace sct
