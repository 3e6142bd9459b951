#include "sct/io/safetensors.h"


#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sct/core/error.h"
#include "test_util.h"


namespace fs = std::filesystem;

namespace sct {
namespace {

using test::expect_error;

// The 8-byte little-endian length prefix, spelled out byte by byte.
std::string le_u64(std::uint64_t v) {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return out;
}

std::string safetensors_bytes(const std::string& header, const std::string& data) {
  return le_u64(header.size()) + header + data;
}

// Bitwise, so NaN payloads and -0 count; empty tensors may have no storage to compare.
bool same_bytes(const at::Tensor& a, const at::Tensor& b) {
  return a.scalar_type() == b.scalar_type() && a.sizes() == b.sizes() && a.is_contiguous() &&
         b.is_contiguous() &&
         (a.numel() == 0 || std::memcmp(a.data_ptr(), b.data_ptr(), a.numel() * a.element_size()) == 0);
}

TEST(SafetensorsTest, ReadsHandBuiltFile) {
  test::ScratchDir dir;
  const std::string path = dir.file("hand.safetensors");
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("h":{"dtype":"BF16","shape":[1,1],"data_offsets":[8,10]},)"
      R"("s":{"dtype":"I16","shape":[],"data_offsets":[10,12]},)"
      R"("e":{"dtype":"U8","shape":[0],"data_offsets":[12,12]}})";
  const std::string data = std::string("\x00\x00\x80\x3f", 4)    // 1.0f
                           + std::string("\x00\x00\x20\xc0", 4)  // -2.5f
                           + std::string("\x49\x40", 2)          // bf16 0x4049 = 3.140625
                           + std::string("\xfe\xff", 2);         // int16 -2
  test::write_file(path, safetensors_bytes(header, data));

  StringMap metadata;
  const TensorMap tensors = load_safetensors(path, &metadata);
  EXPECT_EQ(metadata, (StringMap{{"format", "pt"}}));
  ASSERT_EQ(tensors.size(), 4u);
  const at::Tensor& w = tensors.at("w");
  EXPECT_EQ(w.scalar_type(), at::kFloat);
  EXPECT_EQ(w.sizes(), at::IntArrayRef({2}));
  EXPECT_EQ(w[0].item<float>(), 1.0f);
  EXPECT_EQ(w[1].item<float>(), -2.5f);
  const at::Tensor& h = tensors.at("h");
  EXPECT_EQ(h.scalar_type(), at::kBFloat16);
  EXPECT_EQ(h.sizes(), at::IntArrayRef({1, 1}));
  EXPECT_EQ(h.to(at::kFloat).item<float>(), 3.140625f);
  const at::Tensor& s = tensors.at("s");
  EXPECT_EQ(s.scalar_type(), at::kShort);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.item<std::int16_t>(), -2);
  const at::Tensor& e = tensors.at("e");
  EXPECT_EQ(e.scalar_type(), at::kByte);
  EXPECT_EQ(e.sizes(), at::IntArrayRef({0}));
}

TEST(SafetensorsTest, WriterLaysOutSortedPaddedBackToBack) {
  test::ScratchDir dir;
  const std::string path = dir.file("out.safetensors");
  const at::Tensor b = at::tensor({1.0f, -2.0f});
  const at::Tensor a = at::scalar_tensor(static_cast<std::int64_t>(0x0102030405060708), at::kLong);
  const at::Tensor c = at::empty({0}, at::kByte);
  save_safetensors(path, {{"b", b}, {"a", a}, {"c", c}}, {{"k", "v"}});

  const std::string bytes = test::read_file(path);
  ASSERT_GE(bytes.size(), 8u);
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<std::uint8_t>(bytes[i]);
  EXPECT_EQ(n % 8, 0u);
  ASSERT_EQ(bytes.size(), 8 + n + 16);
  const std::string header = bytes.substr(8, n);
  const nlohmann::json json = nlohmann::json::parse(header);
  EXPECT_EQ(header.find_first_not_of(' ', json.dump().size()), std::string::npos) << "padding must be spaces";
  EXPECT_EQ(json["__metadata__"], nlohmann::json({{"k", "v"}}));
  EXPECT_EQ(json["a"], nlohmann::json::parse(R"({"dtype":"I64","shape":[],"data_offsets":[0,8]})"));
  EXPECT_EQ(json["b"], nlohmann::json::parse(R"({"dtype":"F32","shape":[2],"data_offsets":[8,16]})"));
  EXPECT_EQ(json["c"], nlohmann::json::parse(R"({"dtype":"U8","shape":[0],"data_offsets":[16,16]})"));
  EXPECT_EQ(bytes.substr(8 + n), std::string("\x08\x07\x06\x05\x04\x03\x02\x01", 8) +
                                     std::string("\x00\x00\x80\x3f\x00\x00\x00\xc0", 8));
}

TEST(SafetensorsTest, RoundTripIsBitExactForEveryDtypeAndShape) {
  test::ScratchDir dir;
  const std::string path = dir.file("all.safetensors");
  const std::vector<at::ScalarType> types = {at::kDouble, at::kFloat, at::kHalf, at::kBFloat16, at::kLong,
                                             at::kInt,    at::kShort, at::kChar, at::kByte,     at::kBool};
  const std::vector<std::vector<std::int64_t>> shapes = {{2, 3}, {}, {0}, {3, 0, 2}, {7}, {1, 2, 1, 3}};
  at::manual_seed(7);
  TensorMap tensors;
  for (const at::ScalarType type : types)
    for (std::size_t s = 0; s < shapes.size(); ++s) {
      const std::int64_t numel = c10::multiply_integers(shapes[s]);
      // Random bit patterns (NaN payloads, subnormals, -0) for every type except bool, which must be 0/1.
      const at::Tensor bits =
          type == at::kBool
              ? at::randint(0, 2, {numel}, at::kByte)
              : at::randint(0, 256, {numel * static_cast<std::int64_t>(c10::elementSize(type))}, at::kByte);
      tensors[std::string(c10::toString(type)) + "/" + std::to_string(s)] =
          bits.view(type).reshape(shapes[s]);
    }
  const StringMap metadata = {{"format", "pt"}, {"note", "ünïcode \"quoted\"\n"}};
  save_safetensors(path, tensors, metadata);

  StringMap loaded_metadata;
  const TensorMap loaded = load_safetensors(path, &loaded_metadata);
  EXPECT_EQ(loaded_metadata, metadata);
  ASSERT_EQ(loaded.size(), tensors.size());
  for (const auto& [name, tensor] : tensors) {
    ASSERT_EQ(loaded.count(name), 1u) << name;
    EXPECT_TRUE(same_bytes(loaded.at(name), tensor)) << name;
  }
}

TEST(SafetensorsTest, WritesNonContiguousTensorsInLogicalOrder) {
  test::ScratchDir dir;
  const std::string path = dir.file("views.safetensors");
  const at::Tensor base = at::arange(24, at::kFloat).reshape({4, 6});
  const TensorMap tensors = {{"transposed", base.t()},
                             {"sliced", base.slice(1, 2, 5)},
                             {"expanded", at::tensor({1, 2, 3}, at::kInt).expand({2, 3})}};
  save_safetensors(path, tensors);
  const TensorMap loaded = load_safetensors(path);
  for (const auto& [name, tensor] : tensors) {
    EXPECT_TRUE(loaded.at(name).is_contiguous()) << name;
    EXPECT_TRUE(at::equal(loaded.at(name), tensor)) << name;
  }
}

TEST(SafetensorsTest, EmptyMapRoundTrips) {
  test::ScratchDir dir;
  const std::string path = dir.file("empty.safetensors");
  save_safetensors(path, {});
  StringMap metadata;
  EXPECT_TRUE(load_safetensors(path, &metadata).empty());
  EXPECT_TRUE(metadata.empty());
}

TEST(SafetensorsTest, OverwritesExistingFile) {
  test::ScratchDir dir;
  const std::string path = dir.file("model.safetensors");
  save_safetensors(path, {{"x", at::ones({100})}});
  save_safetensors(path, {{"y", at::zeros({2})}});
  const TensorMap loaded = load_safetensors(path);
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_TRUE(at::equal(loaded.at("y"), at::zeros({2})));
}

TEST(SafetensorsTest, WriterRejectsUnsupportedDtypeAndLeavesNoFile) {
  test::ScratchDir dir;
  const std::string path = dir.file("bad.safetensors");
  expect_error(
      [&] {
        save_safetensors(path, {{"ok", at::ones({2})}, {"z", at::ones({2}, at::kComplexFloat)}});
      },
      {path, "'z'"});
  EXPECT_FALSE(fs::exists(path));
}

TEST(SafetensorsTest, WriterRejectsReservedName) {
  test::ScratchDir dir;
  const std::string path = dir.file("bad.safetensors");
  expect_error([&] { save_safetensors(path, {{"__metadata__", at::ones({2})}}); }, {path, "__metadata__"});
}

// A header listing more tensors than any checkpoint has is refused with the limit named, before any
// tensor is allocated.
TEST(SafetensorsTest, RefusesMoreTensorsThanTheLimit) {
  test::ScratchDir dir;
  std::string header = "{";
  for (int i = 0; i <= 100000; ++i)
    header += (i ? ",\"t" : "\"t") + std::to_string(i) + "\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}";
  header += "}";
  const std::string path = dir.file("many.safetensors");
  test::write_file(path, safetensors_bytes(header, ""));
  test::expect_error([&] { load_safetensors(path); }, {path, "100001 tensors", "limit of 100000"});
}

TEST(SafetensorsTest, MissingFileNamesPath) {
  test::ScratchDir dir;
  const std::string path = dir.file("missing.safetensors");
  expect_error([&] { load_safetensors(path); }, {path});
}

TEST(SafetensorsTest, RejectsFileShorterThanLengthPrefix) {
  test::ScratchDir dir;
  const std::string path = dir.file("short.safetensors");
  for (const std::string& bytes : {std::string(), std::string("\x10\x00\x00", 3)}) {
    test::write_file(path, bytes);
    expect_error([&] { load_safetensors(path); }, {path});
  }
}

TEST(SafetensorsTest, RejectsHeaderLengthBeyondFile) {
  test::ScratchDir dir;
  const std::string path = dir.file("long.safetensors");
  test::write_file(path, le_u64(1000) + "{}");
  expect_error([&] { load_safetensors(path); }, {path, "1000", "exceeds the file size"});
}

TEST(SafetensorsTest, RejectsHeaderLengthOver100MB) {
  test::ScratchDir dir;
  const std::string path = dir.file("huge.safetensors");
  const std::uint64_t n = (100u << 20) + 8;
  test::write_file(path, le_u64(n));
  fs::resize_file(path, 8 + n);  // sparse: costs no disk space
  expect_error([&] { load_safetensors(path); }, {path, "100 MB"});
}

TEST(SafetensorsTest, RejectsTruncatedDataSection) {
  test::ScratchDir dir;
  const std::string path = dir.file("truncated.safetensors");
  save_safetensors(path, {{"first", at::ones({4})}, {"last", at::ones({4})}});
  fs::resize_file(path, fs::file_size(path) - 4);
  expect_error([&] { load_safetensors(path); }, {path, "'last'", "outside"});
}

// Header corruptions: each must name the file and, where one is involved, the tensor.
struct CorruptCase {
  const char* name;
  std::string header;
  std::string data;
  std::vector<std::string> expected;  // substrings of the message besides the path
};

void PrintTo(const CorruptCase& c, std::ostream* os) { *os << c.name; }

class SafetensorsCorruptTest : public testing::TestWithParam<CorruptCase> {};

TEST_P(SafetensorsCorruptTest, ThrowsNamingFileAndTensor) {
  test::ScratchDir dir;
  const std::string path = dir.file("corrupt.safetensors");
  test::write_file(path, safetensors_bytes(GetParam().header, GetParam().data));
  std::vector<std::string> expected = GetParam().expected;
  expected.push_back(path);
  expect_error([&] { load_safetensors(path); }, expected);
}

const std::string k8(8, '\0');

INSTANTIATE_TEST_SUITE_P(
    Headers, SafetensorsCorruptTest,
    testing::Values(
        CorruptCase{"BadJson", R"({"t": {"dtype": "F32",)", k8, {"not valid JSON"}},
        CorruptCase{"NotAnObject", "[1, 2]", k8, {"not a JSON object"}},
        CorruptCase{"EntryNotAnObject", R"({"t": 5})", k8, {"'t'", "not a JSON object"}},
        CorruptCase{"MissingDtype", R"({"t": {"shape": [2], "data_offsets": [0, 8]}})", k8, {"'t'", "dtype"}},
        CorruptCase{"DtypeNotString",
                    R"({"t": {"dtype": 4, "shape": [2], "data_offsets": [0, 8]}})",
                    k8,
                    {"'t'", "dtype"}},
        CorruptCase{"UnknownDtype",
                    R"({"t": {"dtype": "F8", "shape": [2], "data_offsets": [0, 8]}})",
                    k8,
                    {"'t'", "unknown dtype 'F8'"}},
        CorruptCase{"ShapeNotArray",
                    R"({"t": {"dtype": "F32", "shape": 2, "data_offsets": [0, 8]}})",
                    k8,
                    {"'t'", "shape"}},
        CorruptCase{"NegativeShape",
                    R"({"t": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})",
                    k8,
                    {"'t'", "non-negative"}},
        CorruptCase{"FractionalShape",
                    R"({"t": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 8]}})",
                    k8,
                    {"'t'", "non-negative"}},
        CorruptCase{"OffsetsWrongLength",
                    R"({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0]}})",
                    k8,
                    {"'t'", "data_offsets"}},
        CorruptCase{"NegativeOffset",
                    R"({"t": {"dtype": "U8", "shape": [1], "data_offsets": [-1, 0]}})",
                    k8,
                    {"'t'", "data_offsets"}},
        CorruptCase{"ShapeLengthMismatch",
                    R"({"t": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})",
                    k8,
                    {"'t'", "needs 12 bytes", "span 8"}},
        CorruptCase{"ShapeOverflow",
                    R"({"t": {"dtype": "I32", "shape": [4611686018427387904, 4], "data_offsets": [0, 8]}})",
                    k8,
                    {"'t'", "more than 2^64"}},
        CorruptCase{"EndBeyondData",
                    R"({"t": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})",
                    k8,
                    {"'t'", "outside"}},
        CorruptCase{"BeginAfterEnd",
                    R"({"t": {"dtype": "F32", "shape": [0], "data_offsets": [8, 4]}})",
                    k8,
                    {"'t'", "outside"}},
        CorruptCase{"OverlappingTensors",
                    R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                    R"( "b": {"dtype": "I16", "shape": [2], "data_offsets": [6, 10]}})",
                    std::string(10, '\0'),
                    {"'a'", "'b'", "overlap"}},
        CorruptCase{"MetadataNotObject", R"({"__metadata__": "pt"})", "", {"__metadata__"}},
        CorruptCase{
            "MetadataValueNotString", R"({"__metadata__": {"epoch": 3}})", "", {"'epoch'", "not a string"}},
        CorruptCase{"BoolOutOfRange",
                    R"({"flags": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}})",
                    std::string("\x01\x02", 2),
                    {"'flags'", "0 and 1"}}),
    [](const testing::TestParamInfo<CorruptCase>& info) { return std::string(info.param.name); });

TEST(SafetensorsTest, EmptyTensorInsideAnotherIsNotAnOverlap) {
  test::ScratchDir dir;
  const std::string path = dir.file("empty_inside.safetensors");
  test::write_file(path, safetensors_bytes(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                                      R"( "b": {"dtype": "F32", "shape": [0], "data_offsets": [4, 4]}})",
                                      k8));
  const TensorMap loaded = load_safetensors(path);
  EXPECT_EQ(loaded.at("b").numel(), 0);
}

}  // namespace
}  // namespace sct
