#include "sct/io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sct/core/error.h"

namespace sct {

MappedFile::MappedFile(const std::string& path) {
  // O_NONBLOCK: a FIFO would otherwise block here until a writer comes.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw Error("cannot open " + path + ": " + std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const int saved_errno = errno;
    ::close(fd);
    throw Error("cannot stat " + path + ": " + std::strerror(saved_errno));
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    throw Error("cannot read " + path + ": not a regular file");
  }
  size_ = static_cast<std::size_t>(info.st_size);
  if (size_ > 0) {
    void* data = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (data == MAP_FAILED) {
      const int saved_errno = errno;
      ::close(fd);
      throw Error("cannot map " + path + " into memory: " + std::strerror(saved_errno));
    }
    data_ = static_cast<const std::uint8_t*>(data);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<std::uint8_t*>(data_), size_);
}

}  // namespace sct
