// PNG -> 8-bit RGB with libpng directly, as PIL's Image.open(...).convert('RGB') gives it, instead of
// through OpenCV, whose libpng prints its warnings ("libpng warning: iCCP: known incorrect sRGB
// profile") on stderr: here warnings are dropped (PIL ignores them too) and a fatal error comes back as
// the message of an exception. PIL's rules: grey is replicated; palettes give their colours (tRNS
// ignored); alpha is dropped without compositing; 16-bit grey is clipped at 255 (PIL opens it as mode
// I), other 16-bit samples keep their high byte. The chunk structure and CRCs are checked before
// (image_decode.h: png_defect).
#pragma once
#include <cstddef>
#include <cstdint>
#include <opencv2/core/mat.hpp>

namespace sct {

// Throws sct::Error with libpng's message (without the file's name; the caller adds it), and
// PixelLimitError when the header declares more than `max_pixels` pixels, before decoding.
cv::Mat decode_png_rgb(const uint8_t* data, size_t size, int64_t max_pixels);

}  // namespace sct
