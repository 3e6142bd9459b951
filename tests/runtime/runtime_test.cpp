// Runtime configuration: threads, BLAS kernels, devices.
#include <gtest/gtest.h>

#include <ATen/Parallel.h>

#include "sct/core/error.h"
#include "sct/runtime/blas.h"
#include "sct/runtime/device.h"
#include "sct/runtime/threads.h"

namespace sct {
namespace {

TEST(Runtime, DefaultThreadsAreEveryAvailableCpu) {
  EXPECT_EQ(configure_threads(0), available_cpus());
  EXPECT_EQ(at::get_num_threads(), available_cpus());
  EXPECT_EQ(configure_threads(1), 1);
  configure_threads(0);
}

// The kernels this process runs (chosen by ensure_fast_blas in the test main, as in the CLI) must
// compute what a plain triple loop computes, at sizes that hit edge tiles and the main loop.
TEST(Runtime, ChosenBlasKernelsMatchAPlainProduct) {
  for (auto [m, n, k] : {std::tuple{1, 1, 1}, {7, 5, 3}, {64, 64, 64}, {131, 257, 129}, {300, 17, 513}})
    EXPECT_TRUE(blas_gemm_matches_reference(m, n, k)) << m << "x" << n << "x" << k;
  const BlasStatus s = blas_status();
  EXPECT_TRUE(s.kernels_verified);
}

TEST(Runtime, OpenBlasRunsTheBestKernelsThisCpuHas) {
  const BlasStatus s = blas_status();
  if (!s.is_openblas || s.cpu_best_core.empty() || std::getenv("SCT_BLAS_CORE"))
    GTEST_SKIP() << "not OpenBLAS, or kernel choice overridden";
  // After ensure_fast_blas the core is at least as wide as the CPU's best family.
  auto upper = [](std::string x) {
    for (auto& ch : x) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return x;
  };
  if (s.cpu_best_core == "SKYLAKEX")
    EXPECT_TRUE(upper(s.core) == "SKYLAKEX" || upper(s.core) == "COOPERLAKE" || upper(s.core) == "SAPPHIRERAPIDS")
        << s.core;
  if (s.cpu_best_core == "HASWELL") EXPECT_NE(upper(s.core), "PRESCOTT") << s.core;
}

TEST(Runtime, DeviceNames) {
  EXPECT_EQ(parse_device("cpu"), c10::Device(c10::kCPU));
  EXPECT_THROW(parse_device("tpu"), Error);
  EXPECT_THROW(parse_device("cuda:x"), Error);
  if (!cuda_available()) {
    try {
      parse_device("cuda:0");
      FAIL();
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("CUDA is not available"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace sct
