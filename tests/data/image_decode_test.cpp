#include "sct/data/image_decode.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <zlib.h>
#include <nlohmann/json.hpp>

#include "data_test_util.h"

namespace sct {
namespace {

using test::expect_error;
using test::fixture_image;
using test::read_bytes;
using test::TempDir;
using test::write_bytes;

nlohmann::json decode_manifest() {
  std::ifstream in(fixture_image("manifest.json"));
  if (!in) throw std::runtime_error("missing fixture manifest; run tools/make_image_fixtures.py");
  return nlohmann::json::parse(in);
}

// Every source fixture (grey, grey+alpha, 16-bit grey, RGB, RGBA, palette with and without tRNS,
// colour, grey and CMYK JPEG, JPEG with an EXIF rotation, JPEG with stray bytes) decodes to exactly
// PIL's convert('RGB').
TEST(ImageDecode, MatchesPilConvertRgbOnEveryMode) {
  int checked = 0;
  const nlohmann::json m = decode_manifest();
  for (const auto& image : m["images"]) {
    const cv::Mat got = decode_image_rgb(fixture_image(image["source"]));
    const cv::Mat expected = test::read_png_rgb(fixture_image(image["decoded"]));
    ASSERT_EQ(got.type(), CV_8UC3) << image["source"];
    ASSERT_EQ(got.size(), expected.size()) << image["source"] << " (" << image["pil_mode"] << ")";
    EXPECT_EQ(cv::norm(got, expected, cv::NORM_INF), 0.0) << image["source"] << " (" << image["pil_mode"] << ")";
    ++checked;
  }
  EXPECT_GE(checked, 10);
}

TEST(ImageDecode, IgnoresExifOrientationLikePil) {
  const cv::Mat img = decode_image_rgb(fixture_image("exif_rot_36x20.jpg"));
  EXPECT_EQ(img.cols, 36);  // rotated would be 20 wide
  EXPECT_EQ(img.rows, 20);
}

TEST(ImageDecode, DecodesFromMemory) {
  const std::string bytes = read_bytes(fixture_image("photo_50x40.jpg"));
  const cv::Mat a = decode_image_rgb(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "mem");
  const cv::Mat b = decode_image_rgb(fixture_image("photo_50x40.jpg"));
  EXPECT_EQ(cv::norm(a, b, cv::NORM_INF), 0.0);
}

// libjpeg warns about stray bytes before a marker and decodes; PIL opens the file silently, and so does
// sct now (OpenCV's decoder let libjpeg print "Corrupt JPEG data: 3 extraneous bytes" on stderr).
TEST(ImageDecode, JpegWarningsStayOffStderr) {
  testing::internal::CaptureStderr();
  const cv::Mat img = decode_image_rgb(fixture_image("extraneous_50x40.jpg"));
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(img.cols, 50);
}

// libpng's warnings stay off stderr too (through OpenCV it printed "libpng warning: iCCP: too short"):
// a PNG whose colour profile chunk is malformed decodes as PIL decodes it, silently.
TEST(ImageDecode, PngWarningsStayOffStderr) {
  TempDir dir;
  const std::string png = read_bytes(fixture_image("rgb_64x48.png"));
  const std::string data = std::string("bogus\0\0", 7) + std::string("\x78\x9c\x03\x00\x00\x00\x00\x01", 8);
  std::string chunk = std::string("iCCP") + data;
  const uint32_t crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(chunk.data()), uInt(chunk.size())));
  const auto be32 = [](uint32_t v) {
    return std::string{char(v >> 24), char((v >> 16) & 0xff), char((v >> 8) & 0xff), char(v & 0xff)};
  };
  chunk = be32(uint32_t(data.size())) + chunk + be32(crc);
  const size_t after_ihdr = 8 + 8 + 13 + 4;
  write_bytes(dir.path("iccp.png"), png.substr(0, after_ihdr) + chunk + png.substr(after_ihdr));
  testing::internal::CaptureStderr();
  const cv::Mat got = decode_image_rgb(dir.path("iccp.png"));
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  EXPECT_EQ(cv::norm(got, test::read_png_rgb(fixture_image("rgb_64x48.rgb.png")), cv::NORM_INF), 0.0);
}

// A fatal libjpeg error (here a frame header claiming 0 columns) is one sct message naming the file,
// with libjpeg's own words after it, and nothing on stderr.
TEST(ImageDecode, JpegErrorsAreOneMessageNamingTheFile) {
  TempDir dir;
  std::string jpg = read_bytes(fixture_image("photo_50x40.jpg"));
  const size_t sof = jpg.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  jpg[sof + 7] = 0;  // width, high byte
  jpg[sof + 8] = 0;  // width, low byte
  write_bytes(dir.path("zero.jpg"), jpg);
  testing::internal::CaptureStderr();
  expect_error([&] { decode_image_rgb(dir.path("zero.jpg")); }, {"cannot decode image " + dir.path("zero.jpg"), "libjpeg: "});
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

// A bomb whose frame header sits behind stray bytes (the quick header scan gives up there; libjpeg
// does not) is refused from libjpeg's reading of the header, before 300 Mpx are allocated and decoded
// (found by the image fuzz target: 24 s per file before).
TEST(ImageDecode, PixelLimitHoldsWhenOnlyLibjpegFindsTheHeader) {
  const std::string bomb = read_bytes(test::fixture("fuzz/image_bomb_behind_stray_bytes.jpg"));
  int64_t w = 0, h = 0;
  EXPECT_FALSE(image_header_size(reinterpret_cast<const uint8_t*>(bomb.data()), bomb.size(), w, h));
  try {
    decode_image_rgb(reinterpret_cast<const uint8_t*>(bomb.data()), bomb.size(), "bomb.jpg");
    ADD_FAILURE() << "decoded";
  } catch (const PixelLimitError& e) {
    EXPECT_NE(std::string(e.what()).find("bomb.jpg is 17229 x 17481 pixels"), std::string::npos) << e.what();
  }
}

TEST(ImageDecode, JpegCompletenessFollowsSegmentsAndScans) {
  const std::string jpg = read_bytes(fixture_image("photo_50x40.jpg"));
  const auto* p = reinterpret_cast<const uint8_t*>(jpg.data());
  EXPECT_TRUE(jpeg_is_complete(p, jpg.size()));
  EXPECT_FALSE(jpeg_is_complete(p, jpg.size() - 2));  // only the end-of-image marker cut
  EXPECT_FALSE(jpeg_is_complete(p, jpg.size() / 2));
  EXPECT_FALSE(jpeg_is_complete(p, 100));  // inside the headers
  // Trailing bytes after EOI (common in the wild) are fine.
  const std::string padded = jpg + std::string(16, '\0');
  EXPECT_TRUE(jpeg_is_complete(reinterpret_cast<const uint8_t*>(padded.data()), padded.size()));
  // Stray bytes between two segments (libjpeg skips them with a warning, PIL decodes such files).
  const size_t app0_end = 4 + ((static_cast<uint8_t>(jpg[4]) << 8) | static_cast<uint8_t>(jpg[5]));
  ASSERT_EQ(static_cast<uint8_t>(jpg[3]), 0xE0);  // PIL writes JFIF: APP0 first
  const std::string stray = jpg.substr(0, app0_end) + std::string("\x00\x17", 2) + jpg.substr(app0_end);
  EXPECT_TRUE(jpeg_is_complete(reinterpret_cast<const uint8_t*>(stray.data()), stray.size()));
  // The EXIF fixture carries an APP1 segment: skipped by its length, not scanned.
  const std::string exif = read_bytes(fixture_image("exif_rot_36x20.jpg"));
  EXPECT_TRUE(jpeg_is_complete(reinterpret_cast<const uint8_t*>(exif.data()), exif.size()));
}

TEST(ImageDecode, MissingFileNamesThePath) {
  TempDir dir;
  expect_error([&] { decode_image_rgb(dir.path("nope.jpg"), "listed at train800.txt:3"); },
               {dir.path("nope.jpg"), "No such file", "train800.txt:3"});
}

TEST(ImageDecode, EmptyFileIsRefused) {
  TempDir dir;
  write_bytes(dir.path("empty.jpg"), "");
  expect_error([&] { decode_image_rgb(dir.path("empty.jpg")); }, {dir.path("empty.jpg"), "empty file"});
}

TEST(ImageDecode, GarbageBytesAreRefused) {
  TempDir dir;
  write_bytes(dir.path("garbage.jpg"), "this is not an image at all, just some text bytes\x01\x02\x03");
  expect_error([&] { decode_image_rgb(dir.path("garbage.jpg")); }, {dir.path("garbage.jpg"), "not a readable image"});
}

TEST(ImageDecode, TruncatedJpegIsRefused) {
  TempDir dir;
  const std::string jpg = read_bytes(fixture_image("photo_50x40.jpg"));
  write_bytes(dir.path("half.jpg"), jpg.substr(0, jpg.size() / 2));
  expect_error([&] { decode_image_rgb(dir.path("half.jpg")); }, {dir.path("half.jpg"), "truncated"});
  write_bytes(dir.path("no_eoi.jpg"), jpg.substr(0, jpg.size() - 2));
  expect_error([&] { decode_image_rgb(dir.path("no_eoi.jpg")); }, {dir.path("no_eoi.jpg"), "truncated"});
}

// Refused in sct's words before libpng sees the file (it would print its own complaint on stderr).
TEST(ImageDecode, TruncatedPngIsRefused) {
  TempDir dir;
  const std::string png = read_bytes(fixture_image("rgb_64x48.png"));
  EXPECT_EQ(png_defect(reinterpret_cast<const uint8_t*>(png.data()), png.size()), "");
  write_bytes(dir.path("half.png"), png.substr(0, png.size() / 2));
  testing::internal::CaptureStderr();
  expect_error([&] { decode_image_rgb(dir.path("half.png")); }, {dir.path("half.png"), "truncated or corrupt PNG"});
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  // Cut inside the final IEND chunk: every pixel is there, the file is still incomplete.
  write_bytes(dir.path("no_iend.png"), png.substr(0, png.size() - 6));
  expect_error([&] { decode_image_rgb(dir.path("no_iend.png")); }, {dir.path("no_iend.png"), "no IEND chunk"});
}

// A changed byte inside the compressed pixels: libpng would print "libpng error: IDAT: ..." (found by
// the fuzz replay); sct names the chunk whose CRC fails, silently. A changed CRC in the header too.
TEST(ImageDecode, CorruptPngChunkIsRefusedByItsCrc) {
  TempDir dir;
  std::string png = read_bytes(fixture_image("rgb_64x48.png"));
  const size_t idat = png.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  std::string flipped = png;
  flipped[idat + 20] = static_cast<char>(flipped[idat + 20] ^ 0x10);
  write_bytes(dir.path("flip.png"), flipped);
  testing::internal::CaptureStderr();
  expect_error([&] { decode_image_rgb(dir.path("flip.png")); },
               {dir.path("flip.png"), "corrupt PNG (chunk 'IDAT' at byte " + std::to_string(idat - 4) + " fails its CRC)"});
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  std::string header = png;
  header[29] = static_cast<char>(header[29] ^ 1);  // IHDR's CRC: bytes 29..32
  write_bytes(dir.path("ihdr.png"), header);
  expect_error([&] { decode_image_rgb(dir.path("ihdr.png")); }, {"chunk 'IHDR' at byte 8 fails its CRC"});
}

TEST(ImageDecode, DirectoryIsNotAnImage) {
  TempDir dir;
  expect_error([&] { decode_image_rgb(dir.path()); }, {dir.path(), "not a regular file"});
}

// A FIFO named as an image is refused at once (opening it for reading would wait for a writer forever).
TEST(ImageDecode, FifoIsRefusedNotWaitedOn) {
  TempDir dir;
  const std::string fifo = dir.path("image.png");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  expect_error([&] { decode_image_rgb(fifo); }, {fifo, "not a regular file"});
}

// Decompression bombs: the size is read from the header and refused before any pixel is decoded.
TEST(ImageDecode, PixelLimitRefusesBombsFromTheirHeader) {
  const std::string png_head("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\x4e\x20\0\0\x4e\x20\x08\x02\0\0\0", 29);
  const std::string jpeg_head("\xFF\xD8\xFF\xE0\0\x04\0\0\xFF\xC0\0\x11\x08\x75\x30\x75\x30\x03", 18);
  for (const std::string& bytes : {png_head, jpeg_head}) {
    const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
    int64_t w = 0, h = 0;
    ASSERT_TRUE(image_header_size(data, bytes.size(), w, h));
    EXPECT_GT(w * h, kDefaultMaxImagePixels);
    expect_error([&] { decode_image_rgb(data, bytes.size(), "bomb"); },
                 {"image bomb is " + std::to_string(w) + " x " + std::to_string(h), "--max-image-pixels"});
  }
  // Real files: the header agrees with the decoded size; a lower limit refuses them, naming it.
  for (const char* name : {"exif_rot_36x20.jpg", "exif_rot_36x20.rgb.png"}) {
    const std::string bytes = read_bytes(fixture_image(name));
    int64_t w = 0, h = 0;
    ASSERT_TRUE(image_header_size(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), w, h)) << name;
    const cv::Mat img = decode_image_rgb(fixture_image(name));
    EXPECT_EQ(w, img.cols);
    EXPECT_EQ(h, img.rows);
  }
  set_max_image_pixels(100);
  expect_error([&] { decode_image_rgb(fixture_image("exif_rot_36x20.jpg")); }, {"over the limit of 100"});
  // A file larger than any image within the limit could be (8 bytes a pixel + 1 MB) is not even read.
  TempDir dir;
  write_bytes(dir.path("huge.png"), read_bytes(fixture_image("rgb_64x48.png")) + std::string(1 << 20, '\0'));
  expect_error([&] { decode_image_rgb(dir.path("huge.png")); },
               {dir.path("huge.png"), "bytes, over the limit of " + std::to_string(800 + (1 << 20))});
  set_max_image_pixels(kDefaultMaxImagePixels);
  EXPECT_THROW(set_max_image_pixels(0), Error);
}

}  // namespace
}  // namespace sct
