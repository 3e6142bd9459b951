// torchvision's RandomResizedCrop (Szegedy et al. 2015 "Inception" crops): a random box covering a
// random fraction of the image with a random aspect ratio, resized to a fixed output size.
// An option of the training pipeline; the SCT reference itself resizes directly to 224x224.
#pragma once
#include <opencv2/core.hpp>
#include <random>

namespace sct {

struct RandomResizedCropOptions {
  cv::Size size{224, 224};  // output width x height
  double scale_min = 0.08;  // box area as a fraction of the image area, uniform in [min, max]
  double scale_max = 1.0;
  double ratio_min = 3.0 / 4.0;  // box width / height, log-uniform in [min, max]
  double ratio_max = 4.0 / 3.0;

  void validate() const;  // throws sct::Error on an impossible configuration
};

// torchvision's RandomResizedCrop.get_params: up to 10 attempts of (area fraction, log-ratio),
// w = round(sqrt(area * ratio)), h = round(sqrt(area / ratio)) with Python's round-half-even; the
// first box that fits gets a uniform position (top, then left). If none fits: the centred box of
// the whole image, narrowed (or shortened) to the nearest allowed ratio. The draws are this
// project's (deterministic_random.h), not torch's, so boxes match torchvision in law only.
cv::Rect random_resized_crop_box(cv::Size image, const RandomResizedCropOptions& options,
                                 std::mt19937_64& rng);

// Crops with random_resized_crop_box and resizes to options.size with Pillow's bicubic
// (pil_resize_bicubic, antialiased when shrinking), as torchvision does on PIL images with
// interpolation=BICUBIC. `image`: 8-bit with 1, 3 or 4 channels.
cv::Mat random_resized_crop(const cv::Mat& image, const RandomResizedCropOptions& options,
                            std::mt19937_64& rng);

}  // namespace sct
