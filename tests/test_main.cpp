// The test binary sets up BLAS kernels and memory exactly as the CLI does, so tests exercise what users run.
#include <gtest/gtest.h>

#include "sct/runtime/blas.h"
#include "sct/runtime/memory.h"
#include "sct/runtime/threads.h"

int main(int argc, char** argv) {
  sct::ensure_fast_blas(argv);
  sct::keep_freed_memory();
  sct::configure_threads(0);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
