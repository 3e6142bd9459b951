#include "sct/data/jpeg_decode.h"

#include <csetjmp>
#include <cstdio>
// jpeglib.h needs size_t and FILE declared before it.
#include <jpeglib.h>

#include <string>
#include <vector>

#include "sct/core/error.h"
#include "sct/data/image_decode.h"

namespace sct {
namespace {

struct QuietErrors {
  jpeg_error_mgr mgr;  // first: libjpeg hands back a pointer to it
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

extern "C" void jpeg_fail_quietly(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<QuietErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errors->message);
  longjmp(errors->jump, 1);
}
// Warnings and trace messages: counted by libjpeg (num_warnings), never printed. PIL ignores them too.
extern "C" void jpeg_note_quietly(j_common_ptr, int) {}

struct Decoded {
  int width = 0, height = 0, components = 0;
  bool cmyk = false;
  bool too_large = false;  // over max_pixels: not decoded
};

// The C part: nothing with a destructor lives in this frame, so the longjmp of a fatal error skips
// nothing. `pixels` is sized here, owned by the caller.
bool decode(const uint8_t* data, size_t size, int64_t max_pixels, std::vector<uint8_t>& pixels, Decoded& out,
            QuietErrors& errors) {
  jpeg_decompress_struct cinfo;
  cinfo.err = jpeg_std_error(&errors.mgr);
  errors.mgr.error_exit = jpeg_fail_quietly;
  errors.mgr.emit_message = jpeg_note_quietly;
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  out.width = static_cast<int>(cinfo.image_width);
  out.height = static_cast<int>(cinfo.image_height);
  if (out.width > 0 && out.height > max_pixels / out.width) {
    out.too_large = true;
    jpeg_destroy_decompress(&cinfo);
    return true;
  }
  switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
      cinfo.out_color_space = JCS_GRAYSCALE;
      break;
    case JCS_CMYK:
    case JCS_YCCK:  // libjpeg turns YCCK into CMYK
      cinfo.out_color_space = JCS_CMYK;
      out.cmyk = true;
      break;
    default:
      cinfo.out_color_space = JCS_RGB;
  }
  jpeg_start_decompress(&cinfo);
  out.width = static_cast<int>(cinfo.output_width);
  out.height = static_cast<int>(cinfo.output_height);
  out.components = cinfo.output_components;
  const size_t row = static_cast<size_t>(out.width) * static_cast<size_t>(out.components);
  pixels.resize(row * static_cast<size_t>(out.height));
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW line = pixels.data() + row * cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, &line, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

// PIL: rawmode "CMYK;I" (Adobe's inverted samples) then Convert.c's cmyk2rgb, in integers:
// nk = 255 - k, channel = nk - round(c * nk / 255) with MULDIV255's rounding.
inline uint8_t cmyk_channel(int inverted_c, int inverted_k) {
  const int c = 255 - inverted_c, nk = inverted_k;
  const int tmp = c * nk + 128;
  const int value = nk - (((tmp >> 8) + tmp) >> 8);
  return static_cast<uint8_t>(value < 0 ? 0 : value > 255 ? 255 : value);
}

}  // namespace

cv::Mat decode_jpeg_rgb(const uint8_t* data, size_t size, int64_t max_pixels) {
  std::vector<uint8_t> pixels;
  Decoded d;
  QuietErrors errors{};
  if (!decode(data, size, max_pixels, pixels, d, errors)) throw Error(std::string("libjpeg: ") + errors.message);
  if (d.too_large) throw PixelLimitError("over the pixel limit", d.width, d.height);
  cv::Mat rgb(d.height, d.width, CV_8UC3);
  for (int y = 0; y < d.height; ++y) {
    const uint8_t* s = pixels.data() + static_cast<size_t>(y) * static_cast<size_t>(d.width) * d.components;
    uint8_t* o = rgb.ptr<uint8_t>(y);
    for (int x = 0; x < d.width; ++x, s += d.components, o += 3) {
      if (d.components == 1) {
        o[0] = o[1] = o[2] = s[0];
      } else if (d.cmyk) {
        for (int c = 0; c < 3; ++c) o[c] = cmyk_channel(s[c], s[3]);
      } else {
        o[0] = s[0], o[1] = s[1], o[2] = s[2];
      }
    }
  }
  return rgb;
}

}  // namespace sct
