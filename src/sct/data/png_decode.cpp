#include "sct/data/png_decode.h"

#include <png.h>

#include <algorithm>
#include <csetjmp>
#include <cstring>
#include <string>
#include <vector>

#include "sct/core/error.h"
#include "sct/data/image_decode.h"

namespace sct {
namespace {

struct Source {
  const uint8_t* data;
  size_t size, at;
};

struct Failure {
  char message[256];
};

extern "C" void png_read_from_memory(png_structp png, png_bytep out, png_size_t length) {
  auto* src = static_cast<Source*>(png_get_io_ptr(png));
  if (length > src->size - src->at) png_error(png, "the data ends inside a chunk");
  std::memcpy(out, src->data + src->at, length);
  src->at += length;
}

extern "C" void png_fail_quietly(png_structp png, png_const_charp message) {
  auto* failure = static_cast<Failure*>(png_get_error_ptr(png));
  std::snprintf(failure->message, sizeof failure->message, "%s", message);
  png_longjmp(png, 1);
}
extern "C" void png_warn_quietly(png_structp, png_const_charp) {}

struct Decoded {
  int width = 0, height = 0, channels = 0, depth = 0;
  bool grey = false;
  bool too_large = false;  // over max_pixels: not decoded
};

// The C part: nothing with a destructor lives in this frame, so libpng's longjmp skips nothing.
// `pixels` is sized here, owned by the caller.
bool decode(Source& src, int64_t max_pixels, std::vector<uint8_t>& pixels, std::vector<png_bytep>& rows, Decoded& out,
            Failure& failure) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &failure, png_fail_quietly, png_warn_quietly);
  if (png == nullptr) {
    std::snprintf(failure.message, sizeof failure.message, "libpng could not start");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (info == nullptr || setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
    return false;
  }
  png_set_read_fn(png, &src, png_read_from_memory);
  png_read_info(png, info);
  out.width = static_cast<int>(png_get_image_width(png, info));
  out.height = static_cast<int>(png_get_image_height(png, info));
  if (out.width > 0 && out.height > max_pixels / out.width) {
    out.too_large = true;
    png_destroy_read_struct(&png, &info, nullptr);
    return true;
  }
  const int color = png_get_color_type(png, info);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);  // colours; tRNS becomes alpha, dropped below
  if (color == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(png, info) < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  out.width = static_cast<int>(png_get_image_width(png, info));
  out.height = static_cast<int>(png_get_image_height(png, info));
  out.channels = png_get_channels(png, info);
  out.depth = png_get_bit_depth(png, info);
  out.grey = (png_get_color_type(png, info) & PNG_COLOR_MASK_COLOR) == 0;
  const size_t row = png_get_rowbytes(png, info);
  pixels.resize(row * static_cast<size_t>(out.height));
  rows.resize(static_cast<size_t>(out.height));
  for (int y = 0; y < out.height; ++y) rows[static_cast<size_t>(y)] = pixels.data() + row * static_cast<size_t>(y);
  png_read_image(png, rows.data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

}  // namespace

cv::Mat decode_png_rgb(const uint8_t* data, size_t size, int64_t max_pixels) {
  Source src{data, size, 0};
  std::vector<uint8_t> pixels;
  std::vector<png_bytep> rows;
  Decoded d;
  Failure failure{};
  if (!decode(src, max_pixels, pixels, rows, d, failure)) throw Error(std::string("libpng: ") + failure.message);
  if (d.too_large) throw PixelLimitError("over the pixel limit", d.width, d.height);
  if ((d.channels != 1 && d.channels != 3) || (d.depth != 8 && d.depth != 16))
    throw Error("unsupported PNG layout (" + std::to_string(d.channels) + " channels of " + std::to_string(d.depth) +
                " bits)");
  cv::Mat rgb(d.height, d.width, CV_8UC3);
  for (int y = 0; y < d.height; ++y) {
    const uint8_t* s = rows[static_cast<size_t>(y)];
    uint8_t* o = rgb.ptr<uint8_t>(y);
    for (int x = 0; x < d.width; ++x, o += 3) {
      for (int c = 0; c < 3; ++c) {
        const int i = x * d.channels + (d.channels == 1 ? 0 : c);
        if (d.depth == 8) {
          o[c] = s[i];
        } else {
          const int v = (s[2 * i] << 8) | s[2 * i + 1];  // PNG stores 16-bit samples big-endian
          o[c] = static_cast<uint8_t>(d.grey ? std::min(v, 255) : v >> 8);
        }
      }
    }
  }
  return rgb;
}

}  // namespace sct
