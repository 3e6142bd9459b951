// Reading zip archives (zip64, stored and deflated entries, CRC-checked), memory-mapped: NumPy's .npz
// and PyTorch's torch.save files are both zips.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sct/io/mapped_file.h"

namespace sct {

struct ZipEntry {
  std::string name;
  std::uint16_t flags;
  std::uint16_t method;
  std::uint32_t crc;
  std::uint64_t compressed_size;
  std::uint64_t uncompressed_size;
  std::uint64_t local_header_offset;
};

// An entry's bytes: in the mapping for stored entries, in `owned` for deflated ones.
struct ZipBytes {
  const std::uint8_t* data = nullptr;
  std::uint64_t size = 0;
  std::vector<std::uint8_t> owned;
};

class ZipArchive {
 public:
  // Maps `path` and reads its central directory; throws sct::Error naming the file on anything corrupt.
  explicit ZipArchive(const std::string& path);
  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(const std::string& name) const;  // null when absent
  // Inflates where needed and checks the CRC; errors name the file and the entry.
  ZipBytes read(const ZipEntry& entry) const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  MappedFile file_;
  std::vector<ZipEntry> entries_;
};

}  // namespace sct
