#include "sct/data/image_decode.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cctype>
#include <cstring>
#include <limits>
#include <zlib.h>
#include <opencv2/core.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "sct/core/error.h"
#include "sct/data/jpeg_decode.h"
#include "sct/data/png_decode.h"

namespace sct {
namespace {

std::string where(const std::string& name, const std::string& context) {
  return context.empty() ? name : name + " (" + context + ")";
}

std::vector<uint8_t> read_file(const std::string& path, const std::string& context) {
  // O_NONBLOCK: a FIFO would otherwise block here until a writer comes; fstat below then refuses it.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw Error("cannot open image " + where(path, context) + ": " + std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    throw Error("cannot read image " + where(path, context) + ": not a regular file");
  }
  // No image within the pixel limit needs more than 8 bytes a pixel (16-bit RGBA, uncompressed): a
  // larger file is refused before it is read into memory. --max-image-pixels raises both.
  const int64_t max_bytes = max_image_bytes();
  if (info.st_size > max_bytes) {
    ::close(fd);
    throw PixelLimitError("image " + where(path, context) + " is " + std::to_string(info.st_size) +
                              " bytes, over the limit of " + std::to_string(max_bytes) +
                              " for image files (8 bytes per pixel of --max-image-pixels); --max-image-pixels "
                              "raises it",
                          0, 0);
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(info.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t got = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      const std::string reason = got < 0 ? std::strerror(errno) : "file shrank while reading";
      ::close(fd);
      throw Error("cannot read image " + where(path, context) + ": " + reason);
    }
    done += static_cast<size_t>(got);
  }
  ::close(fd);
  return bytes;
}

bool is_jpeg(const uint8_t* data, size_t size) {
  return size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
}

// Markers that stand alone, without a length field: TEM and RST0-7 (SOI/EOI are handled apart).
bool is_standalone_marker(uint8_t m) { return m == 0x01 || (m >= 0xD0 && m <= 0xD7); }

// OpenCV hands back 1, 3 or 4 channels of 8 or 16 bits, colour in BGR order.
cv::Mat to_rgb8(const cv::Mat& decoded) {
  cv::Mat img = decoded;
  if (img.depth() == CV_16U) {
    cv::Mat eight(img.size(), CV_MAKETYPE(CV_8U, img.channels()));
    // Grey: PIL opens it as mode I, whose RGB conversion clips at 255. Colour: PIL's ;16B raw modes
    // keep the high byte.
    const int shift = img.channels() == 1 ? 0 : 8;
    for (int y = 0; y < img.rows; ++y) {
      const uint16_t* s = img.ptr<uint16_t>(y);
      uint8_t* d = eight.ptr<uint8_t>(y);
      for (int i = 0; i < img.cols * img.channels(); ++i)
        d[i] = static_cast<uint8_t>(std::min<int>(s[i] >> shift, 255));
    }
    img = eight;
  }
  if (img.depth() != CV_8U) throw Error("unsupported sample type");
  cv::Mat rgb;
  switch (img.channels()) {
    case 1:
      cv::cvtColor(img, rgb, cv::COLOR_GRAY2RGB);
      break;
    case 3:
      cv::cvtColor(img, rgb, cv::COLOR_BGR2RGB);
      break;
    case 4:
      cv::cvtColor(img, rgb, cv::COLOR_BGRA2RGB);
      break;  // drops alpha, no compositing
    default:
      throw Error("unsupported channel count " + std::to_string(img.channels()));
  }
  return rgb;
}

std::atomic<int64_t> g_max_image_pixels{kDefaultMaxImagePixels};

void check_pixels(int64_t width, int64_t height, const std::string& name, const std::string& context) {
  const int64_t limit = g_max_image_pixels.load();
  if (width > 0 && height > limit / width)  // width * height > limit, without overflowing
    throw PixelLimitError("image " + where(name, context) + " is " + std::to_string(width) + " x " +
                              std::to_string(height) + " pixels, over the limit of " + std::to_string(limit) +
                              " (a decompression bomb?); --max-image-pixels raises the limit",
                          width, height);
}

}  // namespace

void set_max_image_pixels(int64_t pixels) {
  if (pixels <= 0) throw Error("the image pixel limit must be positive, got " + std::to_string(pixels));
  g_max_image_pixels = pixels;
}

int64_t max_image_pixels() { return g_max_image_pixels.load(); }

int64_t max_image_bytes() {
  const int64_t pixels = g_max_image_pixels.load();
  return pixels > (int64_t{1} << 59) ? std::numeric_limits<int64_t>::max() : 8 * pixels + (1 << 20);
}

bool image_header_size(const uint8_t* data, size_t size, int64_t& width, int64_t& height) {
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  const auto be32 = [&](size_t at) {
    return (int64_t{data[at]} << 24) | (int64_t{data[at + 1]} << 16) | (int64_t{data[at + 2]} << 8) | data[at + 3];
  };
  if (size >= 24 && std::memcmp(data, kPng, 8) == 0 && std::memcmp(data + 12, "IHDR", 4) == 0) {
    width = be32(16);
    height = be32(20);
    return true;
  }
  if (!is_jpeg(data, size)) return false;
  size_t pos = 2;
  while (pos + 4 <= size) {
    if (data[pos] != 0xFF) return false;
    const uint8_t marker = data[pos + 1];
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (is_standalone_marker(marker)) {
      pos += 2;
      continue;
    }
    const size_t length = (size_t{data[pos + 2]} << 8) | data[pos + 3];
    // SOF0-15 except DHT (C4), JPG (C8) and DAC (CC): precision, height, width.
    if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
      if (pos + 9 > size) return false;
      height = (int64_t{data[pos + 5]} << 8) | data[pos + 6];
      width = (int64_t{data[pos + 7]} << 8) | data[pos + 8];
      return true;
    }
    if (marker == 0xDA || length < 2) return false;  // scan data before any frame header
    pos += 2 + length;
  }
  return false;
}

std::string png_defect(const uint8_t* data, size_t size) {
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (size < 8 || std::memcmp(data, kPng, 8) != 0) return "not a PNG signature";
  size_t pos = 8;
  while (pos + 12 <= size) {  // length, type, data, CRC (of type and data)
    const auto be32 = [&](size_t at) {
      return (uint32_t{data[at]} << 24) | (uint32_t{data[at + 1]} << 16) | (uint32_t{data[at + 2]} << 8) | data[at + 3];
    };
    const size_t length = be32(pos);
    if (length > size - pos - 12) break;
    const std::string type(reinterpret_cast<const char*>(data + pos + 4), 4);
    const uLong crc = crc32(crc32(0L, Z_NULL, 0), data + pos + 4, static_cast<uInt>(length + 4));
    if (crc != be32(pos + 8 + length)) {
      std::string printable;
      for (char c : type) printable += std::isalpha(static_cast<unsigned char>(c)) ? c : '?';
      return "corrupt PNG (chunk '" + printable + "' at byte " + std::to_string(pos) + " fails its CRC)";
    }
    if (type == "IEND") return "";
    pos += 12 + length;
  }
  return "truncated or corrupt PNG (no IEND chunk)";
}

bool jpeg_is_complete(const uint8_t* data, size_t size) {
  if (!is_jpeg(data, size)) return false;
  size_t pos = 2;
  for (;;) {
    // Next marker: libjpeg skips stray bytes before a marker (with a warning), and so do we; 0xFF
    // bytes are fill, and 0xFF 0x00 is not a marker.
    uint8_t marker = 0;
    while (marker == 0) {
      const void* ff = pos < size ? std::memchr(data + pos, 0xFF, size - pos) : nullptr;
      if (ff == nullptr) return false;
      pos = static_cast<size_t>(static_cast<const uint8_t*>(ff) - data);
      while (pos < size && data[pos] == 0xFF) ++pos;
      if (pos >= size) return false;
      marker = data[pos++];
    }
    if (marker == 0xD9) return true;  // EOI
    if (is_standalone_marker(marker)) continue;
    if (pos + 2 > size) return false;
    const size_t length = (size_t{data[pos]} << 8) | data[pos + 1];  // includes its own two bytes
    if (length < 2 || pos + length > size) return false;
    pos += length;
    if (marker != 0xDA) continue;  // SOS: entropy-coded data follows until the next real marker
    for (;;) {
      const void* ff = std::memchr(data + pos, 0xFF, size - pos);
      if (ff == nullptr) return false;
      pos = static_cast<size_t>(static_cast<const uint8_t*>(ff) - data);
      if (pos + 1 >= size) return false;
      const uint8_t next = data[pos + 1];
      if (next == 0x00 || (next >= 0xD0 && next <= 0xD7)) {  // stuffed 0xFF or restart marker
        pos += 2;
        continue;
      }
      break;  // a marker: back to the segment loop
    }
  }
}

cv::Mat decode_image_rgb(const uint8_t* data, size_t size, const std::string& name, const std::string& context) {
  if (size == 0) throw Error("cannot decode image " + where(name, context) + ": empty file");
  int64_t width = 0, height = 0;
  if (image_header_size(data, size, width, height)) check_pixels(width, height, name, context);
  // libpng's limit (PNG_USER_WIDTH_MAX), and files libpng would complain about on stderr: named here.
  constexpr int64_t kPngMaxSide = 1000000;
  if (size >= 8 && data[0] == 0x89 && data[1] == 'P') {
    if (const std::string defect = png_defect(data, size); !defect.empty())
      throw Error("cannot decode image " + where(name, context) + ": " + defect);
    if (width > kPngMaxSide || height > kPngMaxSide)
      throw Error("cannot decode image " + where(name, context) + ": a PNG side over " + std::to_string(kPngMaxSide) +
                  " pixels (" + std::to_string(width) + " x " + std::to_string(height) + ")");
  }
  if (is_jpeg(data, size) && !jpeg_is_complete(data, size))
    throw Error("cannot decode image " + where(name, context) + ": truncated or corrupt JPEG (no end-of-image marker)");
  const bool png = size >= 8 && std::memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0;
  if (png || is_jpeg(data, size)) {
    const int64_t limit = g_max_image_pixels.load();
    try {
      return png ? decode_png_rgb(data, size, limit) : decode_jpeg_rgb(data, size, limit);
    } catch (const PixelLimitError& e) {
      check_pixels(e.width, e.height, name, context);  // the decoder's reading of the header, named
      throw;
    } catch (const Error& e) {
      throw Error("cannot decode image " + where(name, context) + ": " + e.what());
    }
  }
  // OpenCV logs its decoders' complaints (OpenJPEG's "Error with SIZ marker size") on stderr; the
  // failure becomes sct's own message below instead.
  static const bool opencv_quiet = [] {
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
    return true;
  }();
  (void)opencv_quiet;
  cv::Mat decoded;
  try {
    const cv::Mat buffer(1, static_cast<int>(size), CV_8U, const_cast<uint8_t*>(data));
    // IMREAD_UNCHANGED: no EXIF rotation, no premature conversion; to_rgb8 applies PIL's rules.
    decoded = cv::imdecode(buffer, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    throw Error("cannot decode image " + where(name, context) + ": " + e.what());
  }
  if (decoded.empty())
    throw Error("cannot decode image " + where(name, context) +
                ": not a readable image (corrupt, truncated or unknown format)");
  check_pixels(decoded.cols, decoded.rows, name, context);
  try {
    return to_rgb8(decoded);
  } catch (const Error& e) {
    throw Error("cannot decode image " + where(name, context) + ": " + e.what());
  }
}

cv::Mat decode_image_rgb(const std::string& path, const std::string& context) {
  const std::vector<uint8_t> bytes = read_file(path, context);
  return decode_image_rgb(bytes.data(), bytes.size(), path, context);
}

}  // namespace sct
