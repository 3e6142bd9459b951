#include "sct/data/rand_augment.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "sct/core/error.h"
#include "sct/data/augment_ops.h"

namespace sct {
namespace {

// Values in 16..239, so that every op (autocontrast included) changes the image.
cv::Mat mid_range_image(int width, int height, uint64_t seed) {
  cv::Mat m(height, width, CV_8UC3);
  std::mt19937_64 rng(seed);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < 3; ++c) m.at<cv::Vec3b>(y, x)[c] = static_cast<uint8_t>(16 + rng() % 224);
  return m;
}

bool same_image(const cv::Mat& a, const cv::Mat& b) { return cv::norm(a, b, cv::NORM_INF) == 0; }

std::vector<std::string> names(const std::vector<AugmentOp>& ops) {
  std::vector<std::string> out;
  for (AugmentOp op : ops) out.push_back(augment_op_name(op));
  return out;
}

// A config that applies exactly one given op, always, at exactly magnitude m.
RandAugmentConfig only(AugmentOp op, double m) {
  RandAugmentConfig c;
  c.ops = {op};
  c.num_ops = 1;
  c.prob = 1.0;
  c.magnitude = m;
  c.magnitude_std = 0.0;
  return c;
}

// ---- Configuration -------------------------------------------------------------------------------

TEST(RandAugmentConfigTest, OpSetsAreTimms) {
  EXPECT_EQ(names(rand_augment_ops(true)),
            (std::vector<std::string>{"AutoContrast", "Equalize", "Invert", "Rotate", "PosterizeIncreasing",
                                      "SolarizeIncreasing", "SolarizeAdd", "ColorIncreasing",
                                      "ContrastIncreasing", "BrightnessIncreasing", "SharpnessIncreasing",
                                      "ShearX", "ShearY", "TranslateXRel", "TranslateYRel"}));
  EXPECT_EQ(names(rand_augment_ops(false)),
            (std::vector<std::string>{"AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize",
                                      "SolarizeAdd", "Color", "Contrast", "Brightness", "Sharpness", "ShearX",
                                      "ShearY", "TranslateXRel", "TranslateYRel"}));
}

TEST(RandAugmentConfigTest, ParsesTheReferenceSpecIntoTheDefaults) {
  const RandAugmentConfig c = RandAugmentConfig::parse("rand-m9-mstd0.5-inc1");
  const RandAugmentConfig d;
  EXPECT_EQ(c.num_ops, 2);
  EXPECT_EQ(c.magnitude, 9.0);
  EXPECT_EQ(c.magnitude_std, 0.5);
  EXPECT_EQ(c.magnitude_max, 10.0);
  EXPECT_EQ(c.prob, 0.5);
  EXPECT_EQ(c.ops, rand_augment_ops(true));
  EXPECT_EQ(c.fill, cv::Scalar(124, 116, 104));
  EXPECT_EQ(c.translate_pct, 0.45);
  EXPECT_EQ(c.describe(), d.describe());
}

TEST(RandAugmentConfigTest, ParseStartsFromTimmsDefaults) {
  const RandAugmentConfig c = RandAugmentConfig::parse("rand");
  EXPECT_EQ(c.magnitude, 10.0);
  EXPECT_EQ(c.num_ops, 2);
  EXPECT_EQ(c.magnitude_std, 0.0);
  EXPECT_EQ(c.ops, rand_augment_ops(false));
}

TEST(RandAugmentConfigTest, ParsesEveryKeyInAnyOrder) {
  const RandAugmentConfig c = RandAugmentConfig::parse("rand-inc1-n3-mmax12-mstd1.25-m7");
  EXPECT_EQ(c.num_ops, 3);
  EXPECT_EQ(c.magnitude, 7.0);
  EXPECT_EQ(c.magnitude_std, 1.25);
  EXPECT_EQ(c.magnitude_max, 12.0);
  EXPECT_EQ(c.ops, rand_augment_ops(true));
  // timm: mstd > 100 means uniform sampling in [0, m]; mmax0 falls back to 10.
  EXPECT_EQ(RandAugmentConfig::parse("rand-mstd101").magnitude_std, std::numeric_limits<double>::infinity());
  EXPECT_EQ(RandAugmentConfig::parse("rand-mmax0").magnitude_max, 10.0);
}

TEST(RandAugmentConfigTest, ParseRejectsWhatItCannotHonour) {
  for (const char* spec : {"", "auto-m9", "rand-x3", "rand-m", "rand-m9x", "rand-m9.5", "rand-mstd",
                           "rand-mstd0.5.1", "rand-inc0", "rand-inc2", "rand-w0", "rand-m9--n2", "rand-9"}) {
    EXPECT_THROW(RandAugmentConfig::parse(spec), Error) << spec;
  }
  try {
    RandAugmentConfig::parse("rand-m9-foo1");
    ADD_FAILURE() << "expected sct::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("foo1"), std::string::npos) << e.what();
  }
}

TEST(RandAugmentConfigTest, ValidateRejectsImpossibleValues) {
  auto with = [](auto edit) {
    RandAugmentConfig c;
    edit(c);
    return c;
  };
  EXPECT_NO_THROW(RandAugment(RandAugmentConfig{}));
  EXPECT_THROW(RandAugment(with([](RandAugmentConfig& c) { c.prob = 1.5; })), Error);
  EXPECT_THROW(RandAugment(with([](RandAugmentConfig& c) { c.num_ops = -1; })), Error);
  EXPECT_THROW(RandAugment(with([](RandAugmentConfig& c) { c.ops.clear(); })), Error);
  EXPECT_THROW(RandAugment(with([](RandAugmentConfig& c) { c.magnitude_std = -0.1; })), Error);
  EXPECT_THROW(RandAugment(with([](RandAugmentConfig& c) { c.magnitude = std::nan(""); })), Error);
  EXPECT_THROW(RandAugment(with([](RandAugmentConfig& c) { c.magnitude_max = 0; })), Error);
  EXPECT_THROW(RandAugment(with([](RandAugmentConfig& c) { c.fill = cv::Scalar(300, 0, 0); })), Error);
}

// ---- Magnitude -> argument -----------------------------------------------------------------------

// At m = 9 every op must equal its direct call with timm's argument (for signed ops, one of the two
// signs), and the signs must both occur across seeds.
TEST(RandAugmentTest, MagnitudeMapsToTimmsArguments) {
  const cv::Mat in = mid_range_image(40, 30, 5);
  const cv::Scalar fill(124, 116, 104);
  using Direct = std::function<void(cv::Mat&, double)>;
  struct Case {
    AugmentOp op;
    Direct direct;
    std::vector<double> args;  // the candidate arguments (two for signed ops)
  };
  const std::vector<Case> cases = {
      {AugmentOp::AutoContrast, [](cv::Mat& m, double) { auto_contrast(m); }, {0}},
      {AugmentOp::Equalize, [](cv::Mat& m, double) { equalize(m); }, {0}},
      {AugmentOp::Invert, [](cv::Mat& m, double) { invert(m); }, {0}},
      {AugmentOp::Rotate, [&](cv::Mat& m, double a) { rotate(m, a, fill); }, {27.0, -27.0}},
      {AugmentOp::Posterize, [](cv::Mat& m, double a) { posterize(m, int(a)); }, {3}},            // int(3.6)
      {AugmentOp::PosterizeIncreasing, [](cv::Mat& m, double a) { posterize(m, int(a)); }, {1}},  // 4 - 3
      {AugmentOp::Solarize, [](cv::Mat& m, double a) { solarize(m, int(a)); }, {230}},           // int(230.4)
      {AugmentOp::SolarizeIncreasing, [](cv::Mat& m, double a) { solarize(m, int(a)); }, {26}},  // 256 - 230
      {AugmentOp::SolarizeAdd,
       [](cv::Mat& m, double a) { solarize_add(m, int(a)); },
       {99}},                                                                         // int(99.000..01)
      {AugmentOp::Color, [](cv::Mat& m, double a) { enhance_color(m, a); }, {1.72}},  // 0.9 * 1.8 + 0.1
      {AugmentOp::ColorIncreasing, [](cv::Mat& m, double a) { enhance_color(m, a); }, {1.81, 0.19}},
      {AugmentOp::Contrast, [](cv::Mat& m, double a) { enhance_contrast(m, a); }, {1.72}},
      {AugmentOp::ContrastIncreasing, [](cv::Mat& m, double a) { enhance_contrast(m, a); }, {1.81, 0.19}},
      {AugmentOp::Brightness, [](cv::Mat& m, double a) { enhance_brightness(m, a); }, {1.72}},
      {AugmentOp::BrightnessIncreasing, [](cv::Mat& m, double a) { enhance_brightness(m, a); }, {1.81, 0.19}},
      {AugmentOp::Sharpness, [](cv::Mat& m, double a) { enhance_sharpness(m, a); }, {1.72}},
      {AugmentOp::SharpnessIncreasing, [](cv::Mat& m, double a) { enhance_sharpness(m, a); }, {1.81, 0.19}},
      {AugmentOp::ShearX, [&](cv::Mat& m, double a) { shear_x(m, a, fill); }, {0.27, -0.27}},
      {AugmentOp::ShearY, [&](cv::Mat& m, double a) { shear_y(m, a, fill); }, {0.27, -0.27}},
      // translate_pct 0.45 at m = 9: 0.405 of the width (40) or height (30).
      {AugmentOp::TranslateXRel, [&](cv::Mat& m, double a) { translate_x(m, a, fill); }, {16.2, -16.2}},
      {AugmentOp::TranslateYRel, [&](cv::Mat& m, double a) { translate_y(m, a, fill); }, {12.15, -12.15}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(augment_op_name(c.op));
    std::vector<cv::Mat> expected;
    for (double a : c.args) {
      expected.push_back(in.clone());
      c.direct(expected.back(), a);
      EXPECT_FALSE(same_image(expected.back(), in));  // every op changes this image at m = 9
    }
    std::set<std::size_t> seen;
    for (uint64_t seed = 0; seed < 16; ++seed) {
      std::mt19937_64 rng(seed);
      cv::Mat out = in.clone();
      apply_augment_op(out, c.op, 9.0, only(c.op, 9.0), rng);
      std::size_t match = 0;
      while (match < expected.size() && !same_image(out, expected[match])) ++match;
      ASSERT_LT(match, expected.size()) << "seed " << seed << " matches no candidate argument";
      seen.insert(match);
    }
    EXPECT_EQ(seen.size(), expected.size()) << "not every sign occurred in 16 seeds";
  }
}

TEST(RandAugmentTest, TranslateIs100PixelsAt224AndFullMagnitude) {
  // At m = 10 and 224 px timm shifts by 0.45 * 224 = 100.8 px; the first 123 columns stay valid.
  cv::Mat in(224, 224, CV_8UC3, cv::Scalar(10, 200, 30));
  std::mt19937_64 rng(0);
  cv::Mat out = in.clone();
  apply_augment_op(out, AugmentOp::TranslateXRel, 10.0, only(AugmentOp::TranslateXRel, 10.0), rng);
  int kept = 0;
  for (int x = 0; x < 224; ++x) kept += out.at<cv::Vec3b>(112, x) == cv::Vec3b(10, 200, 30);
  EXPECT_GE(kept, 122);
  EXPECT_LE(kept, 124);
}

// ---- Sampling ------------------------------------------------------------------------------------

TEST(RandAugmentTest, SameSeedSameOutputDifferentSeedsDiffer) {
  const RandAugment augment(RandAugmentConfig::parse("rand-m9-mstd0.5-inc1"));
  const cv::Mat in = mid_range_image(224, 224, 7);
  std::set<std::vector<uint8_t>> distinct;
  for (uint64_t seed = 0; seed < 16; ++seed) {
    cv::Mat a = in.clone(), b = in.clone();
    std::mt19937_64 rng_a(seed), rng_b(seed);
    augment(a, rng_a);
    augment(b, rng_b);
    ASSERT_TRUE(same_image(a, b)) << "seed " << seed;
    distinct.insert(std::vector<uint8_t>(a.datastart, a.dataend));
  }
  // Both ops are skipped with probability 1/4, so a few seeds may leave the image unchanged;
  // otherwise 2 of 15 ops with random magnitudes and signs essentially never coincide.
  EXPECT_GE(distinct.size(), 10u);
}

TEST(RandAugmentTest, ForcedOpIsAlwaysApplied) {
  const cv::Mat in = mid_range_image(32, 32, 8);
  const RandAugment augment(only(AugmentOp::SolarizeIncreasing, 9.0));
  cv::Mat expected = in.clone();
  solarize(expected, 26);
  for (uint64_t seed = 0; seed < 8; ++seed) {
    std::mt19937_64 rng(seed);
    cv::Mat out = in.clone();
    augment(out, rng);
    EXPECT_TRUE(same_image(out, expected)) << "seed " << seed;
  }
}

TEST(RandAugmentTest, EachDrawnOpIsAppliedWithProbabilityP) {
  RandAugmentConfig c = only(AugmentOp::Invert, 9.0);
  c.prob = 0.5;
  const RandAugment augment(c);
  const cv::Mat in = mid_range_image(8, 8, 9);
  std::mt19937_64 rng(3);
  int applied = 0;
  const int trials = 4000;
  for (int i = 0; i < trials; ++i) {
    cv::Mat out = in.clone();
    augment(out, rng);
    applied += !same_image(out, in);
  }
  EXPECT_NEAR(applied, trials / 2, 160);  // Binomial(4000, 0.5): std 31.6, 5 sigma
  c.prob = 0.0;
  cv::Mat untouched = in.clone();
  const RandAugment never(c);
  never(untouched, rng);
  EXPECT_TRUE(same_image(untouched, in));
}

TEST(RandAugmentTest, MagnitudeIsGaussianAroundMClippedToRange) {
  std::mt19937_64 rng(11);
  const int n = 200000;
  auto draws = [&](const RandAugmentConfig& c) {
    const RandAugment augment(c);
    std::vector<double> v(n);
    for (double& m : v) m = augment.sample_magnitude(rng);
    return v;
  };
  auto fraction = [&](const std::vector<double>& v, double value) {
    return static_cast<double>(std::count(v.begin(), v.end(), value)) / v.size();
  };
  // Unclipped (m 5, std 1; |z| > 5 has probability 6e-7): mean and std of the noise.
  RandAugmentConfig wide;
  wide.magnitude = 5;
  wide.magnitude_std = 1;
  const std::vector<double> w = draws(wide);
  double mean = 0, var = 0;
  for (double m : w) mean += m;
  mean /= n;
  for (double m : w) var += (m - mean) * (m - mean);
  const double sd = std::sqrt(var / (n - 1));
  EXPECT_NEAR(mean, 5.0, 0.012);  // 5 sigma of the mean: 5 / sqrt(2e5) = 0.011
  EXPECT_NEAR(sd, 1.0, 0.01);     // std of the sample std: 1 / sqrt(2n) = 0.0016

  // The reference (m 9, std 0.5): all in [0, 10], P(m = 10) = P(z > 2) = 0.02275.
  const std::vector<double> ref = draws(RandAugmentConfig{});
  EXPECT_GE(*std::min_element(ref.begin(), ref.end()), 0.0);
  EXPECT_EQ(*std::max_element(ref.begin(), ref.end()), 10.0);
  EXPECT_NEAR(fraction(ref, 10.0), 0.02275, 0.0017);  // binomial std 0.00033

  // Heavy clipping (m 9, std 5): P(0) = P(z < -1.8) = 0.03593, P(10) = P(z > 0.2) = 0.42074.
  RandAugmentConfig clipped;
  clipped.magnitude_std = 5;
  const std::vector<double> cl = draws(clipped);
  EXPECT_NEAR(fraction(cl, 0.0), 0.03593, 0.0021);
  EXPECT_NEAR(fraction(cl, 10.0), 0.42074, 0.0055);

  // mstd 0: exactly m, clipped to mmax; mstd inf: uniform in [0, m].
  RandAugmentConfig fixed;
  fixed.magnitude = 15;
  fixed.magnitude_std = 0;
  fixed.magnitude_max = 12;
  EXPECT_EQ(RandAugment(fixed).sample_magnitude(rng), 12.0);
  RandAugmentConfig uniform;
  uniform.magnitude = 8;
  uniform.magnitude_std = std::numeric_limits<double>::infinity();
  const std::vector<double> u = draws(uniform);
  EXPECT_GE(*std::min_element(u.begin(), u.end()), 0.0);
  EXPECT_LT(*std::max_element(u.begin(), u.end()), 8.0);
  double umean = 0;
  for (double m : u) umean += m;
  EXPECT_NEAR(umean / n, 4.0, 0.03);  // std of the mean: 8 / sqrt(12 n) = 0.0052
}

TEST(RandAugmentTest, OpChoiceIsUniformOverTheFifteenOps) {
  const RandAugment augment(RandAugmentConfig::parse("rand-m9-mstd0.5-inc1"));
  std::mt19937_64 rng(12);
  std::map<AugmentOp, int> counts;
  const int n = 150000;
  for (int i = 0; i < n; ++i) ++counts[augment.choose_op(rng)];
  ASSERT_EQ(counts.size(), 15u);
  const double expected = n / 15.0;
  double chi2 = 0;
  for (const auto& kv : counts) chi2 += (kv.second - expected) * (kv.second - expected) / expected;
  EXPECT_LT(chi2, 36.12) << "chi-square with 14 degrees of freedom, p = 0.001";
}

TEST(RandAugmentTest, RejectsImagesThatAreNotRgbUint8) {
  const RandAugment augment{RandAugmentConfig{}};
  std::mt19937_64 rng(0);
  cv::Mat gray(8, 8, CV_8UC1, cv::Scalar(0));
  EXPECT_THROW(augment(gray, rng), Error);
}

}  // namespace
}  // namespace sct
