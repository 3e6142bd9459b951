// Image list files: "<path> <label>" lines (NOAH's VTAB and few-shot lists) and CSV; the first
// byte chooses the separator and the class count.
#include "fuzz_target.h"
#include "sct/data/list_file.h"

SCT_FUZZ_TARGET(list_file) {
  if (size == 0) return 0;
  sct::ListOptions options;
  options.separator = (data[0] & 1) ? ',' : 0;
  options.num_classes = (data[0] >> 1) & 15;
  const std::string path = sct::fuzz::bytes_file("list_file", data + 1, size - 1, ".txt");
  sct::fuzz::expect_sct_errors_only("list_file", [&] {
    for (const sct::ImageRecord& r : sct::read_image_list(path, sct::fuzz::scratch_dir("list_file"), options))
      if (r.label < 0 || (options.num_classes > 0 && r.label >= options.num_classes))
        sct::fuzz::finding("list_file: label " + std::to_string(r.label) + " accepted at " + r.origin);
  });
  return 0;
}
