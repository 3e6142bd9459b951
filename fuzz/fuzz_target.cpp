#include "fuzz_target.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace sct::fuzz {
namespace {

FindingHandler g_handler = nullptr;

}  // namespace

void set_finding_handler(FindingHandler handler) { g_handler = handler; }

void finding(const std::string& what) {
  if (g_handler) g_handler(what);
  std::fprintf(stderr, "sct fuzz finding: %s\n", what.c_str());
  std::abort();
}

std::string scratch_dir(const char* target) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("sct-fuzz-" + std::to_string(getpid()) + "-" + target);
  std::filesystem::create_directories(dir);
  return dir.string();
}

std::string bytes_file(const char* target, const uint8_t* data, size_t size, const std::string& suffix) {
  const std::string path = scratch_dir(target) + "/input" + suffix;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) throw std::runtime_error("cannot write " + path);
  return path;
}

std::map<std::string, Target>& registry() {
  static std::map<std::string, Target> targets;
  return targets;
}

}  // namespace sct::fuzz
