// The main() of sct's model benchmarks: the process set up as the CLI sets itself up (the right GEMM
// kernels, every CPU, freed memory kept), then Google Benchmark.
#pragma once
#include <benchmark/benchmark.h>

#include "sct/runtime/blas.h"
#include "sct/runtime/memory.h"
#include "sct/runtime/threads.h"

inline int run_benchmarks(int argc, char** argv) {
  sct::ensure_fast_blas(argv);
  sct::keep_freed_memory();
  sct::configure_threads(0);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
