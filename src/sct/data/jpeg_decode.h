// JPEG -> 8-bit RGB with libjpeg(-turbo) directly, as PIL decodes it (the same library, its defaults:
// islow DCT, fancy upsampling), instead of through OpenCV, for two reasons:
// - libjpeg's warnings ("Corrupt JPEG data: 3 extraneous bytes before marker 0xd9") go to a quiet
//   error manager instead of stderr; a fatal error comes back as the message of an exception.
// - CMYK and YCCK files convert as PIL's Image.open(...).convert('RGB') does (Adobe's inverted
//   samples, then PIL's cmyk2rgb), which OpenCV's own CMYK conversion misses by one level.
// Grey files come back replicated into three channels.
#pragma once
#include <cstddef>
#include <cstdint>
#include <opencv2/core/mat.hpp>

namespace sct {

// Throws sct::Error with libjpeg's message (without the file's name; the caller adds it), and
// PixelLimitError when the frame header declares more than `max_pixels` pixels, before anything is
// allocated for them (the header may sit behind bytes a quick scan gives up on; libjpeg finds it).
cv::Mat decode_jpeg_rgb(const uint8_t* data, size_t size, int64_t max_pixels);

}  // namespace sct
