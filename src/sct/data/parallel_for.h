// A small thread pool for per-image work (decode, resize, write) whose results never depend on
// scheduling: every index runs exactly once and writes its own output slot.
#pragma once
#include <cstdint>
#include <functional>

namespace sct {

// Runs fn(i) for every i in [0, n) on `threads` std::threads (<= 0: every available CPU; never more
// threads than indices). Indices are handed out in increasing order. If calls throw, no index above
// the lowest failing one is started afterwards, and that lowest failure is rethrown once every thread
// has stopped -- so the error a user sees is the same whatever the thread count.
void parallel_for(int64_t n, int threads, const std::function<void(int64_t)>& fn);

}  // namespace sct
