// A fuzz target: one of sct's parsers fed arbitrary bytes. The oracle is sct's promise about bad
// input: it ends in sct::Error, a message in sct's words naming the file -- never a crash, a hang, a
// sanitizer report, or another exception type (a raw library message reaching the user).
//
// Built with SCT_FUZZ_MAIN (scripts/fuzz.sh: clang, libFuzzer, ASan + UBSan) each target file is a
// libFuzzer program. In the test build the targets register themselves instead, and
// tests/fuzz/fuzz_replay_test.cpp replays their seeds (fuzz/seeds.txt) and mutations of them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <exception>
#include <map>
#include <string>
#include <typeinfo>

#include "sct/core/error.h"

namespace sct::fuzz {

using Target = int (*)(const uint8_t* data, size_t size);

// Called with a description when a target finds a defect; aborts by default (what libFuzzer needs to
// keep the input). The replay test throws instead, to report the input.
using FindingHandler = void (*)(const std::string& what);
void set_finding_handler(FindingHandler handler);
[[noreturn]] void finding(const std::string& what);

// Runs `parse`: returning normally or with sct::Error is fine; any other exception is a finding.
template <typename F>
void expect_sct_errors_only(const char* target, F&& parse) {
  try {
    parse();
  } catch (const Error&) {
  } catch (const std::exception& e) {
    finding(std::string(target) + ": an exception other than sct::Error (" + typeid(e).name() + "): " + e.what());
  } catch (...) {
    finding(std::string(target) + ": a non-standard exception");
  }
}

// A file of `data` for parsers that read paths: <dir>/input<suffix>, rewritten at each call, where
// <dir> is a folder of this process and target.
std::string bytes_file(const char* target, const uint8_t* data, size_t size, const std::string& suffix);
std::string scratch_dir(const char* target);

std::map<std::string, Target>& registry();
struct Registration {
  Registration(const char* name, Target target) { registry()[name] = target; }
};

}  // namespace sct::fuzz

#ifdef SCT_FUZZ_MAIN
#define SCT_FUZZ_TARGET(name) extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
#else
#define SCT_FUZZ_TARGET(name)                                                                     \
  static int sct_fuzz_##name(const uint8_t* data, size_t size);                                   \
  static const ::sct::fuzz::Registration sct_fuzz_registration_##name(#name, &sct_fuzz_##name); \
  static int sct_fuzz_##name(const uint8_t* data, size_t size)
#endif
