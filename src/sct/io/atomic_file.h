// Atomic file replacement: write to a temporary sibling, flush, then rename over the target.
#pragma once
#include <functional>
#include <iosfwd>
#include <string>

namespace sct {

// Calls `write` with a stream to a temporary file next to `path`, then renames it to `path`.
// On any exception the temporary file is removed and `path` keeps its previous content.
void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write);

}  // namespace sct
