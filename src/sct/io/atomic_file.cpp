#include "sct/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "sct/core/error.h"

namespace sct {
namespace {

// errno is only meaningful when a system call failed; streams may also fail without one.
std::string system_reason() { return errno != 0 ? std::string(": ") + std::strerror(errno) : std::string(); }

// pid + per-process counter: unique across concurrent writers, in this process and others.
std::string temporary_sibling(const std::string& path) {
  static std::atomic<unsigned long> counter{0};
  return path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
}

// std::ofstream cannot fsync; reopen the closed file by name so the data is on disk before the rename.
void sync_to_disk(const std::string& file, const std::string& path) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot reopen temporary file for " + path + ": " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int saved_errno = errno;
  ::close(fd);
  if (rc != 0) throw Error("cannot sync " + path + " to disk: " + std::strerror(saved_errno));
}

// Makes the rename itself durable. Best effort: the file is already complete under its final name.
void sync_parent_directory(const std::string& path) {
  const std::string::size_type slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write) {
  const std::string temp = temporary_sibling(path);
  try {
    errno = 0;
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error("cannot create a temporary file next to " + path + system_reason());
    write(out);
    out.flush();
    if (!out) throw Error("cannot write " + path + system_reason());
    out.close();
    if (!out) throw Error("cannot close " + path + " after writing" + system_reason());
    sync_to_disk(temp, path);
    if (std::rename(temp.c_str(), path.c_str()) != 0)
      throw Error("cannot rename the temporary file to " + path + ": " + std::strerror(errno));
  } catch (...) {
    std::remove(temp.c_str());
    throw;
  }
  sync_parent_directory(path);
}

}  // namespace sct
