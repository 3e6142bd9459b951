#include "sct/io/png_file.h"

#include <opencv2/imgcodecs.hpp>
#include <ostream>
#include <vector>

#include "sct/core/error.h"
#include "sct/io/atomic_file.h"

namespace sct {

void write_png(const std::string& path, const cv::Mat& image) {
  std::vector<uchar> png;
  if (!cv::imencode(".png", image, png)) throw Error("cannot encode the PNG for " + path);
  write_file_atomically(
      path, [&](std::ostream& out) { out.write(reinterpret_cast<const char*>(png.data()), std::streamsize(png.size())); });
}

}  // namespace sct
