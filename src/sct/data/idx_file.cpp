#include "sct/data/idx_file.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "sct/core/error.h"

namespace sct {
namespace {

constexpr uint8_t kUnsignedByte = 0x08;
constexpr int64_t kMaxValues = int64_t{1} << 34;  // bounds what a corrupt header can make us allocate

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

std::string gz_reason(gzFile_s* f) {
  int code = Z_OK;
  const char* msg = gzerror(f, &code);
  if (code == Z_ERRNO) return std::strerror(errno);
  return msg != nullptr && *msg != '\0' ? msg : "unexpected end of file";
}

// Reads exactly n bytes; returns how many it got before end of file.
size_t read_up_to(gzFile_s* f, uint8_t* dst, size_t n, const std::string& path) {
  size_t done = 0;
  while (done < n) {
    const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - done, 1u << 30));
    const int got = gzread(f, dst + done, chunk);
    if (got < 0) {
      int code = Z_OK;
      gzerror(f, &code);
      if (code == Z_BUF_ERROR) break;  // a gzip stream cut short: reported as truncation by the caller
      throw Error("cannot read IDX file " + path + ": " + gz_reason(f));
    }
    if (got == 0) break;
    done += static_cast<size_t>(got);
  }
  return done;
}

}  // namespace

IdxArray read_idx_file(const std::string& path) {
  errno = 0;
  GzFile f(gzopen(path.c_str(), "rb"));
  if (!f) throw Error("cannot open IDX file " + path + ": " + (errno ? std::strerror(errno) : "out of memory"));

  uint8_t magic[4];
  if (read_up_to(f.get(), magic, 4, path) != 4) throw Error("IDX file " + path + " is too short for its header");
  if (magic[0] != 0 || magic[1] != 0)
    throw Error("IDX file " + path + ": bad magic (first two bytes must be zero; not an IDX file?)");
  if (magic[2] != kUnsignedByte)
    throw Error("IDX file " + path + ": element type " + std::to_string(magic[2]) +
                " not supported (only unsigned bytes, type 8)");
  const int ndim = magic[3];
  if (ndim == 0) throw Error("IDX file " + path + ": zero dimensions");

  IdxArray out;
  int64_t count = 1;
  for (int d = 0; d < ndim; ++d) {
    uint8_t be[4];
    if (read_up_to(f.get(), be, 4, path) != 4) throw Error("IDX file " + path + " is too short for its header");
    const int64_t n = (int64_t{be[0]} << 24) | (int64_t{be[1]} << 16) | (int64_t{be[2]} << 8) | be[3];
    out.dims.push_back(n);
    count *= n;
    if (count > kMaxValues) throw Error("IDX file " + path + ": implausible dimensions (over 2^34 values)");
  }
  out.data.resize(static_cast<size_t>(count));
  const size_t got = read_up_to(f.get(), out.data.data(), out.data.size(), path);
  if (got != out.data.size())
    throw Error("IDX file " + path + " is truncated: " + std::to_string(got) + " of " + std::to_string(count) +
                " values present");
  uint8_t extra;
  if (read_up_to(f.get(), &extra, 1, path) != 0)
    throw Error("IDX file " + path + " has trailing bytes after its " + std::to_string(count) + " values");
  return out;
}

}  // namespace sct
