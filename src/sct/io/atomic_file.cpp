#include "sct/io/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "sct/core/error.h"

namespace sct {
namespace {

// errno is only meaningful when a system call failed; streams may also fail without one.
std::string system_reason() { return errno != 0 ? std::string(": ") + std::strerror(errno) : std::string(); }

namespace fs = std::filesystem;

// pid + per-process counter: unique across concurrent writers, in this process and others.
std::string temporary_sibling(const std::string& path, const char* kind = ".sct-tmp.") {
  static std::atomic<unsigned long> counter{0};
  return path + kind + std::to_string(::getpid()) + "." + std::to_string(counter++);
}

// The writer's pid in "<name>.sct-tmp.<pid>.<n>" (or ".sct-old."), or -1 for other names: names no
// user picks, so that cleaning never touches the user's own files.
long temporary_owner(const std::string& name) {
  for (const std::string kind : {".sct-tmp.", ".sct-old."}) {
    const size_t at = name.rfind(kind);
    if (at == std::string::npos) continue;
    const std::string rest = name.substr(at + kind.size());
    const size_t dot = rest.find('.');
    if (dot == std::string::npos || dot == 0 || dot > 9 || rest.find_first_not_of("0123456789.") != std::string::npos) continue;
    return std::stol(rest.substr(0, dot));
  }
  return -1;
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

void write_folder_atomically(const std::string& path, const std::function<void(const std::string&)>& write) {
  const std::string temp = temporary_sibling(path);
  try {
    fs::create_directories(temp);
    write(temp);
    sync_parent_directory(temp + "/x");
    std::error_code ec;
    if (fs::exists(path)) {
      const std::string old = temporary_sibling(path, ".sct-old.");
      fs::rename(path, old);
      try {
        fs::rename(temp, path);
      } catch (...) {
        fs::rename(old, path, ec);  // put the old folder back
        throw;
      }
      fs::remove_all(old, ec);
    } else {
      fs::rename(temp, path);
    }
  } catch (const fs::filesystem_error& e) {
    std::error_code ec;
    fs::remove_all(temp, ec);
    throw Error("cannot write the folder " + path + ": " + e.code().message());
  } catch (...) {
    std::error_code ec;
    fs::remove_all(temp, ec);
    throw;
  }
  sync_parent_directory(path);
}

int remove_stale_temporaries(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  int removed = 0;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const long pid = temporary_owner(entry.path().filename().string());
    if (pid <= 0 || pid == long(::getpid())) continue;
    if (::kill(pid_t(pid), 0) == 0 || errno == EPERM) continue;  // its writer still runs
    std::error_code remove_ec;
    if (fs::remove_all(entry.path(), remove_ec) > 0) ++removed;
  }
  return removed;
}

void require_regular_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec) throw Error("cannot read " + what + " " + path + ": " + ec.message());
  if (!fs::is_regular_file(status))
    throw Error("cannot read " + what + " " + path + ": not a regular file" +
                (fs::is_directory(status) ? " (a folder)" : " (a FIFO, socket or device)"));
}

}  // namespace sct
