// Settings of the ASan + UBSan build (SCT_SANITIZE; scripts/setup.sh --sanitize), compiled into each
// program of that build only, so that `ctest` and the CLI need no environment of their own.
// - allocator_may_return_null: tests that ask for absurd sizes expect std::bad_alloc turned into
//   sct::Error, not ASan's abort.
// - detect_odr_violation=0: LibTorch's libraries define some globals twice (not sct's to fix).
// - Leaks are checked (LeakSanitizer), except those reported inside the uninstrumented libraries below,
//   which keep process-lifetime caches (thread pools, kernels, registries) until exit.
extern "C" const char* __asan_default_options() {
  return "allocator_may_return_null=1:detect_odr_violation=0:detect_leaks=1";
}

extern "C" const char* __ubsan_default_options() { return "print_stacktrace=1:halt_on_error=1"; }

extern "C" const char* __lsan_default_suppressions() {
  return "leak:libtorch_cpu.so\n"
         "leak:libc10.so\n"
         "leak:libgomp.so\n"
         "leak:libopenblas\n"
         "leak:libopencv\n"
         "leak:libgloo\n"
         "leak:libprotobuf\n";
}
