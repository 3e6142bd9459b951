#include "sct/runtime/threads.h"

#include <sched.h>

#include <ATen/Parallel.h>

namespace sct {

int available_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  const int n = CPU_COUNT(&set);
  return n > 0 ? n : 1;
}

int configure_threads(int n) {
  if (n <= 0) n = available_cpus();
  at::set_num_threads(n);  // also sets omp_set_num_threads, which the OpenMP OpenBLAS follows
  return at::get_num_threads();
}

}  // namespace sct
