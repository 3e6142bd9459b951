// torchvision's RandomHorizontalFlip, the first step of the SCT reference's training augmentation.
#pragma once
#include <opencv2/core.hpp>
#include <random>
#include <string>

#include "sct/core/deterministic_random.h"
#include "sct/core/error.h"

namespace sct {

// Mirrors the image left-right, in place, when a uniform draw in [0, 1) is below p
// (torchvision: `if torch.rand(1) < self.p`). Consumes exactly one draw from rng; the uniform is
// the top 53 bits of it (std::uniform_real_distribution is not specified bit for bit).
// BatchLoader's `hflip` option flips on its own first draw; this is for pipelines without it.
inline void random_horizontal_flip(cv::Mat& image, std::mt19937_64& rng, double p = 0.5) {
  if (!(p >= 0.0 && p <= 1.0))
    throw Error("random_horizontal_flip: p must be in [0, 1], got " + std::to_string(p));
  if (uniform01(rng) < p) cv::flip(image, image, 1);
}

}  // namespace sct
