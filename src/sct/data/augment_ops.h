// The image operations of timm 0.6.5's RandAugment, with Pillow's semantics, on RGB uint8 images.
//
// timm (timm/data/auto_augment.py) runs every op through Pillow; these functions reproduce the
// Pillow calls it makes, with the op's argument already resolved (the magnitude -> argument
// mapping lives in rand_augment.h). Images are CV_8UC3 in R,G,B order and are modified in place
// (the pixels of the caller's buffer are overwritten, so ROI views stay views).
//
// Exactness against Pillow 9.4 (tests/fixtures/augment, tools/make_augment_fixtures.py):
//   - the point ops (ImageOps) and the ImageEnhance ops are bit-exact;
//   - the geometric ops use cv::warpAffine with the same sampling geometry as Pillow's
//     Image.transform, but not Pillow's kernel: Pillow's affine BICUBIC is a cubic convolution
//     with a = -1 whose result is truncated, whose border taps are clamped to the edge and which
//     writes the fill only where the sample point falls outside the image; OpenCV's INTER_CUBIC
//     uses a = -0.75, rounds, and BORDER_CONSTANT mixes the fill into the taps near the edge.
//     Whole-pixel sample positions (integer shifts, quarter turns of a square) are exact; elsewhere
//     values differ by at most 2 levels (mean ~0.5, mostly Pillow's truncation) away from the
//     input's edge, and by more within 2 px of it. Augmentation does not need more.
#pragma once
#include <opencv2/core.hpp>

namespace sct {

// ---- ImageOps: per-channel lookup tables --------------------------------------------------------

// ImageOps.autocontrast(cutoff=0): per channel, stretches [min, max] to [0, 255] with Pillow's
// table int(v * 255 / (max - min) - min * 255 / (max - min)); a flat channel is left unchanged.
void auto_contrast(cv::Mat& rgb);

// ImageOps.equalize: per channel, Pillow's histogram equalisation table (see the .cpp).
void equalize(cv::Mat& rgb);

// ImageOps.invert: v -> 255 - v.
void invert(cv::Mat& rgb);

// ImageOps.posterize: keeps the `bits` most significant bits (<= 0 -> black, >= 8 -> unchanged).
void posterize(cv::Mat& rgb, int bits);

// ImageOps.solarize: v -> 255 - v for v >= threshold (threshold >= 256 -> unchanged).
void solarize(cv::Mat& rgb, int threshold);

// timm's solarize_add: v -> min(255, v + add) for v < threshold.
void solarize_add(cv::Mat& rgb, int add, int threshold = 128);

// ---- ImageEnhance: Image.blend(degenerate, image, factor) ----------------------------------------
// factor 1 leaves the image unchanged, 0 gives the degenerate image, > 1 extrapolates (clipped).

// Degenerate: the grayscale image (Pillow's convert("L")) as RGB.
void enhance_color(cv::Mat& rgb, double factor);

// Degenerate: a flat gray at the rounded mean of the grayscale image.
void enhance_contrast(cv::Mat& rgb, double factor);

// Degenerate: black.
void enhance_brightness(cv::Mat& rgb, double factor);

// Degenerate: the image smoothed by Pillow's SMOOTH kernel [[1,1,1],[1,5,1],[1,1,1]] / 13, whose
// outermost rows and columns are copies of the input (so the border never changes).
void enhance_sharpness(cv::Mat& rgb, double factor);

// ---- Geometric (bicubic, fill colour outside the input) -----------------------------------------

// Image.rotate(degrees): counter-clockwise about the image centre, same size (corners cut).
void rotate(cv::Mat& rgb, double degrees, const cv::Scalar& fill);

// Image.transform AFFINE (1, factor, 0, 0, 1, 0): output (x, y) samples input (x + factor * y, y).
void shear_x(cv::Mat& rgb, double factor, const cv::Scalar& fill);

// Image.transform AFFINE (1, 0, 0, factor, 1, 0): output (x, y) samples input (x, y + factor * x).
void shear_y(cv::Mat& rgb, double factor, const cv::Scalar& fill);

// Image.transform AFFINE (1, 0, pixels, 0, 1, 0): output (x, y) samples input (x + pixels, y), so
// a positive shift moves the content left.
void translate_x(cv::Mat& rgb, double pixels, const cv::Scalar& fill);

// Image.transform AFFINE (1, 0, 0, 0, 1, pixels): a positive shift moves the content up.
void translate_y(cv::Mat& rgb, double pixels, const cv::Scalar& fill);

}  // namespace sct
