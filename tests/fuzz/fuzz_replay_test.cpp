// Replays every fuzz target (fuzz/*_fuzz.cpp) on its seeds (fuzz/seeds.txt) and on deterministic
// mutations of each seed: 16 truncations and 32 single-byte changes. A target's oracle (fuzz_target.h)
// reports a crash-free run that ended in anything but sct::Error as a finding; here a finding fails
// the test with the target, seed and mutation, and so does libpng printing its own complaints on
// stderr (found this way). scripts/fuzz.sh runs the same targets under libFuzzer.
#include <fnmatch.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <stdexcept>

#include "fuzz_target.h"
#include "test_util.h"

namespace sct {
namespace {

namespace fs = std::filesystem;

struct Finding : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void throw_finding(const std::string& what) { throw Finding(what); }

// Files under tests/fixtures matching `pattern` (one '*' level per path component).
std::vector<std::string> glob_fixtures(const std::string& pattern) {
  const fs::path full = fs::path(SCT_FIXTURE_DIR) / pattern;
  const fs::path dir = full.parent_path().lexically_normal();
  std::vector<std::string> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file() &&
        fnmatch(full.filename().c_str(), entry.path().filename().c_str(), 0) == 0)
      out.push_back(entry.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::map<std::string, std::vector<std::string>> seeds_by_target() {
  std::ifstream in(fs::path(SCT_FIXTURE_DIR) / "../../fuzz/seeds.txt");
  std::map<std::string, std::vector<std::string>> seeds;
  std::string target, pattern;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    fields >> target >> pattern;
    for (const std::string& f : glob_fixtures(pattern)) seeds[target].push_back(f);
  }
  return seeds;
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

TEST(FuzzReplay, EveryTargetSurvivesItsSeedsAndTheirMutations) {
  fuzz::set_finding_handler(throw_finding);
  // Bad input is reported in sct's words only: nothing of libpng's reaches stderr. (libjpeg still
  // prints "Corrupt JPEG data: ..." warnings for JPEGs it decodes anyway: issue 18, not yet folded.)
  testing::internal::CaptureStderr();
  const auto seeds = seeds_by_target();
  ASSERT_FALSE(fuzz::registry().empty());
  for (const auto& [name, target] : fuzz::registry()) {
    const auto it = seeds.find(name);
    ASSERT_TRUE(it != seeds.end() && !it->second.empty()) << "fuzz target " << name << " has no seeds";
    int runs = 0;
    for (const std::string& seed : it->second) {
      const std::vector<uint8_t> bytes = read_bytes(seed);
      std::mt19937_64 rng(std::hash<std::string>()(name + seed));
      auto run = [&](const std::vector<uint8_t>& input, const std::string& mutation) {
        ++runs;
        try {
          target(input.data(), input.size());
        } catch (const Finding& f) {
          ADD_FAILURE() << f.what() << "\n  seed " << seed << ", " << mutation;
        }
      };
      run(bytes, "unchanged");
      for (size_t k = 0; k < 16 && !bytes.empty(); ++k) {
        const size_t n = bytes.size() * k / 16;
        run(std::vector<uint8_t>(bytes.begin(), bytes.begin() + long(n)), "truncated to " + std::to_string(n) + " bytes");
      }
      for (int k = 0; k < 32 && !bytes.empty(); ++k) {
        std::vector<uint8_t> changed = bytes;
        // Half of the changes land in the first 256 bytes, where the headers are.
        const size_t span = (k % 2 == 0) ? std::min<size_t>(256, bytes.size()) : bytes.size();
        const size_t at = size_t(rng() % span);
        const uint8_t value = uint8_t(rng() % 256);
        changed[at] = value;
        run(changed, "byte " + std::to_string(at) + " set to " + std::to_string(value));
      }
    }
    EXPECT_GT(runs, 0) << name;
  }
  fuzz::set_finding_handler(nullptr);
  const std::string printed = testing::internal::GetCapturedStderr();
  EXPECT_EQ(printed.find("libpng"), std::string::npos) << printed;
}

}  // namespace
}  // namespace sct
