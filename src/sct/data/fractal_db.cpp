#include "sct/data/fractal_db.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "sct/core/deterministic_random.h"
#include "sct/core/error.h"
#include "sct/data/parallel_for.h"

namespace sct {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int kBurnIn = 20;
enum Stream : uint64_t { kSystem = 0, kTrain = 1, kVal = 2 };

// The chaos game: points of the attractor, each map chosen with its probability. Returns false when
// the orbit leaves any sane range (a weighted map that stopped contracting).
bool chaos_game(const Ifs& ifs, const std::vector<double>& weights, int points, std::mt19937_64& rng,
                std::vector<cv::Point2d>& out) {
  std::vector<double> cumulative(ifs.probs.size());
  double acc = 0.0;
  for (size_t k = 0; k < ifs.probs.size(); ++k) cumulative[k] = acc += ifs.probs[k];
  out.clear();
  out.reserve(size_t(points));
  double x = 0.0, y = 0.0;
  for (int i = 0; i < points + kBurnIn; ++i) {
    const double u = uniform01(rng) * acc;
    const size_t k = size_t(std::upper_bound(cumulative.begin(), cumulative.end() - 1, u) - cumulative.begin());
    const AffineMap& m = ifs.maps[k];
    const double w = weights[k];
    const double nx = w * (m.a * x + m.b * y) + m.e;
    const double ny = w * (m.c * x + m.d * y) + m.f;
    x = nx;
    y = ny;
    if (!(std::abs(x) < 1e6 && std::abs(y) < 1e6)) return false;
    if (i >= kBurnIn) out.emplace_back(x, y);
  }
  return true;
}

// Draws the points into a (size * supersample)^2 grid, fitted into the square of side `extent`
// (a fraction of the frame) whose centre is at `centre` (in frame fractions); returns the
// area-averaged coverage at `size` (CV_32F in [0, 1]).
cv::Mat rasterise(const std::vector<cv::Point2d>& pts, int size, int supersample, double extent,
                  cv::Point2d centre) {
  double x0 = pts[0].x, x1 = x0, y0 = pts[0].y, y1 = y0;
  for (const auto& p : pts) {
    x0 = std::min(x0, p.x), x1 = std::max(x1, p.x);
    y0 = std::min(y0, p.y), y1 = std::max(y1, p.y);
  }
  const int big = size * supersample;
  const double span = std::max({x1 - x0, y1 - y0, 1e-12});
  const double scale = extent * (big - 1) / span;
  const double cx = centre.x * (big - 1) - scale * (x0 + x1) / 2, cy = centre.y * (big - 1) - scale * (y0 + y1) / 2;
  cv::Mat hits = cv::Mat::zeros(big, big, CV_32F);
  for (const auto& p : pts) {
    const int px = int(std::lround(cx + scale * p.x)), py = int(std::lround(cy + scale * p.y));
    if (px >= 0 && px < big && py >= 0 && py < big) hits.at<float>(py, px) = 1.0f;
  }
  cv::Mat out;
  cv::resize(hits, out, cv::Size(size, size), 0, 0, cv::INTER_AREA);
  return out;
}

double luminance(const cv::Vec3d& rgb) { return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]; }

cv::Vec3d random_colour(std::mt19937_64& rng) { return {uniform01(rng), uniform01(rng), uniform01(rng)}; }

}  // namespace

Ifs sample_ifs(std::mt19937_64& rng) {
  const int n = 2 + int(uniform_below(rng, 3));
  const double lo = 0.5 * (5 + n), hi = 0.5 * (6 + n);
  for (;;) {
    Ifs ifs;
    double sigma = 0.0;
    for (int k = 0; k < n; ++k) {
      double s1 = uniform01(rng), s2 = uniform01(rng);
      if (s1 < s2) std::swap(s1, s2);
      const double theta = uniform(rng, 0, 2 * kPi), phi = uniform(rng, 0, 2 * kPi);
      const double d1 = uniform01(rng) < 0.5 ? -1.0 : 1.0, d2 = uniform01(rng) < 0.5 ? -1.0 : 1.0;
      // R(theta) diag(s1, s2) R(phi) diag(d1, d2)
      const double ct = std::cos(theta), st = std::sin(theta), cp = std::cos(phi), sp = std::sin(phi);
      const double m00 = ct * s1 * cp - st * s2 * sp, m01 = -ct * s1 * sp - st * s2 * cp;
      const double m10 = st * s1 * cp + ct * s2 * sp, m11 = -st * s1 * sp + ct * s2 * cp;
      AffineMap m{m00 * d1, m01 * d2, m10 * d1, m11 * d2, uniform(rng, -1, 1), uniform(rng, -1, 1)};
      ifs.maps.push_back(m);
      ifs.probs.push_back(s1 * s2);
      sigma += s1 + 2 * s2;
    }
    if (sigma < lo || sigma > hi) continue;
    double total = 0.0;
    for (double p : ifs.probs) total += p;
    for (double& p : ifs.probs) p /= total;
    return ifs;
  }
}

cv::Mat render_fractal(const Ifs& ifs, const FractalRender& render, std::mt19937_64& rng) {
  std::vector<double> weights(ifs.maps.size(), 1.0);
  std::vector<cv::Point2d> pts;
  if (render.vary)
    for (double& w : weights) w = uniform(rng, 0.9, 1.1);
  if (!chaos_game(ifs, weights, render.points, rng, pts)) {
    std::fill(weights.begin(), weights.end(), 1.0);
    if (!chaos_game(ifs, weights, render.points, rng, pts)) throw Error("fractal: the IFS does not contract");
  }
  double extent = 0.9;
  cv::Point2d centre(0.5, 0.5);
  cv::Vec3d fg(1, 1, 1), bg(0, 0, 0);
  if (render.vary) {
    if (uniform01(rng) < 0.5)
      for (auto& p : pts) p.x = -p.x;
    extent = uniform(rng, 0.7, 1.0);
    const double slack = (1.0 - extent) / 2;
    centre = {0.5 + uniform(rng, -slack, slack), 0.5 + uniform(rng, -slack, slack)};
    bg = random_colour(rng) * 0.25;
    do fg = random_colour(rng);
    while (luminance(fg) - luminance(bg) < 0.3);
  }
  const cv::Mat alpha = rasterise(pts, render.size, render.supersample, extent, centre);
  cv::Mat rgb(render.size, render.size, CV_8UC3);
  for (int y = 0; y < render.size; ++y)
    for (int x = 0; x < render.size; ++x) {
      const double a = alpha.at<float>(y, x);
      cv::Vec3b& px = rgb.at<cv::Vec3b>(y, x);
      for (int ch = 0; ch < 3; ++ch) px[ch] = cv::saturate_cast<uchar>(255.0 * (bg[ch] + a * (fg[ch] - bg[ch])));
    }
  return rgb;
}

double fractal_coverage(const Ifs& ifs, const FractalRender& render) {
  FractalRender canonical = render;
  canonical.vary = false;
  std::mt19937_64 rng(0);
  const cv::Mat image = render_fractal(ifs, canonical, rng);
  int covered = 0;
  for (int y = 0; y < image.rows; ++y)
    for (int x = 0; x < image.cols; ++x) covered += image.at<cv::Vec3b>(y, x)[0] >= 64;
  return double(covered) / double(image.rows * image.cols);
}

FractalDb make_fractal_db(const FractalDbSpec& spec, int threads) {
  if (spec.classes <= 0 || spec.train_per_class <= 0 || spec.val_per_class < 0 || spec.size < 8)
    throw Error("fractal source: needs classes > 0, train_per_class > 0, val_per_class >= 0, size >= 8");
  FractalRender render;
  render.size = spec.size;
  FractalDb db;
  db.systems.resize(size_t(spec.classes));
  parallel_for(spec.classes, threads, [&](int64_t c) {
    std::mt19937_64 rng(derive_seed(spec.seed, kSystem, uint64_t(c)));
    do db.systems[size_t(c)] = sample_ifs(rng);
    while (fractal_coverage(db.systems[size_t(c)], render) < spec.min_coverage);
  });
  const auto draw = [&](ImageSet& set, Stream stream, int64_t per_class) {
    set.images.resize(size_t(spec.classes * per_class));
    set.labels.resize(set.images.size());
    parallel_for(int64_t(set.images.size()), threads, [&](int64_t i) {
      std::mt19937_64 rng(derive_seed(spec.seed, stream, uint64_t(i)));
      set.images[size_t(i)] = render_fractal(db.systems[size_t(i / per_class)], render, rng);
      set.labels[size_t(i)] = i / per_class;
    });
  };
  draw(db.train, kTrain, spec.train_per_class);
  if (spec.val_per_class > 0) draw(db.val, kVal, spec.val_per_class);
  return db;
}

}  // namespace sct
