// safetensors: header length, JSON header, dtypes, shapes, offsets.
#include "fuzz_target.h"
#include "sct/io/safetensors.h"

SCT_FUZZ_TARGET(safetensors) {
  const std::string path = sct::fuzz::bytes_file("safetensors", data, size, ".safetensors");
  sct::fuzz::expect_sct_errors_only("safetensors", [&] {
    sct::StringMap metadata;
    sct::load_safetensors(path, &metadata);
  });
  return 0;
}
