// Google .npz: the zip container (stored, deflated, zip64), .npy headers and data, then the
// Google -> timm mapping of whatever arrays came out.
#include "fuzz_target.h"
#include "sct/io/google_vit.h"
#include "sct/io/npz.h"

SCT_FUZZ_TARGET(npz) {
  const std::string path = sct::fuzz::bytes_file("npz", data, size, ".npz");
  sct::fuzz::expect_sct_errors_only("npz", [&] {
    const sct::TensorMap arrays = sct::load_npz(path);
    std::vector<std::string> ignored;
    sct::google_vit_to_timm(arrays, &ignored);
  });
  return 0;
}
