// Image files -> 8-bit RGB, as the reference pipeline sees them: PIL's Image.open(path).convert('RGB').
//
// What that means, and what this decoder therefore does (libjpeg and libpng directly for JPEG and PNG,
// jpeg_decode.h and png_decode.h; OpenCV's decoders for the rest):
// - JPEG: libjpeg-turbo with its defaults (the library PIL also links on Debian); EXIF orientation is
//   NOT applied (PIL's open/convert ignores it). A JPEG without its end-of-image marker is refused,
//   as PIL refuses truncated files, instead of being padded with grey as libjpeg's recovery does.
// - PNG: grey -> replicated; palette -> palette colours (tRNS ignored); RGBA and grey+alpha -> alpha
//   dropped without compositing; 16-bit colour -> high byte; 16-bit grey -> clipped at 255 (PIL opens
//   it as mode I, whose RGB conversion clips rather than scales).
// Other formats OpenCV reads (BMP, TIFF, WebP, ...) are decoded the same way but are not pinned
// against PIL by tests.
#pragma once
#include <cstddef>
#include <cstdint>
#include <opencv2/core/mat.hpp>
#include <string>

#include "sct/core/error.h"

namespace sct {

// Reads and decodes `path`. Returns an owning CV_8UC3 Mat in RGB order (not OpenCV's usual BGR).
// Throws sct::Error naming the path when the file is missing, empty, unreadable, not an image, or a
// truncated JPEG / PNG. `context` (e.g. "listed at train800.txt:12") is appended to error messages.
cv::Mat decode_image_rgb(const std::string& path, const std::string& context = "");

// Same for bytes already in memory; `name` stands for the file in error messages.
cv::Mat decode_image_rgb(const uint8_t* data, size_t size, const std::string& name, const std::string& context = "");

// Decompression bombs: an image of more pixels than this is refused from its header, before decoding
// (PNG, JPEG) or right after (other formats). The default is PIL's limit, 2 x Image.MAX_IMAGE_PIXELS.
inline constexpr int64_t kDefaultMaxImagePixels = 178956970;
// What is thrown for such an image (sct serve answers it with 413, other errors with 400).
class PixelLimitError : public Error {
 public:
  PixelLimitError(const std::string& what, int64_t width_, int64_t height_)
      : Error(what), width(width_), height(height_) {}
  int64_t width, height;
};
void set_max_image_pixels(int64_t pixels);  // process-wide; throws sct::Error unless > 0
int64_t max_image_pixels();
// Image files larger than this are refused before they are read: 8 bytes per pixel of the limit (no
// image within it needs more; 16-bit RGBA uncompressed) plus 1 MB for headers.
int64_t max_image_bytes();

// Width and height from a PNG's IHDR or a JPEG's frame header, without decoding; false for other
// formats and for headers too short to say.
bool image_header_size(const uint8_t* data, size_t size, int64_t& width, int64_t& height);

// True when a JPEG stream is complete: every segment and scan is followed through to the end-of-image
// marker (stray bytes between segments are skipped, as libjpeg does). Used to refuse truncated files;
// exposed for tests.
bool jpeg_is_complete(const uint8_t* data, size_t size);
// What is wrong with a PNG's chunk structure, "" when nothing: a chunk cut short or no IEND chunk
// ("truncated ..."), or a chunk whose CRC does not match ("corrupt ..."; PIL refuses those too).
// Checked before libpng sees the file, which would print its own complaint on stderr.
std::string png_defect(const uint8_t* data, size_t size);

}  // namespace sct
