#include "sct/data/image_shift.h"

#include <algorithm>
#include <opencv2/imgproc.hpp>
#include <random>

#include "sct/core/deterministic_random.h"
#include "sct/core/error.h"

namespace sct {
namespace {

constexpr double kRotationDegrees = 30.0;
constexpr double kNoiseSigma = 40.0;
constexpr int kLowResFactor = 4;

cv::Mat sketch(const cv::Mat& rgb) {
  cv::Mat grey, gx, gy, magnitude, out;
  cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
  cv::Sobel(grey, gx, CV_32F, 1, 0);
  cv::Sobel(grey, gy, CV_32F, 0, 1);
  cv::magnitude(gx, gy, magnitude);
  magnitude.convertTo(grey, CV_8U, -0.5, 255.0);  // strong edges dark, flat areas white
  cv::cvtColor(grey, out, cv::COLOR_GRAY2RGB);
  return out;
}

cv::Mat shift_one(const cv::Mat& rgb, ImageShift shift, uint64_t seed, uint64_t index) {
  cv::Mat out;
  switch (shift) {
    case ImageShift::Invert:
      cv::bitwise_not(rgb, out);
      return out;
    case ImageShift::Sketch:
      return sketch(rgb);
    case ImageShift::Rotate: {
      const cv::Point2f centre(float(rgb.cols) / 2.0f, float(rgb.rows) / 2.0f);
      cv::warpAffine(rgb, out, cv::getRotationMatrix2D(centre, kRotationDegrees, 1.0), rgb.size(), cv::INTER_LINEAR,
                     cv::BORDER_REPLICATE);
      return out;
    }
    case ImageShift::Noise: {
      std::mt19937_64 rng(derive_seed(seed, index));
      cv::Mat noisy(rgb.size(), CV_32FC3);
      for (int y = 0; y < rgb.rows; ++y)
        for (int x = 0; x < rgb.cols; ++x)
          for (int c = 0; c < 3; ++c)
            noisy.at<cv::Vec3f>(y, x)[c] = float(rgb.at<cv::Vec3b>(y, x)[c] + kNoiseSigma * standard_normal(rng));
      noisy.convertTo(out, CV_8UC3);  // saturating: clamps to [0, 255]
      return out;
    }
    case ImageShift::LowRes: {
      cv::Mat small;
      cv::resize(rgb, small, cv::Size(std::max(1, rgb.cols / kLowResFactor), std::max(1, rgb.rows / kLowResFactor)), 0,
                 0, cv::INTER_AREA);
      cv::resize(small, out, rgb.size(), 0, 0, cv::INTER_LINEAR);
      return out;
    }
  }
  throw Error("unknown image shift");
}

}  // namespace

const std::vector<ImageShift>& all_image_shifts() {
  static const std::vector<ImageShift> shifts = {ImageShift::Invert, ImageShift::Sketch, ImageShift::Rotate,
                                                 ImageShift::Noise, ImageShift::LowRes};
  return shifts;
}

std::string image_shift_name(ImageShift shift) {
  switch (shift) {
    case ImageShift::Invert:
      return "inverted";
    case ImageShift::Sketch:
      return "sketch";
    case ImageShift::Rotate:
      return "rotated";
    case ImageShift::Noise:
      return "noisy";
    case ImageShift::LowRes:
      return "low-res";
  }
  return "?";
}

ImageShift parse_image_shift(const std::string& name) {
  std::string known;
  for (ImageShift s : all_image_shifts()) {
    if (image_shift_name(s) == name) return s;
    known += " " + image_shift_name(s);
  }
  throw Error("unknown image shift '" + name + "'; known:" + known);
}

ImageSet shifted_copy(const ImageSet& set, ImageShift shift, uint64_t seed) {
  ImageSet out;
  out.labels = set.labels;
  out.images.reserve(set.images.size());
  for (size_t i = 0; i < set.images.size(); ++i) {
    if (set.images[i].type() != CV_8UC3) throw Error("shifted_copy: image " + std::to_string(i) + " is not 8-bit RGB");
    out.images.push_back(shift_one(set.images[i], shift, seed, i));
  }
  return out;
}

}  // namespace sct
