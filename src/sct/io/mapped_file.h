// Read-only memory mapping of a whole file. Checkpoints are hundreds of MB: readers copy each tensor
// once, straight from the page cache into its own storage.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace sct {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // throws sct::Error naming the path
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::uint8_t* data() const { return data_; }  // nullptr for an empty file
  std::size_t size() const { return size_; }

 private:
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace sct
