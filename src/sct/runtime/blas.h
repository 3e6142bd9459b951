// OpenBLAS kernel selection. Debian's OpenBLAS 0.3.21 can mistake recent CPUs for old ones
// ("Prescott") and run generic kernels at a fraction of the speed; an environment may also pin an
// older core type. OpenBLAS reads OPENBLAS_CORETYPE only when it is loaded, so the CLI re-executes
// itself once with the right value before doing any work.
#pragma once
#include <string>

#include <c10/core/ScalarType.h>

namespace sct {

struct BlasStatus {
  bool is_openblas = false;
  std::string core;            // what OpenBLAS runs now, e.g. "SkylakeX"; "" if not OpenBLAS
  std::string cpu_best_core;   // best kernel family this CPU supports: SKYLAKEX, HASWELL, SANDYBRIDGE or ""
  std::string replaced_core;   // the core before sct re-executed itself ("" if it did not)
  bool kernels_verified = false;  // a GEMM with the running kernels matched a plain reference
};

// Call first thing in main(). If OpenBLAS runs weaker kernels than this CPU supports, re-executes the
// program with OPENBLAS_CORETYPE set (at most once). Returns only when no re-exec is needed.
// SCT_BLAS_CORE=keep disables this; SCT_BLAS_CORE=<NAME> forces a core type.
void ensure_fast_blas(char** argv);

// What OpenBLAS runs now and whether its GEMM results match a plain reference product.
BlasStatus blas_status();

// True if `m x k` times `k x n` with the running BLAS matches a double-precision triple loop.
bool blas_gemm_matches_reference(int m, int n, int k);

// Measures GEMM throughput (n x n x n products through LibTorch's at::mm, which sends fp32 to the
// BLAS and bf16 to oneDNN) for about `seconds`.
double measure_gemm_gflops(double seconds, int n = 1024, c10::ScalarType dtype = c10::kFloat);

}  // namespace sct
