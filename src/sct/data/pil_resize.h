// Bicubic resize that reproduces PIL's Image.resize((W, H), Image.BICUBIC) -- the resize of the
// reference pipeline (torchvision Resize((224, 224), interpolation=3) on PIL images) -- pixel for pixel.
//
// The algorithm (Pillow's Resample.c, reimplemented from its description):
// - Separable convolution with the cubic kernel a = -0.5 (Keys), support 2 input pixels. When
//   shrinking by a factor f > 1 the kernel is stretched by f (support 2f): that is PIL's antialiasing,
//   and the reason cv::resize(INTER_CUBIC) -- fixed 4 taps -- differs from it.
// - Output pixel i of an axis is centred at (i + 0.5) * in/out; its taps are the input pixels
//   [round(c - support), round(c + support)) clipped to the image, weights normalised to sum to 1.
// - Weights become 22-bit fixed point (PRECISION_BITS = 32 - 8 - 2, rounded away from zero); sums start
//   at 0.5 (1 << 21) and are floored and clipped to [0, 255].
// - Horizontal pass first (only over the rows the vertical pass reads), rounded to 8 bits, then the
//   vertical pass. An axis whose size does not change is not filtered at all.
#pragma once
#include <opencv2/core/mat.hpp>

namespace sct {

// `src`: CV_8UC1, CV_8UC3 or CV_8UC4 (channels are filtered independently, so the channel order does
// not matter). Returns a new Mat of the same type, `width` x `height` (both > 0).
cv::Mat pil_resize_bicubic(const cv::Mat& src, int width, int height);

// Same, into `dst`, which must already have the output size and src's type; it may be a view into a
// larger buffer (an ImageCache slot), so nothing is allocated per image.
void pil_resize_bicubic(const cv::Mat& src, cv::Mat& dst);

}  // namespace sct
