// Labelled images that are already in memory (e.g. Fashion-MNIST read from its IDX files), at their
// original size, before any resizing.
#pragma once
#include <cstdint>
#include <opencv2/core/mat.hpp>
#include <vector>

namespace sct {

struct ImageSet {
  std::vector<cv::Mat> images;  // CV_8UC3 in RGB order, any size; images[i] is labelled labels[i]
  std::vector<int64_t> labels;
};

}  // namespace sct
