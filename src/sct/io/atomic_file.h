// Atomic file replacement: write to a temporary sibling, flush, then rename over the target.
#pragma once
#include <functional>
#include <iosfwd>
#include <string>

namespace sct {

// Calls `write` with a stream to a temporary file next to `path`, then renames it to `path`.
// On any exception the temporary file is removed and `path` keeps its previous content.
void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write);

// Builds a folder with `write(temporary_folder)` under a temporary sibling name, then puts it in place
// of `path` (an existing one is moved aside first and removed after). A kill at any point leaves the
// old folder, no folder, or the new one -- never a half-written folder under `path`.
void write_folder_atomically(const std::string& path, const std::function<void(const std::string&)>& write);

// Removes what interrupted atomic writes left in `dir` (not recursively): "<name>.sct-tmp.<pid>.<n>" and
// "<name>.sct-old.<pid>.<n>" of processes that no longer run. Returns how many it removed.
int remove_stale_temporaries(const std::string& dir);

// Throws sct::Error "cannot read <what> <path>: ..." unless `path` is a regular file (or a link to
// one): a FIFO or a device would block or never end, a folder cannot be read as a file.
void require_regular_file(const std::string& path, const std::string& what);

}  // namespace sct
