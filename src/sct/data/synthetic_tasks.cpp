#include "sct/data/synthetic_tasks.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <opencv2/imgproc.hpp>
#include <random>

#include "sct/core/deterministic_random.h"
#include "sct/core/error.h"
#include "sct/data/parallel_for.h"
#include "sct/data/vtab_task_writer.h"

namespace sct {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int kSize = 32;
constexpr int kShift = 4;  // sub-pixel bits of OpenCV's drawing calls
constexpr int kTrainVal = 1000, kTrain = 800;
enum Stream : uint64_t { kTrainValStream = 0, kTestStream = 1 };

enum class Shape { Disc, Square, Triangle, Cross, Ring, Star };  // the solid ones first
constexpr int kShapes = 6;

struct Scene {
  cv::Mat image;
  cv::Vec3d background;
  std::mt19937_64* rng;
};

double luminance(const cv::Vec3d& c) { return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]; }

Scene new_scene(std::mt19937_64& rng) {
  const cv::Vec3d bg(uniform01(rng), uniform01(rng), uniform01(rng));
  return {cv::Mat(kSize, kSize, CV_8UC3, cv::Scalar(255 * bg[0], 255 * bg[1], 255 * bg[2])), bg, &rng};
}

// A colour whose brightness differs from the background's by at least 0.3.
cv::Scalar object_colour(const Scene& s) {
  for (;;) {
    const cv::Vec3d c(uniform01(*s.rng), uniform01(*s.rng), uniform01(*s.rng));
    if (std::abs(luminance(c) - luminance(s.background)) >= 0.3) return cv::Scalar(255 * c[0], 255 * c[1], 255 * c[2]);
  }
}

cv::Point fixed(double x, double y) { return {int(std::lround(x * (1 << kShift))), int(std::lround(y * (1 << kShift)))}; }

// Polygon with vertices at the given radii, spread evenly from `angle`.
void polygon(Scene& s, cv::Point2d c, const std::vector<double>& radii, double angle, const cv::Scalar& colour) {
  std::vector<cv::Point> pts;
  for (size_t k = 0; k < radii.size(); ++k) {
    const double a = angle + 2 * kPi * double(k) / double(radii.size());
    pts.push_back(fixed(c.x + radii[k] * std::cos(a), c.y + radii[k] * std::sin(a)));
  }
  cv::fillPoly(s.image, std::vector<std::vector<cv::Point>>{pts}, colour, cv::LINE_AA, kShift);
}

void draw_shape(Scene& s, Shape shape, cv::Point2d c, double r, double angle, const cv::Scalar& colour) {
  switch (shape) {
    case Shape::Disc:
      cv::circle(s.image, fixed(c.x, c.y), int(std::lround(r * (1 << kShift))), colour, cv::FILLED, cv::LINE_AA, kShift);
      return;
    case Shape::Ring:
      cv::circle(s.image, fixed(c.x, c.y), int(std::lround(0.75 * r * (1 << kShift))), colour,
                 std::max(1, int(std::lround(0.45 * r))), cv::LINE_AA, kShift);
      return;
    case Shape::Square:
      polygon(s, c, std::vector<double>(4, r), angle, colour);
      return;
    case Shape::Triangle:
      polygon(s, c, std::vector<double>(3, r), angle, colour);
      return;
    case Shape::Star:
      polygon(s, c, {r, 0.45 * r, r, 0.45 * r, r, 0.45 * r, r, 0.45 * r, r, 0.45 * r}, angle, colour);
      return;
    case Shape::Cross:
      for (double a : {angle, angle + kPi / 2}) {
        const double w = 0.3 * r, ca = std::cos(a), sa = std::sin(a);
        std::vector<cv::Point> bar;
        for (auto [u, v] : {std::pair{-r, -w}, {r, -w}, {r, w}, {-r, w}})
          bar.push_back(fixed(c.x + u * ca - v * sa, c.y + u * sa + v * ca));
        cv::fillPoly(s.image, std::vector<std::vector<cv::Point>>{bar}, colour, cv::LINE_AA, kShift);
      }
      return;
  }
}

Shape random_shape(std::mt19937_64& rng) { return Shape(uniform_below(rng, kShapes)); }

// Gaussian pixel noise of std 6 grey levels, so that no task is solvable from exact colour values.
void add_noise(Scene& s) {
  for (int y = 0; y < kSize; ++y)
    for (int x = 0; x < kSize; ++x) {
      cv::Vec3b& p = s.image.at<cv::Vec3b>(y, x);
      for (int ch = 0; ch < 3; ++ch) p[ch] = cv::saturate_cast<uchar>(p[ch] + 6.0 * standard_normal(*s.rng));
    }
}

// The label is drawn first, then a scene showing it.
using Generator = std::function<cv::Mat(int64_t label, std::mt19937_64& rng)>;

cv::Mat shape_kind(int64_t label, std::mt19937_64& rng) {
  Scene s = new_scene(rng);
  const double r = uniform(rng, 6, 12);
  const cv::Point2d c(uniform(rng, r, kSize - r), uniform(rng, r, kSize - r));
  draw_shape(s, Shape(label), c, r, uniform(rng, 0, 2 * kPi), object_colour(s));
  add_noise(s);
  return s.image;
}

// label + 1 discs, squares or triangles, none touching another.
cv::Mat shape_count(int64_t label, std::mt19937_64& rng) {
  for (;;) {
    Scene s = new_scene(rng);
    std::vector<std::pair<cv::Point2d, double>> placed;
    for (int tries = 0; tries < 200 && int64_t(placed.size()) < label + 1; ++tries) {
      const double r = uniform(rng, 2.5, 4.0);
      const cv::Point2d c(uniform(rng, r + 0.5, kSize - r - 0.5), uniform(rng, r + 0.5, kSize - r - 0.5));
      const bool free = std::all_of(placed.begin(), placed.end(), [&](const auto& o) {
        return std::hypot(o.first.x - c.x, o.first.y - c.y) > o.second + r + 3.0;
      });
      if (free) placed.emplace_back(c, r);
    }
    if (int64_t(placed.size()) < label + 1) continue;
    // Solid shapes only: at this size a thin ring or cross can read as two objects.
    for (const auto& [c, r] : placed)
      draw_shape(s, Shape(uniform_below(rng, 3)), c, r, uniform(rng, 0, 2 * kPi), object_colour(s));
    add_noise(s);
    return s.image;
  }
}

// The horizontal position of one object's centre, in 8 bins across the image.
cv::Mat shape_position(int64_t label, std::mt19937_64& rng) {
  Scene s = new_scene(rng);
  const double r = uniform(rng, 2.5, 4.0), bin = double(kSize) / 8;
  const cv::Point2d c(uniform(rng, bin * double(label), bin * double(label + 1)), uniform(rng, r, kSize - r));
  draw_shape(s, random_shape(rng), c, r, uniform(rng, 0, 2 * kPi), object_colour(s));
  add_noise(s);
  return s.image;
}

// The direction a long isosceles triangle points in, in 8 sectors of 45 degrees.
cv::Mat shape_orientation(int64_t label, std::mt19937_64& rng) {
  Scene s = new_scene(rng);
  const double a = uniform(rng, double(label), double(label + 1)) * 2 * kPi / 8;
  const double len = uniform(rng, 8, 13), half = uniform(rng, 2.5, 4.0);
  const cv::Point2d c(uniform(rng, len, kSize - len), uniform(rng, len, kSize - len));
  const double ca = std::cos(a), sa = std::sin(a);
  const std::vector<cv::Point> tri = {fixed(c.x + len * ca, c.y + len * sa),
                                      fixed(c.x - 0.6 * len * ca - half * sa, c.y - 0.6 * len * sa + half * ca),
                                      fixed(c.x - 0.6 * len * ca + half * sa, c.y - 0.6 * len * sa - half * ca)};
  cv::fillPoly(s.image, std::vector<std::vector<cv::Point>>{tri}, object_colour(s), cv::LINE_AA, kShift);
  add_noise(s);
  return s.image;
}

// The distance between the centres of two discs, in 6 bins of 4 px from 4 to 28 px.
cv::Mat shape_distance(int64_t label, std::mt19937_64& rng) {
  for (;;) {
    Scene s = new_scene(rng);
    const double r = 2.0, d = uniform(rng, 4.0 + 4.0 * double(label), 8.0 + 4.0 * double(label));
    const double a = uniform(rng, 0, 2 * kPi);
    const cv::Point2d p(uniform(rng, r, kSize - r), uniform(rng, r, kSize - r));
    const cv::Point2d q(p.x + d * std::cos(a), p.y + d * std::sin(a));
    if (q.x < r || q.x > kSize - r || q.y < r || q.y > kSize - r) continue;
    draw_shape(s, Shape::Disc, p, r, 0, object_colour(s));
    draw_shape(s, Shape::Disc, q, r, 0, object_colour(s));
    add_noise(s);
    return s.image;
  }
}

struct Entry {
  SyntheticTaskInfo info;
  Generator generate;
};

const std::vector<Entry>& entries() {
  static const std::vector<Entry> all = {
      {{"shape-kind", "recognition", kShapes, "which of 6 shapes (disc, square, triangle, cross, ring, star)"},
       shape_kind},
      {{"shape-count", "structured", 6, "how many objects, 1 to 6"}, shape_count},
      {{"shape-position", "structured", 8, "horizontal position of one object, 8 bins"}, shape_position},
      {{"shape-orientation", "structured", 8, "direction a triangle points, 8 sectors"}, shape_orientation},
      {{"shape-distance", "structured", 6, "distance between two discs, 6 bins of 4 px"}, shape_distance},
  };
  return all;
}

void draw(ImageSet& set, const Generator& generate, int64_t classes, uint64_t seed, Stream stream, int64_t n,
          int threads) {
  set.images.resize(size_t(n));
  set.labels.resize(size_t(n));
  parallel_for(n, threads, [&](int64_t i) {
    std::mt19937_64 rng(derive_seed(seed, stream, uint64_t(i)));
    const int64_t label = int64_t(uniform_below(rng, uint64_t(classes)));
    set.images[size_t(i)] = generate(label, rng);  // colours are given as (R, G, B): RGB order
    set.labels[size_t(i)] = label;
  });
}

ImageSet slice(const ImageSet& set, size_t begin, size_t end) {
  ImageSet out;
  out.images.assign(set.images.begin() + long(begin), set.images.begin() + long(end));
  out.labels.assign(set.labels.begin() + long(begin), set.labels.begin() + long(end));
  return out;
}

}  // namespace

const std::vector<SyntheticTaskInfo>& synthetic_tasks() {
  static const std::vector<SyntheticTaskInfo> infos = [] {
    std::vector<SyntheticTaskInfo> v;
    for (const Entry& e : entries()) v.push_back(e.info);
    return v;
  }();
  return infos;
}

const SyntheticTaskInfo* find_synthetic_task(const std::string& name) {
  for (const SyntheticTaskInfo& t : synthetic_tasks())
    if (t.name == name) return &t;
  return nullptr;
}

SyntheticTask draw_synthetic_task(const std::string& name, uint64_t seed, int64_t test_size, int threads) {
  const auto& all = entries();
  const auto it = std::find_if(all.begin(), all.end(), [&](const Entry& e) { return e.info.name == name; });
  if (it == all.end()) {
    std::string known;
    for (const Entry& e : all) known += " " + e.info.name;
    throw Error("unknown generated task '" + name + "'; known:" + known);
  }
  if (test_size < 1) throw Error("generated task " + name + ": the test set needs at least one image");
  SyntheticTask task;
  task.name = name;
  task.seed = seed;
  draw(task.train800val200, it->generate, it->info.num_classes, seed, kTrainValStream, kTrainVal, threads);
  draw(task.test, it->generate, it->info.num_classes, seed, kTestStream, test_size, threads);
  task.train800 = slice(task.train800val200, 0, kTrain);
  task.val200 = slice(task.train800val200, kTrain, kTrainVal);
  return task;
}

std::string write_synthetic_task(const SyntheticTask& task, const std::string& root, int threads) {
  const std::string stamp = task.name + " version 1 seed " + std::to_string(task.seed) + " test " +
                            std::to_string(task.test.images.size()) + "\n";
  return write_vtab_task(task.name, task, stamp, root, threads);
}

}  // namespace sct
