#include "sct/data/random_resized_crop.h"

#include <cmath>
#include <cstdint>
#include <string>

#include "sct/core/deterministic_random.h"
#include "sct/core/error.h"
#include "sct/data/pil_resize.h"

namespace sct {
namespace {

// Python's int(round(x)): round half to even (the default floating-point rounding mode).
int round_half_even(double x) { return static_cast<int>(std::nearbyint(x)); }

}  // namespace

void RandomResizedCropOptions::validate() const {
  auto fail = [](const std::string& why) { throw Error("RandomResizedCrop: " + why); };
  if (size.width <= 0 || size.height <= 0)
    fail("output size must be positive, got " + std::to_string(size.width) + "x" +
         std::to_string(size.height));
  if (!(scale_min > 0 && scale_min <= scale_max))
    fail("scale must satisfy 0 < min <= max, got (" + std::to_string(scale_min) + ", " +
         std::to_string(scale_max) + ")");
  if (!(ratio_min > 0 && ratio_min <= ratio_max) || std::isinf(ratio_max))
    fail("ratio must satisfy 0 < min <= max < inf, got (" + std::to_string(ratio_min) + ", " +
         std::to_string(ratio_max) + ")");
}

cv::Rect random_resized_crop_box(cv::Size image, const RandomResizedCropOptions& options,
                                 std::mt19937_64& rng) {
  options.validate();
  const int width = image.width;
  const int height = image.height;
  if (width <= 0 || height <= 0) throw Error("RandomResizedCrop: empty image");
  const double area = static_cast<double>(width) * height;
  const double log_ratio_min = std::log(options.ratio_min);
  const double log_ratio_max = std::log(options.ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * uniform(rng, options.scale_min, options.scale_max);
    const double aspect = std::exp(uniform(rng, log_ratio_min, log_ratio_max));
    const int w = round_half_even(std::sqrt(target_area * aspect));
    const int h = round_half_even(std::sqrt(target_area / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const int top = static_cast<int>(uniform_below(rng, static_cast<uint64_t>(height - h + 1)));
      const int left = static_cast<int>(uniform_below(rng, static_cast<uint64_t>(width - w + 1)));
      return {left, top, w, h};
    }
  }
  // Fallback: centre crop at the whole image's ratio, clamped into [ratio_min, ratio_max].
  const double in_ratio = static_cast<double>(width) / height;
  int w = width;
  int h = height;
  if (in_ratio < options.ratio_min) {
    h = round_half_even(w / options.ratio_min);
  } else if (in_ratio > options.ratio_max) {
    w = round_half_even(h * options.ratio_max);
  }
  return {(width - w) / 2, (height - h) / 2, w, h};
}

cv::Mat random_resized_crop(const cv::Mat& image, const RandomResizedCropOptions& options,
                            std::mt19937_64& rng) {
  if (image.empty()) throw Error("RandomResizedCrop: empty image");
  const cv::Rect box = random_resized_crop_box(image.size(), options, rng);
  return pil_resize_bicubic(image(box), options.size.width, options.size.height);
}

}  // namespace sct
