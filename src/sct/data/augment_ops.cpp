#include "sct/data/augment_ops.h"

#include <array>
#include <cmath>
#include <cstdint>
#include <opencv2/imgproc.hpp>
#include <string>

#include "sct/core/error.h"

namespace sct {
namespace {

using Histogram = std::array<int64_t, 256>;
using Lut = std::array<uint8_t, 256>;

constexpr double kPi = 3.14159265358979323846;

void check_rgb(const cv::Mat& rgb, const char* op) {
  if (rgb.empty() || rgb.type() != CV_8UC3)
    throw Error(std::string(op) + ": expected a non-empty 8-bit 3-channel (RGB) image, got type " +
                std::to_string(rgb.type()) + " of " + std::to_string(rgb.cols) + "x" +
                std::to_string(rgb.rows));
}

std::array<Histogram, 3> channel_histograms(const cv::Mat& rgb) {
  std::array<Histogram, 3> h{};
  for (int y = 0; y < rgb.rows; ++y) {
    const uint8_t* p = rgb.ptr<uint8_t>(y);
    for (int x = 0; x < rgb.cols; ++x, p += 3) {
      ++h[0][p[0]];
      ++h[1][p[1]];
      ++h[2][p[2]];
    }
  }
  return h;
}

// Pillow's Image.point with one table per band.
void apply_luts(cv::Mat& rgb, const std::array<Lut, 3>& luts) {
  for (int y = 0; y < rgb.rows; ++y) {
    uint8_t* p = rgb.ptr<uint8_t>(y);
    for (int x = 0; x < rgb.cols; ++x, p += 3) {
      p[0] = luts[0][p[0]];
      p[1] = luts[1][p[1]];
      p[2] = luts[2][p[2]];
    }
  }
}

void apply_lut(cv::Mat& rgb, const Lut& lut) { apply_luts(rgb, {lut, lut, lut}); }

Lut identity_lut() {
  Lut lut;
  for (int i = 0; i < 256; ++i) lut[i] = static_cast<uint8_t>(i);
  return lut;
}

// ImageOps.autocontrast with cutoff 0: the table is computed in double precision as
// int(i * scale + offset) with scale = 255 / (hi - lo), offset = -lo * scale, then clipped.
Lut auto_contrast_lut(const Histogram& h) {
  int lo = 0;
  while (lo < 256 && h[lo] == 0) ++lo;
  int hi = 255;
  while (hi >= 0 && h[hi] == 0) --hi;
  if (hi <= lo) return identity_lut();
  const double scale = 255.0 / (hi - lo);
  const double offset = -lo * scale;
  Lut lut;
  for (int i = 0; i < 256; ++i) {
    const int v = static_cast<int>(i * scale + offset);  // Python's int(): toward zero
    lut[i] = static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
  }
  return lut;
}

// ImageOps.equalize: step = (pixels - count of the highest occupied level) // 255; level i maps to
// (step // 2 + pixels below i) // step. With one occupied level, or step 0, the channel is kept.
// The highest level can map to 256, which Image.point clips to 255.
Lut equalize_lut(const Histogram& h) {
  int64_t total = 0;
  int occupied = 0;
  int last = 0;
  for (int i = 0; i < 256; ++i) {
    if (h[i] == 0) continue;
    total += h[i];
    ++occupied;
    last = i;
  }
  if (occupied <= 1) return identity_lut();
  const int64_t step = (total - h[last]) / 255;
  if (step == 0) return identity_lut();
  Lut lut;
  int64_t n = step / 2;
  for (int i = 0; i < 256; ++i) {
    const int64_t v = n / step;
    lut[i] = static_cast<uint8_t>(v > 255 ? 255 : v);
    n += h[i];
  }
  return lut;
}

// Pillow's Image.blend(degenerate, image, alpha) (libImaging/Blend.c): alpha is a float32 and the
// blend is evaluated in float32, truncated toward zero and clipped to [0, 255].
inline uint8_t blend_value(int degenerate, int value, float alpha) {
  const float v = static_cast<float>(degenerate) + alpha * static_cast<float>(value - degenerate);
  if (v <= 0.0f) return 0;
  if (v >= 255.0f) return 255;
  return static_cast<uint8_t>(v);
}

void blend_with(cv::Mat& rgb, const cv::Mat& degenerate, double factor) {
  const float alpha = static_cast<float>(factor);
  for (int y = 0; y < rgb.rows; ++y) {
    uint8_t* p = rgb.ptr<uint8_t>(y);
    const uint8_t* d = degenerate.ptr<uint8_t>(y);
    for (int i = 0; i < rgb.cols * 3; ++i) p[i] = blend_value(d[i], p[i], alpha);
  }
}

void blend_with_constant(cv::Mat& rgb, int degenerate, double factor) {
  const float alpha = static_cast<float>(factor);
  for (int y = 0; y < rgb.rows; ++y) {
    uint8_t* p = rgb.ptr<uint8_t>(y);
    for (int i = 0; i < rgb.cols * 3; ++i) p[i] = blend_value(degenerate, p[i], alpha);
  }
}

// Pillow's convert("L") (libImaging/Convert.c, ITU-R 601-2 luma in 16-bit fixed point):
// (19595 R + 38470 G + 7471 B + 0x8000) >> 16. The weights sum to 65536, so gray stays gray.
inline uint8_t luma(const uint8_t* p) {
  return static_cast<uint8_t>((p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16);
}

// ImageFilter.SMOOTH through libImaging/Filter.c (ImagingFilter3x3): float32 kernel weights
// 1/13 and 5/13, sums accumulated row by row (y+1, y, y-1) onto a 0.5 rounding offset, then
// truncated and clipped; the first and last row and column are copied from the input.
cv::Mat pil_smooth(const cv::Mat& rgb) {
  cv::Mat out = rgb.clone();
  const float k1 = 1.0f / 13.0f;
  const float k5 = 5.0f / 13.0f;
  for (int y = 1; y + 1 < rgb.rows; ++y) {
    const uint8_t* above = rgb.ptr<uint8_t>(y - 1);
    const uint8_t* row = rgb.ptr<uint8_t>(y);
    const uint8_t* below = rgb.ptr<uint8_t>(y + 1);
    uint8_t* o = out.ptr<uint8_t>(y);
    for (int i = 3; i < (rgb.cols - 1) * 3; ++i) {
      float s = 0.5f;
      s += static_cast<float>(below[i - 3]) * k1 + static_cast<float>(below[i]) * k1 +
           static_cast<float>(below[i + 3]) * k1;
      s += static_cast<float>(row[i - 3]) * k1 + static_cast<float>(row[i]) * k5 +
           static_cast<float>(row[i + 3]) * k1;
      s += static_cast<float>(above[i - 3]) * k1 + static_cast<float>(above[i]) * k1 +
           static_cast<float>(above[i + 3]) * k1;
      o[i] = s <= 0.0f ? 0 : (s >= 255.0f ? 255 : static_cast<uint8_t>(s));
    }
  }
  return out;
}

// Pillow's Image.transform(AFFINE, (a, b, c, d, e, f)) computes, for output pixel (x, y), the
// sample point (a, b; d, e) (x + 0.5, y + 0.5) + (c, f) in coordinates where pixel i spans
// [i, i + 1). OpenCV puts pixel centres at integers, so its inverse map gets the extra offset
// (a, b; d, e) (0.5, 0.5) - 0.5.
void warp_like_pil(cv::Mat& rgb, double a, double b, double c, double d, double e, double f,
                   const cv::Scalar& fill) {
  const cv::Matx23d inverse(a, b, c + 0.5 * (a + b) - 0.5,  //
                            d, e, f + 0.5 * (d + e) - 0.5);
  cv::Mat out;
  cv::warpAffine(rgb, out, inverse, rgb.size(), cv::INTER_CUBIC | cv::WARP_INVERSE_MAP, cv::BORDER_CONSTANT,
                 fill);
  out.copyTo(rgb);
}

}  // namespace

void auto_contrast(cv::Mat& rgb) {
  check_rgb(rgb, "auto_contrast");
  const auto h = channel_histograms(rgb);
  apply_luts(rgb, {auto_contrast_lut(h[0]), auto_contrast_lut(h[1]), auto_contrast_lut(h[2])});
}

void equalize(cv::Mat& rgb) {
  check_rgb(rgb, "equalize");
  const auto h = channel_histograms(rgb);
  apply_luts(rgb, {equalize_lut(h[0]), equalize_lut(h[1]), equalize_lut(h[2])});
}

void invert(cv::Mat& rgb) {
  check_rgb(rgb, "invert");
  Lut lut;
  for (int i = 0; i < 256; ++i) lut[i] = static_cast<uint8_t>(255 - i);
  apply_lut(rgb, lut);
}

void posterize(cv::Mat& rgb, int bits) {
  check_rgb(rgb, "posterize");
  if (bits >= 8) return;  // timm returns the image unchanged
  // Pillow's mask ~(2 ** (8 - bits) - 1) keeps no bit of a byte for bits <= 0.
  const int mask = bits <= 0 ? 0 : ~((1 << (8 - bits)) - 1) & 0xff;
  Lut lut;
  for (int i = 0; i < 256; ++i) lut[i] = static_cast<uint8_t>(i & mask);
  apply_lut(rgb, lut);
}

void solarize(cv::Mat& rgb, int threshold) {
  check_rgb(rgb, "solarize");
  Lut lut;
  for (int i = 0; i < 256; ++i) lut[i] = static_cast<uint8_t>(i < threshold ? i : 255 - i);
  apply_lut(rgb, lut);
}

void solarize_add(cv::Mat& rgb, int add, int threshold) {
  check_rgb(rgb, "solarize_add");
  Lut lut;
  for (int i = 0; i < 256; ++i) {
    const int v = i < threshold ? i + add : i;
    lut[i] = static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
  }
  apply_lut(rgb, lut);
}

void enhance_color(cv::Mat& rgb, double factor) {
  check_rgb(rgb, "enhance_color");
  cv::Mat gray(rgb.size(), CV_8UC3);
  for (int y = 0; y < rgb.rows; ++y) {
    const uint8_t* p = rgb.ptr<uint8_t>(y);
    uint8_t* g = gray.ptr<uint8_t>(y);
    for (int x = 0; x < rgb.cols; ++x, p += 3, g += 3) g[0] = g[1] = g[2] = luma(p);
  }
  blend_with(rgb, gray, factor);
}

void enhance_contrast(cv::Mat& rgb, double factor) {
  check_rgb(rgb, "enhance_contrast");
  // ImageStat's mean of the L image, as a double, rounded by int(mean + 0.5).
  int64_t sum = 0;
  for (int y = 0; y < rgb.rows; ++y) {
    const uint8_t* p = rgb.ptr<uint8_t>(y);
    for (int x = 0; x < rgb.cols; ++x, p += 3) sum += luma(p);
  }
  const double mean = static_cast<double>(sum) / (static_cast<double>(rgb.rows) * rgb.cols);
  blend_with_constant(rgb, static_cast<int>(mean + 0.5), factor);
}

void enhance_brightness(cv::Mat& rgb, double factor) {
  check_rgb(rgb, "enhance_brightness");
  blend_with_constant(rgb, 0, factor);
}

void enhance_sharpness(cv::Mat& rgb, double factor) {
  check_rgb(rgb, "enhance_sharpness");
  blend_with(rgb, pil_smooth(rgb), factor);
}

void rotate(cv::Mat& rgb, double degrees, const cv::Scalar& fill) {
  check_rgb(rgb, "rotate");
  // Image.rotate builds the inverse map (cos t, -sin t; sin t, cos t) about the centre
  // (w / 2, h / 2), with t the angle in radians (positive = counter-clockwise on screen).
  const double t = degrees * (kPi / 180.0);  // Python's math.radians
  const double cx = rgb.cols / 2.0;
  const double cy = rgb.rows / 2.0;
  const double a = std::cos(t), b = -std::sin(t), d = std::sin(t), e = std::cos(t);
  warp_like_pil(rgb, a, b, cx - a * cx - b * cy, d, e, cy - d * cx - e * cy, fill);
}

void shear_x(cv::Mat& rgb, double factor, const cv::Scalar& fill) {
  check_rgb(rgb, "shear_x");
  warp_like_pil(rgb, 1, factor, 0, 0, 1, 0, fill);
}

void shear_y(cv::Mat& rgb, double factor, const cv::Scalar& fill) {
  check_rgb(rgb, "shear_y");
  warp_like_pil(rgb, 1, 0, 0, factor, 1, 0, fill);
}

void translate_x(cv::Mat& rgb, double pixels, const cv::Scalar& fill) {
  check_rgb(rgb, "translate_x");
  warp_like_pil(rgb, 1, 0, pixels, 0, 1, 0, fill);
}

void translate_y(cv::Mat& rgb, double pixels, const cv::Scalar& fill) {
  check_rgb(rgb, "translate_y");
  warp_like_pil(rgb, 1, 0, 0, 0, 1, pixels, fill);
}

}  // namespace sct
