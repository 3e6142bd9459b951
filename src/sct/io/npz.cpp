#include "sct/io/npz.h"

#include <zlib.h>

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
#include "sct/io/mapped_file.h"

namespace sct {
namespace {

// Zip and little-endian npy fields are read with memcpy; big-endian arrays are swapped explicitly.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "npz I/O assumes a little-endian host");

constexpr std::uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr std::uint32_t kCentralHeaderSignature = 0x02014b50;
constexpr std::uint32_t kEndSignature = 0x06054b50;
constexpr std::uint32_t kZip64EndSignature = 0x06064b50;
constexpr std::uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr std::size_t kEndSize = 22;
constexpr std::size_t kZip64LocatorSize = 20;
constexpr std::size_t kZip64EndSize = 56;
constexpr std::size_t kCentralHeaderSize = 46;
constexpr std::size_t kLocalHeaderSize = 30;
constexpr std::uint16_t kZip64ExtraId = 0x0001;
// Deflate cannot expand data more than 1032:1; a larger claimed size is a corrupt header, not a big array.
constexpr std::uint64_t kMaxDeflateRatio = 1032;
// Google's ViT-H/14 .npz has ~400 arrays: a central directory of millions is corrupt or a bomb.
constexpr std::uint64_t kMaxEntries = 100000;

template <typename T>
T read_le(const std::uint8_t* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

struct ZipEntry {
  std::string name;
  std::uint16_t flags;
  std::uint16_t method;
  std::uint32_t crc;
  std::uint64_t compressed_size;
  std::uint64_t uncompressed_size;
  std::uint64_t local_header_offset;
};

struct CentralDirectory {
  std::uint64_t offset;
  std::uint64_t size;
  std::uint64_t entries;
};

// The End Of Central Directory record sits at the very end, possibly followed by a comment of up to
// 64 KiB; scan backwards for its signature. Zip64 archives put a locator right before it.
CentralDirectory find_central_directory(const MappedFile& file, const std::string& path) {
  const std::uint8_t* data = file.data();
  const std::size_t size = file.size();
  if (size < kEndSize)
    throw Error(path + ": not a zip archive (too short for an end of central directory record)");
  const std::size_t lowest = size - kEndSize > 0xffff ? size - kEndSize - 0xffff : 0;
  std::size_t end = size - kEndSize;
  while (read_le<std::uint32_t>(data + end) != kEndSignature) {
    if (end == lowest)
      throw Error(path + ": not a zip archive (no end of central directory record; truncated?)");
    --end;
  }
  if (read_le<std::uint16_t>(data + end + 4) != 0 || read_le<std::uint16_t>(data + end + 6) != 0)
    throw Error(path + ": multi-volume zip archives are not supported");
  CentralDirectory dir{read_le<std::uint32_t>(data + end + 16), read_le<std::uint32_t>(data + end + 12),
                       read_le<std::uint16_t>(data + end + 10)};

  if (end >= kZip64LocatorSize &&
      read_le<std::uint32_t>(data + end - kZip64LocatorSize) == kZip64LocatorSignature) {
    const std::uint64_t record = read_le<std::uint64_t>(data + end - kZip64LocatorSize + 8);
    if (size < kZip64EndSize || record > size - kZip64EndSize ||
        read_le<std::uint32_t>(data + record) != kZip64EndSignature)
      throw Error(path + ": zip64 end of central directory record missing or outside the file (truncated?)");
    dir.entries = read_le<std::uint64_t>(data + record + 32);
    dir.size = read_le<std::uint64_t>(data + record + 40);
    dir.offset = read_le<std::uint64_t>(data + record + 48);
  }
  if (dir.offset > size || dir.size > size - dir.offset)
    throw Error(path + ": central directory lies outside the file (truncated or not a zip archive)");
  return dir;
}

// Fields saturated to 0xffffffff in the central header are stored, in this order, in the zip64 extra field.
void apply_zip64_extra(ZipEntry& entry, const std::uint8_t* extra, std::size_t extra_size,
                       const std::string& where) {
  const bool need_uncompressed = entry.uncompressed_size == 0xffffffffu;
  const bool need_compressed = entry.compressed_size == 0xffffffffu;
  const bool need_offset = entry.local_header_offset == 0xffffffffu;
  if (!need_uncompressed && !need_compressed && !need_offset) return;
  for (std::size_t pos = 0; pos + 4 <= extra_size;) {
    const std::uint16_t id = read_le<std::uint16_t>(extra + pos);
    const std::uint16_t length = read_le<std::uint16_t>(extra + pos + 2);
    if (pos + 4 + length > extra_size) break;
    if (id == kZip64ExtraId) {
      const std::uint8_t* field = extra + pos + 4;
      const std::size_t needed = 8 * (need_uncompressed + need_compressed + need_offset);
      if (length < needed) throw Error(where + ": zip64 extra field is too short");
      if (need_uncompressed) {
        entry.uncompressed_size = read_le<std::uint64_t>(field);
        field += 8;
      }
      if (need_compressed) {
        entry.compressed_size = read_le<std::uint64_t>(field);
        field += 8;
      }
      if (need_offset) entry.local_header_offset = read_le<std::uint64_t>(field);
      return;
    }
    pos += 4 + length;
  }
  throw Error(where + ": sizes need a zip64 extra field, but the entry has none");
}

std::vector<ZipEntry> read_central_directory(const MappedFile& file, const std::string& path) {
  const CentralDirectory dir = find_central_directory(file, path);
  const std::uint8_t* p = file.data() + dir.offset;
  const std::uint8_t* const end = p + dir.size;
  if (dir.entries > kMaxEntries)
    throw Error(path + ": the zip directory lists " + std::to_string(dir.entries) + " entries, over the limit of " +
                std::to_string(kMaxEntries) + " arrays (corrupt or not a checkpoint)");
  std::vector<ZipEntry> entries;
  for (std::uint64_t i = 0; i < dir.entries; ++i) {
    if (end - p < static_cast<std::ptrdiff_t>(kCentralHeaderSize) ||
        read_le<std::uint32_t>(p) != kCentralHeaderSignature)
      throw Error(path + ": central directory entry " + std::to_string(i) + " is corrupt or truncated");
    const std::uint16_t name_size = read_le<std::uint16_t>(p + 28);
    const std::uint16_t extra_size = read_le<std::uint16_t>(p + 30);
    const std::uint16_t comment_size = read_le<std::uint16_t>(p + 32);
    if (end - p < static_cast<std::ptrdiff_t>(kCentralHeaderSize + name_size + extra_size + comment_size))
      throw Error(path + ": central directory entry " + std::to_string(i) + " is truncated");
    ZipEntry entry{std::string(reinterpret_cast<const char*>(p + kCentralHeaderSize), name_size),
                   read_le<std::uint16_t>(p + 8),
                   read_le<std::uint16_t>(p + 10),
                   read_le<std::uint32_t>(p + 16),
                   read_le<std::uint32_t>(p + 20),
                   read_le<std::uint32_t>(p + 24),
                   read_le<std::uint32_t>(p + 42)};
    apply_zip64_extra(entry, p + kCentralHeaderSize + name_size, extra_size,
                      path + ": entry '" + entry.name + "'");
    entries.push_back(std::move(entry));
    p += kCentralHeaderSize + name_size + extra_size + comment_size;
  }
  return entries;
}

// Sizes come from the central directory: local headers may defer them to a trailing data descriptor.
const std::uint8_t* entry_data(const MappedFile& file, const ZipEntry& entry, const std::string& where) {
  const std::uint64_t size = file.size();
  const std::uint64_t offset = entry.local_header_offset;
  if (offset > size || size - offset < kLocalHeaderSize ||
      read_le<std::uint32_t>(file.data() + offset) != kLocalHeaderSignature)
    throw Error(where + ": local file header missing or corrupt (truncated?)");
  const std::uint64_t start = offset + kLocalHeaderSize + read_le<std::uint16_t>(file.data() + offset + 26) +
                              read_le<std::uint16_t>(file.data() + offset + 28);
  if (start > size || entry.compressed_size > size - start)
    throw Error(where + ": entry data (" + std::to_string(entry.compressed_size) +
                " bytes) extends past the end of the file (truncated?)");
  return file.data() + start;
}

std::vector<std::uint8_t> inflate_raw(const std::uint8_t* in, std::uint64_t in_size, std::uint64_t out_size,
                                      const std::string& where) {
  if (out_size / kMaxDeflateRatio > in_size)
    throw Error(where + ": claimed uncompressed size " + std::to_string(out_size) + " is impossible for " +
                std::to_string(in_size) + " deflated bytes");
  std::vector<std::uint8_t> out(out_size);
  z_stream stream{};
  if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) throw Error(where + ": cannot initialise zlib");
  stream.next_in = const_cast<Bytef*>(in);
  stream.next_out = out.data();
  // zlib counts in 32-bit uInt; feed entries larger than 4 GiB in slices. Z_BUF_ERROR ends the loop
  // when input runs out early (truncated) or output is full before the stream ends (size mismatch).
  int rc = Z_OK;
  while (rc == Z_OK) {
    const std::uint64_t in_left = in_size - (stream.next_in - in);
    const std::uint64_t out_left = out_size - (stream.next_out - out.data());
    stream.avail_in = static_cast<uInt>(std::min<std::uint64_t>(in_left, UINT_MAX));
    stream.avail_out = static_cast<uInt>(std::min<std::uint64_t>(out_left, UINT_MAX));
    rc = inflate(&stream, Z_NO_FLUSH);
  }
  const bool complete =
      rc == Z_STREAM_END && static_cast<std::uint64_t>(stream.next_out - out.data()) == out_size;
  const std::string message = stream.msg != nullptr ? stream.msg : "";
  inflateEnd(&stream);
  if (rc != Z_STREAM_END && rc != Z_BUF_ERROR)
    throw Error(where + ": corrupt deflate stream" + (message.empty() ? "" : " (" + message + ")"));
  if (!complete)
    throw Error(where + ": deflated data does not match the recorded uncompressed size of " +
                std::to_string(out_size) + " bytes");
  return out;
}

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
  const MappedFile file(path);
  TensorMap tensors;
  for (const ZipEntry& entry : read_central_directory(file, path)) {
    if (!entry.name.empty() && entry.name.back() == '/') continue;  // directory entries carry no data
    const std::string where = path + ": entry '" + entry.name + "'";
    static constexpr char kSuffix[] = ".npy";
    const std::size_t suffix_size = sizeof(kSuffix) - 1;
    if (entry.name.size() <= suffix_size ||
        entry.name.compare(entry.name.size() - suffix_size, suffix_size, kSuffix) != 0)
      throw Error(where + ": not an .npy array");
    if (entry.flags & 0x1) throw Error(where + ": encrypted entries are not supported");
    const std::uint8_t* raw = entry_data(file, entry, where);

    std::vector<std::uint8_t> inflated;
    const std::uint8_t* npy = raw;
    if (entry.method == 8) {
      inflated = inflate_raw(raw, entry.compressed_size, entry.uncompressed_size, where);
      npy = inflated.data();
    } else if (entry.method != 0) {
      throw Error(where + ": unsupported compression method " + std::to_string(entry.method) +
                  " (only stored and deflated entries are supported)");
    } else if (entry.compressed_size != entry.uncompressed_size) {
      throw Error(where + ": stored entry has different compressed and uncompressed sizes");
    }
    const std::uint32_t crc = static_cast<std::uint32_t>(crc32_z(0, npy, entry.uncompressed_size));
    if (crc != entry.crc) throw Error(where + ": CRC-32 mismatch (file corrupt)");

    const std::string key = entry.name.substr(0, entry.name.size() - suffix_size);
    if (!tensors.emplace(key, parse_npy(npy, entry.uncompressed_size, where)).second)
      throw Error(where + ": duplicate array name '" + key + "'");
  }
  return tensors;
}

}  // namespace sct
