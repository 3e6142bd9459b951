// Channel selection files (sct select --out, --selection): JSON, then every field validated.
#include "fuzz_target.h"
#include "sct/peft/selection.h"

SCT_FUZZ_TARGET(selection) {
  const std::string path = sct::fuzz::bytes_file("selection", data, size, ".json");
  sct::fuzz::expect_sct_errors_only("selection", [&] { sct::Selection::load(path); });
  return 0;
}
