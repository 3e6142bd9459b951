#include "sct/io/zip_archive.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <utility>

#include "sct/core/error.h"
#include "sct/io/little_endian.h"

namespace sct {
namespace {

// Zip fields are little-endian (read_le).

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
                std::to_string(kMaxEntries) + " entries (corrupt or not a checkpoint)");
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

}  // namespace

ZipArchive::ZipArchive(const std::string& path) : path_(path), file_(path) {
  entries_ = read_central_directory(file_, path_);
}

const ZipEntry* ZipArchive::find(const std::string& name) const {
  for (const ZipEntry& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

ZipBytes ZipArchive::read(const ZipEntry& entry) const {
  const std::string where = path_ + ": entry '" + entry.name + "'";
  if (entry.flags & 0x1) throw Error(where + ": encrypted entries are not supported");
  const std::uint8_t* raw = entry_data(file_, entry, where);
  ZipBytes out;
  if (entry.method == 8) {
    out.owned = inflate_raw(raw, entry.compressed_size, entry.uncompressed_size, where);
    out.data = out.owned.data();
  } else if (entry.method != 0) {
    throw Error(where + ": unsupported compression method " + std::to_string(entry.method) +
                " (only stored and deflated entries are supported)");
  } else if (entry.compressed_size != entry.uncompressed_size) {
    throw Error(where + ": stored entry has different compressed and uncompressed sizes");
  } else {
    out.data = raw;
  }
  out.size = entry.uncompressed_size;
  const std::uint32_t crc = static_cast<std::uint32_t>(crc32_z(0, out.data, out.size));
  if (crc != entry.crc) throw Error(where + ": CRC-32 mismatch (file corrupt)");
  return out;
}

}  // namespace sct
