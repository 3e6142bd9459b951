// PNG output for the figures sct writes (selection heatmaps, training curves, source previews).
#pragma once
#include <string>

namespace cv {
class Mat;
}

namespace sct {

// Encodes an 8-bit grey or BGR image as PNG and replaces `path` atomically (atomic_file.h).
// Throws sct::Error naming `path` when the image cannot be encoded or written.
void write_png(const std::string& path, const cv::Mat& image);

}  // namespace sct
