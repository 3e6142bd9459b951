// Which part of a sequence one of several data-parallel processes takes: rank r of `count` takes the
// r-th of `count` contiguous, balanced pieces (sizes differ by at most one). The default is all of it.
#pragma once
#include <cstdint>
#include <utility>

namespace sct {

struct Shard {
  int64_t rank = 0;
  int64_t count = 1;

  // [begin, end) of this rank's piece of n items.
  std::pair<int64_t, int64_t> range(int64_t n) const { return {n * rank / count, n * (rank + 1) / count}; }
  bool whole() const { return count == 1; }
};

}  // namespace sct
