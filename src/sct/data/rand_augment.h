// RandAugment (Cubuk et al. 2020) as timm 0.6.5 implements it (timm/data/auto_augment.py:
// rand_augment_transform, RandAugment, AugmentOp), on RGB uint8 images.
//
// Per image: draw num_ops ops uniformly with replacement from the op set; then for each, in order:
// skip it unless a uniform draw is <= prob; draw the magnitude (m plus Gaussian noise, clipped to
// [0, magnitude_max]); map it to the op's argument (below; signed ops draw their sign); apply.
// The SCT reference uses "rand-m9-mstd0.5-inc1" with fill (124, 116, 104) and bicubic resampling,
// which are this struct's defaults. Randomness comes only from the caller's generator, through
// draws that depend on nothing else (deterministic_random.h), so a per-sample seed gives a
// per-sample reproducible image on every platform; the draws are not Python's, so the images
// match timm's in distribution, not one for one.
//
// Magnitude -> argument, m on timm's 0..10 scale (_LEVEL_DENOM = 10), as timm's *_level_to_arg:
//   Rotate                 degrees = m/10 * 30, random sign
//   ShearX, ShearY         factor  = m/10 * 0.3, random sign
//   TranslateX/YRel        pixels  = m/10 * translate_pct * width (height), random sign
//   Posterize              bits    = int(m/10 * 4)              (severity falls with m)
//   PosterizeIncreasing    bits    = 4 - int(m/10 * 4)
//   Solarize               thresh  = int(m/10 * 256)            (severity falls with m)
//   SolarizeIncreasing     thresh  = 256 - int(m/10 * 256)
//   SolarizeAdd            add     = int(m/10 * 110), to pixels below 128
//   Color, Contrast, Brightness, Sharpness            factor = m/10 * 1.8 + 0.1
//   ColorIncreasing ... SharpnessIncreasing           factor = max(0.1, 1 + sign * m/10 * 0.9)
//   AutoContrast, Equalize, Invert                    no argument
// "random sign" is timm's _randomly_negate: negative when a uniform draw is > 0.5.
#pragma once
#include <opencv2/core.hpp>
#include <random>
#include <string>
#include <vector>

namespace sct {

enum class AugmentOp {
  AutoContrast,
  Equalize,
  Invert,
  Rotate,
  Posterize,
  PosterizeIncreasing,
  Solarize,
  SolarizeIncreasing,
  SolarizeAdd,
  Color,
  ColorIncreasing,
  Contrast,
  ContrastIncreasing,
  Brightness,
  BrightnessIncreasing,
  Sharpness,
  SharpnessIncreasing,
  ShearX,
  ShearY,
  TranslateXRel,
  TranslateYRel,
};

// timm's op name, e.g. "PosterizeIncreasing".
const char* augment_op_name(AugmentOp op);

// timm's _RAND_INCREASING_TRANSFORMS (increasing = true) or _RAND_TRANSFORMS: 15 ops each.
const std::vector<AugmentOp>& rand_augment_ops(bool increasing);

struct RandAugmentConfig {
  int num_ops = 2;             // n: ops drawn per image, uniformly with replacement
  double magnitude = 9;        // m, on the 0..10 scale
  double magnitude_std = 0.5;  // mstd: std of the per-op Gaussian noise on m; infinity = uniform in [0, m]
  double magnitude_max = 10;   // mmax: the noisy magnitude is clipped to [0, magnitude_max]
  double prob = 0.5;           // probability that a drawn op is applied
  std::vector<AugmentOp> ops = rand_augment_ops(true);
  cv::Scalar fill{124, 116, 104};  // R, G, B written where geometric ops leave the input
  // TranslateXRel/YRel move by up to translate_pct of the image size: timm's default 0.45, i.e.
  // 100.8 px at 224 (timm's absolute TranslateX/Y would use translate_const = int(224 * 0.45) =
  // 100, but they are not in either RandAugment op set).
  double translate_pct = 0.45;

  // Parses timm's RandAugment string: "rand" then dash-separated sections m<int>, n<int>,
  // mstd<float> (> 100 means uniform sampling), mmax<int> (0 means the default 10) and inc1.
  // Starts from timm's defaults (m 10, n 2, mstd 0, the non-increasing op set); fill and
  // translate_pct, which the string cannot express, keep the SCT reference's values above.
  // Stricter than timm: unknown or digit-less sections throw (timm skips digit-less ones), and
  // "inc0" throws because timm reads it as bool("0") == True, i.e. as inc1. The weighted op
  // choice "w<int>" is not implemented and throws.
  static RandAugmentConfig parse(const std::string& spec);

  void validate() const;         // throws sct::Error on an impossible configuration
  std::string describe() const;  // one line with every resolved value, for logs
};

// Applies one op at an already-sampled magnitude (drawing the sign, for signed ops, from rng).
void apply_augment_op(cv::Mat& rgb, AugmentOp op, double magnitude, const RandAugmentConfig& config,
                      std::mt19937_64& rng);

class RandAugment {
 public:
  explicit RandAugment(RandAugmentConfig config);  // validates

  // Augments a CV_8UC3 RGB image in place.
  void operator()(cv::Mat& rgb, std::mt19937_64& rng) const;

  // The two draws operator() makes per op, exposed so tests can check their distributions.
  AugmentOp choose_op(std::mt19937_64& rng) const;
  double sample_magnitude(std::mt19937_64& rng) const;

  const RandAugmentConfig& config() const { return config_; }

 private:
  RandAugmentConfig config_;
};

}  // namespace sct
