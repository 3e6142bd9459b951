#include "sct/data/idx_file.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <numeric>

#include "data_test_util.h"

namespace sct {
namespace {

using test::expect_error;
using test::TempDir;
using test::write_bytes;

// Magic 00 00 08 02, dims 2 x 3 (big-endian), six values.
const std::string kSmallIdx =
    std::string("\0\0\x08\x02\0\0\0\x02\0\0\0\x03", 12) + std::string("\x01\x02\x03\x04\x05\xff", 6);

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(f);
}

TEST(IdxFile, ReadsPlainAndGzipped) {
  TempDir dir;
  write_bytes(dir.path("a.idx"), kSmallIdx);
  write_gz(dir.path("a.idx.gz"), kSmallIdx);
  for (const std::string name : {"a.idx", "a.idx.gz"}) {
    const IdxArray a = read_idx_file(dir.path(name));
    EXPECT_EQ(a.dims, (std::vector<int64_t>{2, 3})) << name;
    EXPECT_EQ(a.data, (std::vector<uint8_t>{1, 2, 3, 4, 5, 255})) << name;
  }
}

TEST(IdxFile, Errors) {
  TempDir dir;
  expect_error([&] { read_idx_file(dir.path("missing.gz")); }, {dir.path("missing.gz")});
  write_bytes(dir.path("magic"), std::string("\x01\x00\x08\x01\0\0\0\x01\x07", 9));
  expect_error([&] { read_idx_file(dir.path("magic")); }, {dir.path("magic"), "bad magic"});
  write_bytes(dir.path("float"), std::string("\0\0\x0d\x01\0\0\0\x01\0\0\0\0", 12));
  expect_error([&] { read_idx_file(dir.path("float")); }, {dir.path("float"), "element type 13 not supported"});
  write_bytes(dir.path("short"), kSmallIdx.substr(0, kSmallIdx.size() - 2));
  expect_error([&] { read_idx_file(dir.path("short")); }, {dir.path("short"), "truncated", "4 of 6"});
  write_gz(dir.path("short.gz"), kSmallIdx.substr(0, kSmallIdx.size() - 2));
  expect_error([&] { read_idx_file(dir.path("short.gz")); }, {"truncated"});
  // A gzip stream cut in the middle (not a complete smaller file).
  const std::string whole = test::read_bytes(dir.path("short.gz"));
  write_bytes(dir.path("cut.gz"), whole.substr(0, whole.size() - 12));
  expect_error([&] { read_idx_file(dir.path("cut.gz")); }, {dir.path("cut.gz")});
  write_bytes(dir.path("long"), kSmallIdx + "z");
  expect_error([&] { read_idx_file(dir.path("long")); }, {dir.path("long"), "trailing bytes"});
  write_bytes(dir.path("header"), std::string("\0\0\x08\x03\0\0", 6));
  expect_error([&] { read_idx_file(dir.path("header")); }, {"too short for its header"});
}

// Debian's Fashion-MNIST, checked against values read with Python's gzip + numpy.
TEST(IdxFile, ReadsDebianFashionMnist) {
  const std::string dir = "/usr/share/datasets/fashion-mnist/";
  if (!std::filesystem::exists(dir + "train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "package fashion-mnist not installed";
  const IdxArray labels = read_idx_file(dir + "train-labels-idx1-ubyte.gz");
  EXPECT_EQ(labels.dims, (std::vector<int64_t>{60000}));
  EXPECT_EQ(std::vector<uint8_t>(labels.data.begin(), labels.data.begin() + 10),
            (std::vector<uint8_t>{9, 0, 0, 3, 0, 2, 7, 2, 5, 5}));
  const IdxArray images = read_idx_file(dir + "train-images-idx3-ubyte.gz");
  EXPECT_EQ(images.dims, (std::vector<int64_t>{60000, 28, 28}));
  EXPECT_EQ(std::accumulate(images.data.begin(), images.data.begin() + 784, int64_t{0}), 76247);
  EXPECT_EQ(std::vector<uint8_t>(images.data.begin() + 14 * 28 + 10, images.data.begin() + 14 * 28 + 18),
            (std::vector<uint8_t>{0, 0, 237, 226, 217, 223, 222, 219}));
  EXPECT_EQ(std::accumulate(images.data.begin(), images.data.end(), int64_t{0}), 3431114169LL);
}

}  // namespace
}  // namespace sct
