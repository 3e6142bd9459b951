#include "sct/data/pil_resize.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data_test_util.h"

namespace sct {
namespace {

using test::fixture_image;
using test::read_png_rgb;

cv::Mat grey_row(const std::vector<uint8_t>& values) {
  cv::Mat m(1, static_cast<int>(values.size()), CV_8UC1);
  for (size_t i = 0; i < values.size(); ++i) m.at<uint8_t>(0, static_cast<int>(i)) = values[i];
  return m;
}

std::vector<uint8_t> values(const cv::Mat& m) { return std::vector<uint8_t>(m.datastart, m.dataend); }

// Enlarging 2 -> 4 pixels: output centres 0.25, 0.75, 1.25, 1.75; Keys' kernel (a = -0.5) gives
// w(0.25) = 0.8671875, w(0.75) = 0.2265625, w(1.25) = -0.0703125, normalised over the taps that fall
// inside the image. E.g. out[1] = 255 * 0.2265625 / (0.8671875 + 0.2265625) = 52.8 -> 53, and
// out[0] = 255 * -0.0703125 / 0.796875 < 0 -> clipped to 0. (Python PIL 9.4 gives the same.)
TEST(PilResize, HandComputedEnlargement) {
  EXPECT_EQ(values(pil_resize_bicubic(grey_row({0, 255}), 4, 1)), (std::vector<uint8_t>{0, 53, 202, 255}));
  EXPECT_EQ(values(pil_resize_bicubic(grey_row({100, 200}), 4, 1)), (std::vector<uint8_t>{91, 121, 179, 209}));
}

// Shrinking 4 -> 2 pixels stretches the kernel by 2 (support 4, PIL's antialiasing): output 0 is centred
// at 1.0 and weighs all four inputs with w(0.25), w(0.25), w(0.75), w(1.25) =
// 0.8671875, 0.8671875, 0.2265625, -0.0703125 (sum 1.890625): 255 * 0.15625 / 1.890625 = 21.07 -> 21.
// A fixed 4-tap bicubic (cv::resize INTER_CUBIC) would not see the same pixels.
TEST(PilResize, HandComputedReductionWidensTheKernel) {
  EXPECT_EQ(values(pil_resize_bicubic(grey_row({0, 0, 255, 255}), 2, 1)), (std::vector<uint8_t>{21, 234}));
}

TEST(PilResize, ConstantImagesStayConstant) {
  // Normalised weights sum to one, and the fixed-point rounding must not drift a flat field.
  for (int v : {0, 1, 77, 128, 254, 255}) {
    const cv::Mat src(53, 37, CV_8UC3, cv::Scalar(v, v, v));
    for (auto [w, h] : {std::pair{24, 24}, {96, 96}, {224, 224}, {5, 200}}) {
      const cv::Mat out = pil_resize_bicubic(src, w, h);
      ASSERT_EQ(out.cols, w);
      ASSERT_EQ(out.rows, h);
      double lo, hi;
      cv::minMaxLoc(out.reshape(1), &lo, &hi);
      EXPECT_EQ(lo, v);
      EXPECT_EQ(hi, v);
    }
  }
}

TEST(PilResize, SameSizeIsAnExactCopy) {
  cv::Mat src(7, 5, CV_8UC3);
  cv::randu(src, 0, 256);
  const cv::Mat out = pil_resize_bicubic(src, 5, 7);
  EXPECT_EQ(cv::norm(src, out, cv::NORM_INF), 0.0);
  EXPECT_NE(out.data, src.data);
}

TEST(PilResize, WritesIntoAViewOfALargerBuffer) {
  cv::Mat src(29, 31, CV_8UC3);
  cv::randu(src, 0, 256);
  cv::Mat canvas(60, 70, CV_8UC3, cv::Scalar(1, 2, 3));
  cv::Mat view = canvas(cv::Rect(5, 7, 40, 24));  // not continuous: rows keep the canvas stride
  pil_resize_bicubic(src, view);
  EXPECT_EQ(cv::norm(view, pil_resize_bicubic(src, 40, 24), cv::NORM_INF), 0.0);
  EXPECT_EQ(canvas.at<cv::Vec3b>(6, 5), cv::Vec3b(1, 2, 3));   // above the view: untouched
  EXPECT_EQ(canvas.at<cv::Vec3b>(7, 45), cv::Vec3b(1, 2, 3));  // right of it: untouched
  cv::Mat wrong(24, 40, CV_8UC1);
  test::expect_error([&] { pil_resize_bicubic(src, wrong); }, {"of the input's type"});
}

TEST(PilResize, ChannelsAreFilteredIndependently) {
  cv::Mat gray(19, 23, CV_8UC1);
  cv::randu(gray, 0, 256);
  cv::Mat rgb;
  cv::cvtColor(gray, rgb, cv::COLOR_GRAY2RGB);
  const cv::Mat a = pil_resize_bicubic(gray, 40, 11);
  const cv::Mat b = pil_resize_bicubic(rgb, 40, 11);
  std::vector<cv::Mat> planes;
  cv::split(b, planes);
  for (const auto& p : planes) EXPECT_EQ(cv::norm(a, p, cv::NORM_INF), 0.0);
}

TEST(PilResize, RejectsBadInput) {
  test::expect_error([] { pil_resize_bicubic(cv::Mat(), 4, 4); }, {"empty"});
  test::expect_error([] { pil_resize_bicubic(cv::Mat(4, 4, CV_32FC3), 4, 2); }, {"8-bit"});
  test::expect_error([] { pil_resize_bicubic(cv::Mat(4, 4, CV_8UC3), 0, 2); }, {"positive"});
}

// Every (image, size) pair of tools/make_image_fixtures.py: PIL's own convert('RGB') output is resized
// here and compared with PIL's resize of it. Requirement: within one grey level on >= 99% of the
// values; the implementation follows PIL's arithmetic, so the test also demands exact equality.
TEST(PilResize, MatchesPilOnFixtureImages) {
  std::ifstream in(fixture_image("manifest.json"));
  ASSERT_TRUE(in) << "missing fixture manifest; run tools/make_image_fixtures.py";
  const nlohmann::json manifest = nlohmann::json::parse(in);
  int64_t total = 0, exact = 0, within_one = 0, cases = 0;
  for (const auto& image : manifest["images"]) {
    const cv::Mat src = read_png_rgb(fixture_image(image["decoded"]));
    for (const auto& r : image["resized"]) {
      const cv::Mat expected = read_png_rgb(fixture_image(r["file"]));
      const cv::Mat got = pil_resize_bicubic(src, r["width"], r["height"]);
      ASSERT_EQ(got.size(), expected.size()) << r["file"];
      int64_t case_exact = 0;
      const std::vector<uint8_t> g = values(got), e = values(expected);
      for (size_t i = 0; i < g.size(); ++i) {
        const int d = std::abs(int(g[i]) - int(e[i]));
        case_exact += d == 0;
        within_one += d <= 1;
      }
      EXPECT_EQ(case_exact, static_cast<int64_t>(g.size())) << r["file"] << ": not bit-identical to PIL";
      exact += case_exact;
      total += static_cast<int64_t>(g.size());
      ++cases;
    }
  }
  ASSERT_GT(total, 0);
  std::cout << "[ PIL agreement ] " << cases << " resizes, " << total << " values: exact " << 100.0 * exact / total
            << "%, within 1 grey level " << 100.0 * within_one / total << "%\n";
  EXPECT_GE(static_cast<double>(within_one) / total, 0.99);
}

}  // namespace
}  // namespace sct
