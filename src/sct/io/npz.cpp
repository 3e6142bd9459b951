#include "sct/io/npz.h"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <utility>
#include <vector>

#include <ATen/ATen.h>

#include "sct/core/error.h"
#include "sct/io/little_endian.h"
#include "sct/io/zip_archive.h"

namespace sct {
namespace {

// The header is a Python dict literal written by numpy, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::int64_t> shape;
};

class NpyHeaderParser {
 public:
  NpyHeaderParser(const std::string& text, const std::string& where) : text_(text), where_(where) {}

  // numpy pads the header with spaces up to a 64-byte boundary; messages show it without them.
  std::string shown() const { return text_.substr(0, text_.find_last_not_of(" \n") + 1); }

  NpyHeader parse() {
    NpyHeader header;
    bool has_descr = false, has_order = false, has_shape = false;
    expect('{');
    while (!accept('}')) {
      const std::string key = parse_string();
      expect(':');
      if (key == "descr") {
        skip_space();
        if (pos_ < text_.size() && text_[pos_] != '\'' && text_[pos_] != '"')
          throw Error(where_ + ": unsupported dtype in " + shown() +
                      " (structured arrays are not supported)");
        header.descr = parse_string();
        has_descr = true;
      } else if (key == "fortran_order") {
        header.fortran_order = parse_bool();
        has_order = true;
      } else if (key == "shape") {
        header.shape = parse_shape();
        has_shape = true;
      } else {
        fail("unexpected key '" + key + "'");
      }
      if (!accept(',')) {
        expect('}');
        break;
      }
    }
    if (!has_descr || !has_order || !has_shape) fail("'descr', 'fortran_order' or 'shape' missing");
    return header;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(where_ + ": malformed npy header " + shown() + ": " + what);
  }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool accept(char c) {
    skip_space();
    if (pos_ >= text_.size() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  void expect(char c) {
    if (!accept(c)) fail(std::string("expected '") + c + "'");
  }
  bool accept_word(const char* word) {
    skip_space();
    const std::size_t n = std::strlen(word);
    if (text_.compare(pos_, n, word) != 0) return false;
    pos_ += n;
    return true;
  }
  // numpy's keys and dtype strings never contain quotes or escapes.
  std::string parse_string() {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) fail("expected a string");
    const char quote = text_[pos_++];
    const std::size_t close = text_.find(quote, pos_);
    if (close == std::string::npos) fail("unterminated string");
    std::string value = text_.substr(pos_, close - pos_);
    pos_ = close + 1;
    return value;
  }
  bool parse_bool() {
    if (accept_word("True")) return true;
    if (accept_word("False")) return false;
    fail("expected True or False");
  }
  // Python tuples: (), (5,), (2, 3); a trailing comma is optional after the last element.
  std::vector<std::int64_t> parse_shape() {
    std::vector<std::int64_t> shape;
    expect('(');
    while (!accept(')')) {
      skip_space();
      const std::size_t start = pos_;
      std::int64_t dim = 0;
      while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
        if (__builtin_mul_overflow(dim, 10, &dim) || __builtin_add_overflow(dim, text_[pos_] - '0', &dim))
          fail("dimension too large");
        ++pos_;
      }
      if (pos_ == start) fail("shape must be a tuple of non-negative integers");
      shape.push_back(dim);
      if (!accept(',')) {
        expect(')');
        break;
      }
    }
    return shape;
  }

  const std::string& text_;
  const std::string& where_;
  std::size_t pos_ = 0;
};

struct NpyDtype {
  at::ScalarType type;
  bool big_endian;
};

NpyDtype parse_npy_dtype(const std::string& descr, const std::string& where) {
  struct Known {
    const char* code;
    at::ScalarType type;
  };
  static constexpr Known kKnown[] = {
      {"f2", at::kHalf}, {"f4", at::kFloat}, {"f8", at::kDouble}, {"i1", at::kChar}, {"i2", at::kShort},
      {"i4", at::kInt},  {"i8", at::kLong},  {"u1", at::kByte},   {"b1", at::kBool},
  };
  if (descr.size() == 3 && (descr[0] == '<' || descr[0] == '>' || descr[0] == '|' || descr[0] == '='))
    for (const Known& k : kKnown)
      if (descr.compare(1, 2, k.code) == 0) return {k.type, descr[0] == '>'};
  throw Error(where + ": unsupported dtype '" + descr + "' (expected f2, f4, f8, i1, i2, i4, i8, u1 or b1)");
}

// Parses one .npy file held in memory and copies its data into a new C-contiguous tensor.
at::Tensor parse_npy(const std::uint8_t* data, std::uint64_t size, const std::string& where) {
  static constexpr char kMagic[] = "\x93NUMPY";
  if (size < 10 || std::memcmp(data, kMagic, 6) != 0) throw Error(where + ": not an npy file (bad magic)");
  const std::uint8_t major = data[6];
  std::uint64_t header_start = 0, header_size = 0;
  if (major == 1) {
    header_start = 10;
    header_size = read_le<std::uint16_t>(data + 8);
  } else if (major == 2 || major == 3) {
    if (size < 12) throw Error(where + ": npy header is truncated");
    header_start = 12;
    header_size = read_le<std::uint32_t>(data + 8);
  } else {
    throw Error(where + ": unsupported npy format version " + std::to_string(major) + "." +
                std::to_string(data[7]));
  }
  if (header_size > size - header_start)
    throw Error(where + ": npy header extends past the end of the entry");
  const std::string text(reinterpret_cast<const char*>(data + header_start), header_size);
  const NpyHeader header = NpyHeaderParser(text, where).parse();
  const NpyDtype dtype = parse_npy_dtype(header.descr, where);

  const std::uint64_t available = size - header_start - header_size;
  std::uint64_t bytes = c10::elementSize(dtype.type);
  bool overflow = false;
  for (const std::int64_t dim : header.shape)
    overflow = overflow || __builtin_mul_overflow(bytes, static_cast<std::uint64_t>(dim), &bytes);
  if (overflow || bytes != available)
    throw Error(where + ": shape and dtype '" + header.descr + "' need " +
                (overflow ? std::string("more than 2^64") : std::to_string(bytes)) +
                " bytes, but the entry holds " + std::to_string(available));

  // Fortran order is C order of the reversed shape; permuting back gives the logical array.
  std::vector<std::int64_t> stored_shape = header.shape;
  if (header.fortran_order) std::reverse(stored_shape.begin(), stored_shape.end());
  at::Tensor tensor = at::empty(stored_shape, at::TensorOptions().dtype(dtype.type));
  const std::uint8_t* payload = data + header_start + header_size;
  if (bytes > 0) std::memcpy(tensor.data_ptr(), payload, bytes);
  if (dtype.type == at::kBool && std::any_of(payload, payload + bytes, [](std::uint8_t b) { return b > 1; }))
    throw Error(where + ": bool data contains bytes other than 0 and 1");
  if (dtype.big_endian && tensor.element_size() > 1) {
    const std::size_t item = tensor.element_size();
    auto* p = static_cast<std::uint8_t*>(tensor.data_ptr());
    for (std::uint64_t i = 0; i < bytes; i += item) std::reverse(p + i, p + i + item);
  }
  if (header.fortran_order && tensor.dim() > 1) {
    std::vector<std::int64_t> order(tensor.dim());
    std::iota(order.rbegin(), order.rend(), 0);
    tensor = tensor.permute(order).contiguous();
  }
  return tensor;
}

}  // namespace

TensorMap load_npz(const std::string& path) {
  const ZipArchive zip(path);
  TensorMap tensors;
  for (const ZipEntry& entry : zip.entries()) {
    if (!entry.name.empty() && entry.name.back() == '/') continue;  // directory entries carry no data
    const std::string where = path + ": entry '" + entry.name + "'";
    static constexpr char kSuffix[] = ".npy";
    const std::size_t suffix_size = sizeof(kSuffix) - 1;
    if (entry.name.size() <= suffix_size ||
        entry.name.compare(entry.name.size() - suffix_size, suffix_size, kSuffix) != 0)
      throw Error(where + ": not an .npy array");
    const ZipBytes npy = zip.read(entry);
    const std::string key = entry.name.substr(0, entry.name.size() - suffix_size);
    if (!tensors.emplace(key, parse_npy(npy.data, npy.size, where)).second)
      throw Error(where + ": duplicate array name '" + key + "'");
  }
  return tensors;
}

}  // namespace sct
