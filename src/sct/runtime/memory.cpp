#include "sct/runtime/memory.h"

#include <jemalloc/jemalloc.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <string>

#include "sct/core/error.h"

namespace sct {

void keep_freed_memory() {
  ssize_t never = -1;
  // The default of arenas made later (one per thread that allocates) ...
  for (const char* key : {"arenas.dirty_decay_ms", "arenas.muzzy_decay_ms"})
    if (mallctl(key, nullptr, nullptr, &never, sizeof never) != 0)
      throw Error(std::string("jemalloc refused the setting ") + key + " (is it the process's allocator?)");
  // ... and the arenas that exist already (slots not yet in use refuse it).
  unsigned arenas = 0;
  size_t size = sizeof arenas;
  mallctl("arenas.narenas", &arenas, &size, nullptr, 0);
  for (unsigned i = 0; i < arenas; ++i)
    for (const char* setting : {"dirty_decay_ms", "muzzy_decay_ms"})
      mallctl(("arena." + std::to_string(i) + "." + setting).c_str(), nullptr, nullptr, &never, sizeof never);
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

}  // namespace sct
