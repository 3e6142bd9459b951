#include "sct/data/rand_augment.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <sstream>
#include <utility>

#include "sct/core/deterministic_random.h"
#include "sct/core/error.h"
#include "sct/data/augment_ops.h"

namespace sct {
namespace {

constexpr double kLevelDenom = 10.0;  // timm's _LEVEL_DENOM: magnitudes are on a 0..10 scale
constexpr double kPi = 3.14159265358979323846;

// timm's _randomly_negate: `-v if random.random() > 0.5 else v`.
double randomly_negate(double v, std::mt19937_64& rng) { return uniform01(rng) > 0.5 ? -v : v; }

// The level functions keep timm's evaluation order ((m / 10) * k) so that int() truncates alike.
int posterize_bits(double m) { return static_cast<int>((m / kLevelDenom) * 4); }
int solarize_threshold(double m) { return static_cast<int>((m / kLevelDenom) * 256); }
double enhance_factor(double m) { return (m / kLevelDenom) * 1.8 + 0.1; }
// timm's 0.1 floor; with m clipped to 10 it only turns 1 - 0.9 = 0.09999999999999998 into 0.1.
double enhance_increasing_factor(double m, std::mt19937_64& rng) {
  return std::max(0.1, 1.0 + randomly_negate((m / kLevelDenom) * 0.9, rng));
}

// Parses a whole unsigned integer (timm's int(val); the section's value starts with a digit).
int parse_int(const std::string& section, const std::string& value) {
  if (value.empty() ||
      !std::all_of(value.begin(), value.end(), [](unsigned char c) { return std::isdigit(c); }) ||
      value.size() > 9)
    throw Error("RandAugment section '" + section + "': expected an integer, got '" + value + "'");
  return std::stoi(value);
}

double parse_double(const std::string& section, const std::string& value) {
  std::size_t used = 0;
  double v = 0;
  try {
    v = std::stod(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != value.size())
    throw Error("RandAugment section '" + section + "': expected a number, got '" + value + "'");
  return v;
}

}  // namespace

const char* augment_op_name(AugmentOp op) {
  switch (op) {
    case AugmentOp::AutoContrast: return "AutoContrast";
    case AugmentOp::Equalize: return "Equalize";
    case AugmentOp::Invert: return "Invert";
    case AugmentOp::Rotate: return "Rotate";
    case AugmentOp::Posterize: return "Posterize";
    case AugmentOp::PosterizeIncreasing: return "PosterizeIncreasing";
    case AugmentOp::Solarize: return "Solarize";
    case AugmentOp::SolarizeIncreasing: return "SolarizeIncreasing";
    case AugmentOp::SolarizeAdd: return "SolarizeAdd";
    case AugmentOp::Color: return "Color";
    case AugmentOp::ColorIncreasing: return "ColorIncreasing";
    case AugmentOp::Contrast: return "Contrast";
    case AugmentOp::ContrastIncreasing: return "ContrastIncreasing";
    case AugmentOp::Brightness: return "Brightness";
    case AugmentOp::BrightnessIncreasing: return "BrightnessIncreasing";
    case AugmentOp::Sharpness: return "Sharpness";
    case AugmentOp::SharpnessIncreasing: return "SharpnessIncreasing";
    case AugmentOp::ShearX: return "ShearX";
    case AugmentOp::ShearY: return "ShearY";
    case AugmentOp::TranslateXRel: return "TranslateXRel";
    case AugmentOp::TranslateYRel: return "TranslateYRel";
  }
  throw Error("augment_op_name: invalid AugmentOp " + std::to_string(static_cast<int>(op)));
}

const std::vector<AugmentOp>& rand_augment_ops(bool increasing) {
  using O = AugmentOp;
  static const std::vector<AugmentOp> plain = {O::AutoContrast, O::Equalize,      O::Invert,       O::Rotate,
                                               O::Posterize,    O::Solarize,      O::SolarizeAdd,  O::Color,
                                               O::Contrast,     O::Brightness,    O::Sharpness,    O::ShearX,
                                               O::ShearY,       O::TranslateXRel, O::TranslateYRel};
  static const std::vector<AugmentOp> increasing_set = {O::AutoContrast,
                                                        O::Equalize,
                                                        O::Invert,
                                                        O::Rotate,
                                                        O::PosterizeIncreasing,
                                                        O::SolarizeIncreasing,
                                                        O::SolarizeAdd,
                                                        O::ColorIncreasing,
                                                        O::ContrastIncreasing,
                                                        O::BrightnessIncreasing,
                                                        O::SharpnessIncreasing,
                                                        O::ShearX,
                                                        O::ShearY,
                                                        O::TranslateXRel,
                                                        O::TranslateYRel};
  return increasing ? increasing_set : plain;
}

RandAugmentConfig RandAugmentConfig::parse(const std::string& spec) {
  std::vector<std::string> sections;
  std::stringstream stream(spec);
  for (std::string s; std::getline(stream, s, '-');) sections.push_back(s);
  if (sections.empty() || sections[0] != "rand")
    throw Error("RandAugment spec '" + spec + "' must start with 'rand' (e.g. rand-m9-mstd0.5-inc1)");

  RandAugmentConfig c;  // timm's defaults for what the string can set:
  c.magnitude = kLevelDenom;
  c.num_ops = 2;
  c.magnitude_std = 0;
  c.magnitude_max = kLevelDenom;
  c.ops = rand_augment_ops(false);
  for (std::size_t i = 1; i < sections.size(); ++i) {
    // timm splits each section at its first digit: key before, value from there on.
    const std::string& s = sections[i];
    const std::size_t digit =
        std::find_if(s.begin(), s.end(), [](unsigned char ch) { return std::isdigit(ch); }) - s.begin();
    const std::string key = s.substr(0, digit);
    const std::string value = s.substr(std::min(digit, s.size()));
    if (value.empty())
      throw Error("RandAugment spec '" + spec + "': section '" + s +
                  "' has no value (known: m, n, mstd, mmax, inc)");
    if (key == "m") {
      c.magnitude = parse_int(s, value);
    } else if (key == "n") {
      c.num_ops = parse_int(s, value);
    } else if (key == "mstd") {
      const double mstd = parse_double(s, value);
      c.magnitude_std = mstd > 100 ? std::numeric_limits<double>::infinity() : mstd;
    } else if (key == "mmax") {
      const int mmax = parse_int(s, value);
      c.magnitude_max = mmax == 0 ? kLevelDenom : mmax;  // timm: `magnitude_max or _LEVEL_DENOM`
    } else if (key == "inc") {
      if (value != "1")
        throw Error("RandAugment spec '" + spec + "': only 'inc1' is accepted; timm 0.6.5 treats '" + s +
                    "' as inc1 (bool of a non-empty string), so omit the section for the plain op set");
      c.ops = rand_augment_ops(true);
    } else if (key == "w") {
      throw Error("RandAugment spec '" + spec + "': weighted op choice ('" + s + "') is not implemented");
    } else {
      throw Error("RandAugment spec '" + spec + "': unknown section '" + s +
                  "' (known: m, n, mstd, mmax, inc)");
    }
  }
  c.validate();
  return c;
}

void RandAugmentConfig::validate() const {
  auto fail = [](const std::string& why) { throw Error("RandAugment: " + why); };
  if (num_ops < 0) fail("num_ops must be >= 0, got " + std::to_string(num_ops));
  if (num_ops > 0 && ops.empty()) fail("the op set is empty");
  if (!(magnitude >= 0)) fail("magnitude must be >= 0, got " + std::to_string(magnitude));
  if (!(magnitude_std >= 0)) fail("magnitude_std must be >= 0, got " + std::to_string(magnitude_std));
  if (!(magnitude_max > 0) || std::isinf(magnitude_max))
    fail("magnitude_max must be positive and finite, got " + std::to_string(magnitude_max));
  if (!(prob >= 0 && prob <= 1)) fail("prob must be in [0, 1], got " + std::to_string(prob));
  if (!(translate_pct >= 0) || std::isinf(translate_pct))
    fail("translate_pct must be >= 0 and finite, got " + std::to_string(translate_pct));
  for (int k = 0; k < 3; ++k)
    if (!(fill[k] >= 0 && fill[k] <= 255)) fail("fill values must be in [0, 255]");
}

std::string RandAugmentConfig::describe() const {
  std::ostringstream out;
  out << "RandAugment(n=" << num_ops << ", m=" << magnitude << ", mstd=" << magnitude_std
      << ", mmax=" << magnitude_max << ", p=" << prob << ", fill=(" << fill[0] << "," << fill[1] << ","
      << fill[2] << "), translate_pct=" << translate_pct << ", ops=[";
  for (std::size_t i = 0; i < ops.size(); ++i) out << (i ? ", " : "") << augment_op_name(ops[i]);
  out << "])";
  return out.str();
}

void apply_augment_op(cv::Mat& rgb, AugmentOp op, double m, const RandAugmentConfig& config,
                      std::mt19937_64& rng) {
  const cv::Scalar& fill = config.fill;
  switch (op) {
    case AugmentOp::AutoContrast: return auto_contrast(rgb);
    case AugmentOp::Equalize: return equalize(rgb);
    case AugmentOp::Invert: return invert(rgb);
    case AugmentOp::Rotate: return rotate(rgb, randomly_negate((m / kLevelDenom) * 30.0, rng), fill);
    case AugmentOp::Posterize: return posterize(rgb, posterize_bits(m));
    case AugmentOp::PosterizeIncreasing: return posterize(rgb, 4 - posterize_bits(m));
    case AugmentOp::Solarize: return solarize(rgb, solarize_threshold(m));
    case AugmentOp::SolarizeIncreasing: return solarize(rgb, 256 - solarize_threshold(m));
    case AugmentOp::SolarizeAdd: return solarize_add(rgb, static_cast<int>((m / kLevelDenom) * 110), 128);
    case AugmentOp::Color: return enhance_color(rgb, enhance_factor(m));
    case AugmentOp::ColorIncreasing: return enhance_color(rgb, enhance_increasing_factor(m, rng));
    case AugmentOp::Contrast: return enhance_contrast(rgb, enhance_factor(m));
    case AugmentOp::ContrastIncreasing: return enhance_contrast(rgb, enhance_increasing_factor(m, rng));
    case AugmentOp::Brightness: return enhance_brightness(rgb, enhance_factor(m));
    case AugmentOp::BrightnessIncreasing: return enhance_brightness(rgb, enhance_increasing_factor(m, rng));
    case AugmentOp::Sharpness: return enhance_sharpness(rgb, enhance_factor(m));
    case AugmentOp::SharpnessIncreasing: return enhance_sharpness(rgb, enhance_increasing_factor(m, rng));
    case AugmentOp::ShearX: return shear_x(rgb, randomly_negate((m / kLevelDenom) * 0.3, rng), fill);
    case AugmentOp::ShearY: return shear_y(rgb, randomly_negate((m / kLevelDenom) * 0.3, rng), fill);
    // timm's translate_x_rel: pixels = pct * img.size[0] (width), unrounded.
    case AugmentOp::TranslateXRel:
      return translate_x(rgb, randomly_negate((m / kLevelDenom) * config.translate_pct, rng) * rgb.cols,
                         fill);
    case AugmentOp::TranslateYRel:
      return translate_y(rgb, randomly_negate((m / kLevelDenom) * config.translate_pct, rng) * rgb.rows,
                         fill);
  }
  throw Error("apply_augment_op: invalid AugmentOp " + std::to_string(static_cast<int>(op)));
}

RandAugment::RandAugment(RandAugmentConfig config) : config_(std::move(config)) { config_.validate(); }

AugmentOp RandAugment::choose_op(std::mt19937_64& rng) const {
  return config_.ops[uniform_below(rng, config_.ops.size())];
}

// timm's AugmentOp.__call__: gauss(m, mstd) (or uniform(0, m) when mstd is infinite), then
// max(0, min(m, mmax)). With mstd 0 the magnitude is fixed and nothing is drawn.
double RandAugment::sample_magnitude(std::mt19937_64& rng) const {
  double m = config_.magnitude;
  if (std::isinf(config_.magnitude_std))
    m = m * uniform01(rng);
  else if (config_.magnitude_std > 0)
    m = m + config_.magnitude_std * standard_normal(rng);
  return std::max(0.0, std::min(m, config_.magnitude_max));
}

void RandAugment::operator()(cv::Mat& rgb, std::mt19937_64& rng) const {
  if (rgb.empty() || rgb.type() != CV_8UC3) throw Error("RandAugment: expected a non-empty 8-bit RGB image");
  // timm draws all ops first (np.random.choice with replacement), then runs them in order.
  std::vector<AugmentOp> chosen;
  chosen.reserve(config_.num_ops);
  for (int i = 0; i < config_.num_ops; ++i) chosen.push_back(choose_op(rng));
  for (const AugmentOp op : chosen) {
    if (config_.prob < 1.0 && uniform01(rng) > config_.prob) continue;  // timm: skip if random() > prob
    apply_augment_op(rgb, op, sample_magnitude(rng), config_, rng);
  }
}

}  // namespace sct
