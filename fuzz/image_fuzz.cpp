// Image bytes as a user's file: format sniffing, header pixel limits, truncation checks, decoding
// (libpng, libjpeg through OpenCV), EXIF orientation, then PIL-exact bicubic resizing.
#include "fuzz_target.h"
#include "sct/data/image_decode.h"
#include "sct/data/pil_resize.h"

SCT_FUZZ_TARGET(image) {
  // A bomb is refused from its header, as in use; a lower limit keeps each run fast. Restored after,
  // as the replay test shares the process with other tests.
  const int64_t limit = sct::max_image_pixels();
  sct::set_max_image_pixels(4 << 20);
  sct::fuzz::expect_sct_errors_only("image", [&] {
    const cv::Mat rgb = sct::decode_image_rgb(data, size, "fuzz-input");
    if (rgb.empty() || rgb.type() != CV_8UC3) sct::fuzz::finding("image: decoded to an empty or non-RGB matrix");
    sct::pil_resize_bicubic(rgb, 24, 24);
    sct::pil_resize_bicubic(rgb, 7, 5);
  });
  sct::set_max_image_pixels(limit);
  return 0;
}
