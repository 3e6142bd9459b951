// How many CPU threads sct uses. LibTorch and OpenMP start with one thread on some machines;
// sct defaults to every CPU this process may run on.
#pragma once

namespace sct {

// CPUs in this process's scheduler affinity mask (what `taskset`/cgroups allow), at least 1.
int available_cpus();

// Sets LibTorch's intra-op (and OpenMP/BLAS) thread count; n <= 0 means available_cpus().
// Returns the count in effect.
int configure_threads(int n);

}  // namespace sct
