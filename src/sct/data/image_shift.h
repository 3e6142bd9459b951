// Deterministic distribution shifts of a test set, the offline stand-in for ImageNet-V2 / -Sketch /
// -A / -R: the same labels, drawn differently. Each shift is a pure function of the image (and, for
// noise, of a seed and the image's index), so every run scores the same shifted images.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sct/data/image_set.h"

namespace sct {

enum class ImageShift {
  Invert,  // 255 - v: light garments on dark become dark on light
  Sketch,  // edges only: Sobel gradient magnitude, dark lines on white (as ImageNet-Sketch's drawings)
  Rotate,  // 30 degrees counter-clockwise about the centre, corners filled with the border colour
  Noise,   // additive Gaussian noise, sigma 40 levels, clamped
  LowRes,  // down to a quarter of the side (area averaging), back up bilinearly
};

// Every shift, in table order, and their names ("inverted", "sketch", "rotated", "noisy", "low-res").
const std::vector<ImageShift>& all_image_shifts();
std::string image_shift_name(ImageShift shift);
ImageShift parse_image_shift(const std::string& name);  // throws sct::Error listing the names

// The shifted copy of `set` (CV_8UC3 images, labels kept); `seed` drives the noise.
ImageSet shifted_copy(const ImageSet& set, ImageShift shift, uint64_t seed = 0);

}  // namespace sct
