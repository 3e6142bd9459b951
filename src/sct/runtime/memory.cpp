#include "sct/runtime/memory.h"

#include <sys/resource.h>

namespace sct {

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

}  // namespace sct
