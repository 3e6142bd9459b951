// The generated suite tasks: VTAB-1K's split shape, determinism, labels that mean what they say
// (measured back from the pixels), and the round trip through NOAH's folder layout.
#include "sct/data/synthetic_tasks.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <set>

#include "sct/data/image_cache.h"
#include "data_test_util.h"
#include "test_util.h"

namespace sct {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Pixels whose colour differs from the image's per-channel median (the background) by more than 40
// grey levels in some channel: the objects.
cv::Mat foreground(const cv::Mat& rgb) {
  std::vector<cv::Mat> planes;
  cv::split(rgb, planes);
  cv::Mat mask = cv::Mat::zeros(rgb.size(), CV_8U);
  for (const cv::Mat& p : planes) {
    std::vector<uchar> v(p.begin<uchar>(), p.end<uchar>());
    std::nth_element(v.begin(), v.begin() + long(v.size() / 2), v.end());
    cv::Mat diff;
    cv::absdiff(p, cv::Scalar(v[v.size() / 2]), diff);
    mask |= diff > 40;
  }
  return mask;
}

struct Blob {
  cv::Point2d centre;
  int area;
};

std::vector<Blob> blobs(const cv::Mat& mask) {
  cv::Mat labels, stats, centroids;
  const int n = cv::connectedComponentsWithStats(mask, labels, stats, centroids, 8);
  std::vector<Blob> out;
  for (int i = 1; i < n; ++i)
    out.push_back({{centroids.at<double>(i, 0), centroids.at<double>(i, 1)}, stats.at<int>(i, cv::CC_STAT_AREA)});
  return out;
}

// The fraction of test images for which `agrees(image, label)` holds.
template <typename F>
double agreement(const SyntheticTask& task, F agrees) {
  int ok = 0;
  for (size_t i = 0; i < task.test.images.size(); ++i) ok += agrees(task.test.images[i], task.test.labels[i]);
  return double(ok) / double(task.test.images.size());
}

TEST(SyntheticTasks, SplitsHaveVtab1kShapeAndEveryClass) {
  for (const SyntheticTaskInfo& info : synthetic_tasks()) {
    const SyntheticTask t = draw_synthetic_task(info.name, 0, 60);
    EXPECT_EQ(t.train800.images.size(), 800u) << info.name;
    EXPECT_EQ(t.val200.images.size(), 200u);
    EXPECT_EQ(t.train800val200.images.size(), 1000u);
    EXPECT_EQ(t.test.images.size(), 60u);
    std::set<int64_t> seen(t.train800val200.labels.begin(), t.train800val200.labels.end());
    EXPECT_EQ(int64_t(seen.size()), info.num_classes) << info.name;
    EXPECT_GE(*seen.begin(), 0);
    EXPECT_LT(*seen.rbegin(), info.num_classes);
    for (size_t i = 0; i < 200; ++i) {
      EXPECT_EQ(t.val200.labels[i], t.train800val200.labels[800 + i]);
      EXPECT_EQ(cv::norm(t.val200.images[i], t.train800val200.images[800 + i], cv::NORM_INF), 0);
    }
    EXPECT_EQ(t.test.images[0].type(), CV_8UC3);
    EXPECT_EQ(t.test.images[0].rows, 32);
  }
}

TEST(SyntheticTasks, SameImagesForAnyThreadCountAndOthersForAnotherSeed) {
  const SyntheticTask a = draw_synthetic_task("shape-count", 5, 20, 1), b = draw_synthetic_task("shape-count", 5, 20, 2);
  const SyntheticTask c = draw_synthetic_task("shape-count", 6, 20, 2);
  ASSERT_EQ(a.test.labels, b.test.labels);
  for (size_t i = 0; i < a.test.images.size(); ++i) EXPECT_EQ(cv::norm(a.test.images[i], b.test.images[i], cv::NORM_INF), 0);
  EXPECT_NE(cv::norm(a.test.images[0], c.test.images[0], cv::NORM_INF), 0);
  // The test set is drawn apart from the training images.
  EXPECT_NE(cv::norm(a.test.images[0], a.train800val200.images[0], cv::NORM_INF), 0);
}

TEST(SyntheticTasks, CountLabelIsTheNumberOfObjects) {
  const SyntheticTask t = draw_synthetic_task("shape-count", 1, 300);
  EXPECT_GT(agreement(t, [](const cv::Mat& m, int64_t label) { return int64_t(blobs(foreground(m)).size()) == label + 1; }),
            0.9);
}

TEST(SyntheticTasks, PositionLabelIsTheObjectsColumnBin) {
  const SyntheticTask t = draw_synthetic_task("shape-position", 1, 300);
  EXPECT_GT(agreement(t,
                      [](const cv::Mat& m, int64_t label) {
                        const cv::Moments mo = cv::moments(foreground(m), true);
                        return mo.m00 > 0 && int64_t(mo.m10 / mo.m00 / 4.0) == label;
                      }),
            0.9);
}

TEST(SyntheticTasks, OrientationLabelIsTheSectorTheTipPointsTo) {
  const SyntheticTask t = draw_synthetic_task("shape-orientation", 1, 300);
  EXPECT_GT(agreement(t,
                      [](const cv::Mat& m, int64_t label) {
                        const cv::Mat mask = foreground(m);
                        const cv::Moments mo = cv::moments(mask, true);
                        if (mo.m00 == 0) return false;
                        const double cx = mo.m10 / mo.m00, cy = mo.m01 / mo.m00;
                        double best = -1, angle = 0;
                        for (int y = 0; y < mask.rows; ++y)
                          for (int x = 0; x < mask.cols; ++x)
                            if (mask.at<uchar>(y, x) && std::hypot(x - cx, y - cy) > best)
                              best = std::hypot(x - cx, y - cy), angle = std::atan2(y - cy, x - cx);
                        if (angle < 0) angle += 2 * kPi;
                        return int64_t(angle / (2 * kPi / 8)) % 8 == label;
                      }),
            0.85);
}

TEST(SyntheticTasks, DistanceLabelIsTheGapBetweenTwoDiscs) {
  const SyntheticTask t = draw_synthetic_task("shape-distance", 1, 300);
  EXPECT_GT(agreement(t,
                      [](const cv::Mat& m, int64_t label) {
                        const std::vector<Blob> b = blobs(foreground(m));
                        if (b.size() != 2) return false;
                        const double d = std::hypot(b[0].centre.x - b[1].centre.x, b[0].centre.y - b[1].centre.y);
                        return d > 4.0 * double(label + 1) - 1.0 && d < 4.0 * double(label + 2) + 1.0;
                      }),
            0.85);
}

TEST(SyntheticTasks, WrittenInNoahsLayoutAndReadBackExactly) {
  test::TempDir root;
  const SyntheticTask t = draw_synthetic_task("shape-kind", 2, 30);
  const std::string dir = write_synthetic_task(t, root.path());
  const VtabTask task = open_vtab_task(root.path(), "shape-kind");  // class count from the registry
  EXPECT_EQ(task.num_classes, 6);
  const auto records = task.read_split(VtabSplit::Test);
  ASSERT_EQ(records.size(), 30u);
  const ImageCache disk = ImageCache::from_records(records, 32), memory = ImageCache::from_images(t.test, 32);
  for (int64_t i = 0; i < 30; ++i) {
    EXPECT_EQ(disk.label(i), memory.label(i));
    EXPECT_TRUE(std::equal(disk.pixels(i), disk.pixels(i) + 32 * 32 * 3, memory.pixels(i))) << i;
  }
  EXPECT_EQ(task.read_split(VtabSplit::Train800Val200).size(), 1000u);
  // Writing the same drawing again is a no-op; another drawing into the same folder is refused.
  EXPECT_EQ(write_synthetic_task(t, root.path()), dir);
  test::expect_error([&] { write_synthetic_task(draw_synthetic_task("shape-kind", 3, 30), root.path()); },
                     {dir, "seed 3", "seed 2"});
  test::expect_error([] { draw_synthetic_task("shape-colour"); }, {"unknown generated task 'shape-colour'", "shape-kind"});
}

}  // namespace
}  // namespace sct
