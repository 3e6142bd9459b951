// IDX files (the MNIST / Fashion-MNIST format), gzipped or not: a 4-byte magic (0, 0, type, ndim),
// ndim big-endian uint32 dimensions, then the values in row-major order.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sct {

struct IdxArray {
  std::vector<int64_t> dims;  // e.g. (60000, 28, 28) for images, (60000) for labels
  std::vector<uint8_t> data;  // product(dims) values, row-major
};

// Reads an unsigned-byte (type 0x08) IDX file; .gz or plain is detected from the content (zlib's gz*
// API reads both). Throws sct::Error naming the file for a missing file, a bad magic, another element
// type, a truncated payload or trailing bytes.
IdxArray read_idx_file(const std::string& path);

}  // namespace sct
