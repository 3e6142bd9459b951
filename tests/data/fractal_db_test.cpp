// The fractal pretraining source: the sigma-factor rule, class structure, determinism.
#include "sct/data/fractal_db.h"

#include <gtest/gtest.h>

#include <cmath>
#include <opencv2/core.hpp>

#include "test_util.h"

namespace sct {
namespace {

// Singular values of [[a, b], [c, d]], larger first.
std::pair<double, double> singular_values(const AffineMap& m) {
  const double s = m.a * m.a + m.b * m.b + m.c * m.c + m.d * m.d;
  const double det = std::abs(m.a * m.d - m.b * m.c);
  const double root = std::sqrt(std::max(0.0, s * s / 4 - det * det));
  return {std::sqrt(s / 2 + root), std::sqrt(std::max(0.0, s / 2 - root))};
}

TEST(FractalDb, SystemsFollowTheSigmaFactorRule) {
  for (uint64_t seed = 0; seed < 200; ++seed) {
    std::mt19937_64 rng(seed);
    const Ifs ifs = sample_ifs(rng);
    const int n = int(ifs.maps.size());
    ASSERT_GE(n, 2);
    ASSERT_LE(n, 4);
    double sigma = 0.0, total = 0.0;
    const auto [first1, first2] = singular_values(ifs.maps[0]);
    for (int k = 0; k < n; ++k) {
      const auto [s1, s2] = singular_values(ifs.maps[k]);
      EXPECT_LT(s1, 1.0);  // every map contracts
      sigma += s1 + 2 * s2;
      // probability proportional to |det A| = s1 * s2
      EXPECT_NEAR(ifs.probs[k] / ifs.probs[0], (s1 * s2) / (first1 * first2), 1e-9);
      total += ifs.probs[k];
      EXPECT_LE(std::abs(ifs.maps[k].e), 1.0);
      EXPECT_LE(std::abs(ifs.maps[k].f), 1.0);
    }
    EXPECT_NEAR(total, 1.0, 1e-12);
    EXPECT_GE(sigma, 0.5 * (5 + n) - 1e-9) << "seed " << seed;
    EXPECT_LE(sigma, 0.5 * (6 + n) + 1e-9) << "seed " << seed;
  }
}

FractalDbSpec small_spec() {
  FractalDbSpec spec;
  spec.classes = 6;
  spec.train_per_class = 5;
  spec.val_per_class = 2;
  spec.seed = 3;
  return spec;
}

bool same(const cv::Mat& a, const cv::Mat& b) { return a.size() == b.size() && cv::norm(a, b, cv::NORM_INF) == 0; }

TEST(FractalDb, SameImagesForAnyThreadCount) {
  const FractalDb one = make_fractal_db(small_spec(), 1), two = make_fractal_db(small_spec(), 2);
  ASSERT_EQ(one.train.images.size(), 30u);
  ASSERT_EQ(one.val.images.size(), 12u);
  for (size_t i = 0; i < one.train.images.size(); ++i) {
    EXPECT_TRUE(same(one.train.images[i], two.train.images[i])) << i;
    EXPECT_EQ(one.train.labels[i], int64_t(i / 5));
  }
  for (size_t i = 0; i < one.val.images.size(); ++i) EXPECT_TRUE(same(one.val.images[i], two.val.images[i])) << i;
}

TEST(FractalDb, ClassesAreDistinctShapesAndImagesVary) {
  const FractalDbSpec spec = small_spec();
  const FractalDb db = make_fractal_db(spec);
  FractalRender render;
  for (const Ifs& ifs : db.systems) EXPECT_GE(fractal_coverage(ifs, render), spec.min_coverage);
  for (const cv::Mat& m : db.train.images) {
    EXPECT_EQ(m.type(), CV_8UC3);
    EXPECT_EQ(m.rows, 32);
    EXPECT_EQ(m.cols, 32);
  }
  // Every image of a class is its own rendering; validation images are not training images.
  EXPECT_FALSE(same(db.train.images[0], db.train.images[1]));
  EXPECT_FALSE(same(db.train.images[0], db.val.images[0]));
  // Another seed draws other systems.
  FractalDbSpec other = spec;
  other.seed = 4;
  EXPECT_FALSE(same(make_fractal_db(other).train.images[0], db.train.images[0]));
}

TEST(FractalDb, CanonicalDrawingIsCentredWhiteOnBlack) {
  std::mt19937_64 rng(11);
  const Ifs ifs = sample_ifs(rng);
  FractalRender render;
  render.vary = false;
  const cv::Mat a = render_fractal(ifs, render, rng), b = render_fractal(ifs, render, rng);
  // Without variation only the chaos game's own draws differ: the same shape, nearly the same pixels.
  EXPECT_LT(cv::norm(a, b, cv::NORM_L1) / (32.0 * 32 * 3 * 255), 0.05);
  cv::Scalar mean = cv::mean(a);
  EXPECT_DOUBLE_EQ(mean[0], mean[1]);  // grey
  EXPECT_GT(mean[0], 0.0);
}

TEST(FractalDb, RejectsAnEmptySpec) {
  FractalDbSpec spec;
  spec.classes = 0;
  test::expect_error([&] { make_fractal_db(spec); }, {"fractal source", "classes > 0"});
}

}  // namespace
}  // namespace sct
