#include "sct/runtime/memory.h"

#include <malloc.h>
#include <sys/resource.h>

#include <climits>

namespace sct {

void keep_freed_memory() {
  mallopt(M_MMAP_THRESHOLD, INT_MAX);  // serve large tensors from the heap, where freed blocks are reused
  mallopt(M_TRIM_THRESHOLD, INT_MAX);  // and never shrink the heap between steps
  mallopt(M_TOP_PAD, 256 << 20);       // grow it in large steps
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;  // Linux reports KiB
}

}  // namespace sct
