// Helpers shared by the tests: fixture paths, scratch folders, running the CLI, comparing tensors.
#pragma once
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "sct/core/error.h"

namespace sct::test {

inline std::string fixture(const std::string& name) { return std::string(SCT_FIXTURE_DIR) + "/" + name; }

// A shipped configuration folder: <source>/configs/<kind> (e.g. "vtab1k", "methods").
inline std::string config_dir(const std::string& kind) {
  return (std::filesystem::path(SCT_FIXTURE_DIR) / ".." / ".." / "configs" / kind).lexically_normal().string();
}

// Max abs error allowed against a PyTorch-made fixture (the llm.c pattern's tolerance).
constexpr double kParityTol = 1e-4;

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

// A fresh folder removed when the object goes out of scope.
class ScratchDir {
 public:
  ScratchDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("sct-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `build/sct <args>` through the shell.
inline CommandResult run_cli(const std::string& args) {
  CommandResult r;
  FILE* pipe = popen((std::string(SCT_CLI_PATH) + " " + args + " 2>&1").c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), buf.size(), pipe)) r.output += buf.data();
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Asserts that `f` throws sct::Error whose message contains every one of `parts`.
template <typename F>
void expect_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "expected sct::Error";
  } catch (const Error& e) {
    for (const std::string& part : parts)
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << "'" << part << "' not in: " << e.what();
  }
}

inline double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

}  // namespace sct::test
