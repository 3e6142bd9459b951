#include "sct/io/npz.h"

#include <zlib.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sct/core/error.h"
#include "test_util.h"

namespace sct {
namespace {

using test::expect_error;

// Fixtures come from tools/make_npz_fixtures.py: numpy wrote the archives and the expected values.
const std::string kNpzFixtures = test::fixture("npz/");

std::string le(std::uint64_t v, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return out;
}

std::uint64_t read_le(const std::string& bytes, std::size_t pos, int size) {
  std::uint64_t v = 0;
  for (int i = size - 1; i >= 0; --i) v = (v << 8) | static_cast<std::uint8_t>(bytes[pos + i]);
  return v;
}

// A minimal .npy writer: format version 1.0 (or 2.0/3.0), header padded to 64 bytes as numpy does.
std::string make_npy(const std::string& dict, const std::string& payload, int major = 1) {
  const std::size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  return std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0' +
         le(header.size(), major == 1 ? 2 : 4) + header + payload;
}

struct Member {
  std::string name;
  std::string data;
};

// A minimal zip writer (stored entries, correct CRC-32), independent of the reader under test.
std::string make_stored_zip(const std::vector<Member>& members) {
  std::string local, central;
  for (const Member& m : members) {
    const std::uint32_t crc =
        crc32(0, reinterpret_cast<const Bytef*>(m.data.data()), static_cast<uInt>(m.data.size()));
    const std::string common = le(20, 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0x21, 2) + le(crc, 4) +
                               le(m.data.size(), 4) + le(m.data.size(), 4) + le(m.name.size(), 2) + le(0, 2);
    central += le(0x02014b50, 4) + le(20, 2) + common + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 4) +
               le(local.size(), 4) + m.name;
    local += le(0x04034b50, 4) + common + m.name + m.data;
  }
  return local + central + le(0x06054b50, 4) + le(0, 2) + le(0, 2) + le(members.size(), 2) +
         le(members.size(), 2) + le(central.size(), 4) + le(local.size(), 4) + le(0, 2);
}

at::ScalarType numpy_type(const std::string& name) {
  static const std::map<std::string, at::ScalarType> types = {
      {"float16", at::kHalf}, {"float32", at::kFloat}, {"float64", at::kDouble},
      {"int8", at::kChar},    {"int16", at::kShort},   {"int32", at::kInt},
      {"int64", at::kLong},   {"uint8", at::kByte},    {"bool", at::kBool}};
  return types.at(name);
}

// Compares a loaded tensor with numpy's dtype, shape and C-order values, exactly.
void expect_matches_numpy(const at::Tensor& tensor, const nlohmann::json& expected, const std::string& key) {
  SCOPED_TRACE(key);
  const at::ScalarType type = numpy_type(expected["dtype"].get<std::string>());
  ASSERT_EQ(tensor.scalar_type(), type);
  ASSERT_EQ(tensor.sizes().vec(), expected["shape"].get<std::vector<std::int64_t>>());
  EXPECT_TRUE(tensor.is_contiguous());
  const nlohmann::json& values = expected["values"];
  ASSERT_EQ(static_cast<std::size_t>(tensor.numel()), values.size());
  if (at::isFloatingType(type)) {
    const at::Tensor d = tensor.to(at::kDouble).contiguous();
    for (std::size_t i = 0; i < values.size(); ++i)
      EXPECT_EQ(d.data_ptr<double>()[i], values[i].get<double>()) << i;
  } else if (type == at::kBool) {
    for (std::size_t i = 0; i < values.size(); ++i)
      EXPECT_EQ(tensor.data_ptr<bool>()[i], values[i].get<bool>()) << i;
  } else {
    const at::Tensor l = tensor.to(at::kLong).contiguous();
    for (std::size_t i = 0; i < values.size(); ++i)
      EXPECT_EQ(l.data_ptr<std::int64_t>()[i], values[i].get<std::int64_t>()) << i;
  }
}

nlohmann::json expected_json() {
  std::ifstream in(kNpzFixtures + "expected.json");
  return nlohmann::json::parse(in);
}

class NpzFixtureTest : public testing::TestWithParam<std::string> {};

TEST_P(NpzFixtureTest, MatchesNumpy) {
  const nlohmann::json expected = expected_json();
  const TensorMap tensors = load_npz(kNpzFixtures + GetParam());
  std::vector<std::string> keys;
  for (const auto& [key, tensor] : tensors) keys.push_back(key);
  ASSERT_EQ(keys, expected["archives"][GetParam()].get<std::vector<std::string>>());
  for (const auto& [key, tensor] : tensors) expect_matches_numpy(tensor, expected["arrays"][key], key);
}

INSTANTIATE_TEST_SUITE_P(Archives, NpzFixtureTest,
                         testing::Values("stored.npz", "deflated.npz", "zip64.npz", "versions.npz"),
                         [](const testing::TestParamInfo<std::string>& info) {
                           return info.param.substr(0, info.param.find('.'));
                         });

TEST(NpzTest, ReadsHandBuiltArchive) {
  test::ScratchDir dir;
  const std::string path = dir.file("hand.npz");
  const std::string fortran_bytes("\x01\x04\x02\x05\x03\x06", 6);  // [[1,2,3],[4,5,6]] column by column
  test::write_file(path, make_stored_zip({
                        {"i16.npy", make_npy("{'descr': '<i2', 'fortran_order': False, 'shape': (3,), }",
                                             std::string("\x01\x00\xff\xff\x00\x80", 6))},
                        {"be.npy", make_npy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
                                            std::string("\x3f\x80\x00\x00\xc0\x20\x00\x00", 8), 2)},
                        {"flag.npy", make_npy("{'descr': '|b1', 'fortran_order': False, 'shape': (), }",
                                              std::string("\x01", 1), 3)},
                        {"dir/", ""},
                        {"dir/f.npy", make_npy("{\"descr\":\"|i1\",\"fortran_order\":True,\"shape\":(2,3)}",
                                               fortran_bytes)},
                    }));
  const TensorMap tensors = load_npz(path);
  ASSERT_EQ(tensors.size(), 4u);
  EXPECT_TRUE(at::equal(tensors.at("i16"), at::tensor({1, -1, -32768}, at::kShort)));
  EXPECT_TRUE(at::equal(tensors.at("be"), at::tensor({1.0f, -2.5f})));
  EXPECT_EQ(tensors.at("flag").dim(), 0);
  EXPECT_EQ(tensors.at("flag").scalar_type(), at::kBool);
  EXPECT_TRUE(tensors.at("flag").item<bool>());
  const at::Tensor f = tensors.at("dir/f");
  EXPECT_TRUE(f.is_contiguous());
  EXPECT_TRUE(at::equal(f, at::tensor({1, 2, 3, 4, 5, 6}, at::kChar).reshape({2, 3})));
}

TEST(NpzTest, MissingFileNamesPath) {
  test::ScratchDir dir;
  const std::string path = dir.file("missing.npz");
  expect_error([&] { load_npz(path); }, {path});
}

TEST(NpzTest, RejectsNonZipFiles) {
  test::ScratchDir dir;
  const std::string path = dir.file("not.npz");
  for (const std::string& bytes : {std::string(), std::string("PK"), std::string(200, 'x')}) {
    test::write_file(path, bytes);
    expect_error([&] { load_npz(path); }, {path, "not a zip"});
  }
}

// A zip64 directory claiming a million entries is refused with the limit named, before any is read.
TEST(NpzTest, RefusesMoreEntriesThanTheLimit) {
  test::ScratchDir dir;
  const std::string path = dir.file("many.npz");
  const auto le = [](std::uint64_t v, int bytes) {
    std::string out;
    for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
    return out;
  };
  std::string zip = std::string("PK\x06\x06", 4) + std::string(28, '\0');   // zip64 end record, at 0
  zip += le(1000000, 8) + le(0, 8) + le(0, 8);                                // entries, size, offset
  zip += std::string("PK\x06\x07", 4) + le(0, 4) + le(0, 8) + le(1, 4);       // locator -> record at 0
  zip += std::string("PK\x05\x06", 4) + std::string(18, '\0');               // end record
  test::write_file(path, zip);
  test::expect_error([&] { load_npz(path); }, {path, "1000000 entries", "limit of 100000"});
}

TEST(NpzTest, RejectsTruncatedArchive) {
  test::ScratchDir dir;
  const std::string path = dir.file("truncated.npz");
  const std::string good = test::read_file(kNpzFixtures + "stored.npz");
  test::write_file(path, good.substr(0, good.size() / 2));
  expect_error([&] { load_npz(path); }, {path, "truncated"});
}

// The first entry of stored.npz / deflated.npz is f32.npy (numpy keeps insertion order).
struct FirstEntry {
  std::size_t central;  // offset of its central directory header
  std::size_t data;     // offset of its (possibly compressed) data
};

FirstEntry first_entry(const std::string& zip) {
  const std::size_t end = zip.size() - 22;  // the fixtures carry no archive comment
  const std::size_t data = 30 + read_le(zip, 26, 2) + read_le(zip, 28, 2);
  return {static_cast<std::size_t>(read_le(zip, end + 16, 4)), data};
}

TEST(NpzTest, RejectsEntryExtendingPastEnd) {
  test::ScratchDir dir;
  const std::string path = dir.file("past_end.npz");
  std::string zip = test::read_file(kNpzFixtures + "stored.npz");
  const std::size_t central = first_entry(zip).central;
  zip.replace(central + 20, 8, le(0xfffffff0u, 4) + le(0xfffffff0u, 4));
  test::write_file(path, zip);
  expect_error([&] { load_npz(path); }, {path, "'f32.npy'", "past the end"});
}

TEST(NpzTest, RejectsCrcMismatchInStoredEntry) {
  test::ScratchDir dir;
  const std::string path = dir.file("crc.npz");
  std::string zip = test::read_file(kNpzFixtures + "stored.npz");
  zip[first_entry(zip).data + 40] ^= 0x01;
  test::write_file(path, zip);
  expect_error([&] { load_npz(path); }, {path, "'f32.npy'", "CRC-32 mismatch"});
}

TEST(NpzTest, RejectsCorruptDeflatedEntry) {
  test::ScratchDir dir;
  const std::string path = dir.file("deflate.npz");
  std::string zip = test::read_file(kNpzFixtures + "deflated.npz");
  zip[first_entry(zip).data + 10] ^= 0x55;
  test::write_file(path, zip);
  // Depending on the bit, zlib reports bad data, a wrong length, or the CRC check catches it.
  expect_error([&] { load_npz(path); }, {path, "'f32.npy'"});
}

TEST(NpzTest, RejectsUnknownCompressionMethod) {
  test::ScratchDir dir;
  const std::string path = dir.file("bzip2.npz");
  std::string zip = test::read_file(kNpzFixtures + "stored.npz");
  zip.replace(first_entry(zip).central + 10, 2, le(12, 2));
  test::write_file(path, zip);
  expect_error([&] { load_npz(path); }, {path, "'f32.npy'", "compression method 12"});
}

TEST(NpzTest, RejectsCorruptLocalHeader) {
  test::ScratchDir dir;
  const std::string path = dir.file("local.npz");
  std::string zip = test::read_file(kNpzFixtures + "stored.npz");
  zip[0] = 'X';
  test::write_file(path, zip);
  expect_error([&] { load_npz(path); }, {path, "'f32.npy'", "local file header"});
}

TEST(NpzTest, RejectsZip64RecordOutsideFile) {
  test::ScratchDir dir;
  const std::string path = dir.file("zip64.npz");
  std::string zip = test::read_file(kNpzFixtures + "zip64.npz");
  const std::size_t locator = zip.size() - 22 - 20;
  ASSERT_EQ(read_le(zip, locator, 4), 0x07064b50u);
  zip.replace(locator + 8, 8, le(zip.size(), 8));
  test::write_file(path, zip);
  expect_error([&] { load_npz(path); }, {path, "zip64"});
}

TEST(NpzTest, RejectsBadNpyMagic) {
  test::ScratchDir dir;
  const std::string path = dir.file("magic.npz");
  std::string npy =
      make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", std::string(4, '\0'));
  npy[1] = 'M';
  test::write_file(path, make_stored_zip({{"w.npy", npy}}));
  expect_error([&] { load_npz(path); }, {path, "'w.npy'", "bad magic"});
}

TEST(NpzTest, RejectsUnsupportedNpyVersion) {
  test::ScratchDir dir;
  const std::string path = dir.file("version.npz");
  std::string npy =
      make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", std::string(4, '\0'));
  npy[6] = 4;
  test::write_file(path, make_stored_zip({{"w.npy", npy}}));
  expect_error([&] { load_npz(path); }, {path, "'w.npy'", "version 4.0"});
}

TEST(NpzTest, RejectsUnsupportedDtypes) {
  test::ScratchDir dir;
  const std::string path = dir.file("dtype.npz");
  for (const std::string descr : {"'<c8'", "'|O'", "'<u4'", "'<f4 '", "[('x', '<f4')]"}) {
    SCOPED_TRACE(descr);
    test::write_file(path, make_stored_zip({{"w.npy", make_npy("{'descr': " + descr +
                                                              ", 'fortran_order': False, 'shape': (1,), }",
                                                          std::string(8, '\0'))}}));
    expect_error([&] { load_npz(path); }, {path, "'w.npy'", "unsupported dtype"});
  }
}

TEST(NpzTest, RejectsSizeMismatch) {
  test::ScratchDir dir;
  const std::string path = dir.file("size.npz");
  for (const std::size_t bytes : {8u, 16u}) {
    test::write_file(
        path, make_stored_zip({{"w.npy", make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
                                                  std::string(bytes, '\0'))}}));
    expect_error([&] { load_npz(path); }, {path, "'w.npy'", "need 12 bytes"});
  }
}

TEST(NpzTest, RejectsMalformedNpyHeaders) {
  test::ScratchDir dir;
  const std::string path = dir.file("header.npz");
  for (const std::string dict :
       {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, x), }",
        "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }", "{'descr': '<f4', 'shape': (1,), }",
        "{'descr': '<f4', 'fortran_order': False"}) {
    SCOPED_TRACE(dict);
    test::write_file(path, make_stored_zip({{"w.npy", make_npy(dict, std::string(4, '\0'))}}));
    expect_error([&] { load_npz(path); }, {path, "'w.npy'", "malformed npy header"});
  }
}

TEST(NpzTest, RejectsInvalidBoolBytes) {
  test::ScratchDir dir;
  const std::string path = dir.file("bool.npz");
  test::write_file(path,
              make_stored_zip({{"b.npy", make_npy("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }",
                                                  std::string("\x01\x07", 2))}}));
  expect_error([&] { load_npz(path); }, {path, "'b.npy'", "0 and 1"});
}

TEST(NpzTest, RejectsEntriesThatAreNotNpy) {
  test::ScratchDir dir;
  const std::string path = dir.file("readme.npz");
  test::write_file(path, make_stored_zip({{"README.txt", "hello"}}));
  expect_error([&] { load_npz(path); }, {path, "'README.txt'", "not an .npy"});
}

TEST(NpzTest, RejectsDuplicateNames) {
  test::ScratchDir dir;
  const std::string path = dir.file("dup.npz");
  const std::string npy = make_npy("{'descr': '|u1', 'fortran_order': False, 'shape': (1,), }", "x");
  test::write_file(path, make_stored_zip({{"w.npy", npy}, {"w.npy", npy}}));
  expect_error([&] { load_npz(path); }, {path, "duplicate", "'w'"});
}

}  // namespace
}  // namespace sct
