// A task folder's adapter_config.json (method, backbone architecture, classes, normalisation); the
// folder's tensors are the safetensors target's.
#include <filesystem>

#include "fuzz_target.h"
#include "sct/peft/task_dir.h"

SCT_FUZZ_TARGET(task_config) {
  const std::string path = sct::fuzz::bytes_file("task_config", data, size, "");
  const std::string dir = sct::fuzz::scratch_dir("task_config");
  std::filesystem::rename(path, dir + "/adapter_config.json");
  sct::fuzz::expect_sct_errors_only("task_config", [&] { sct::read_task_dir(dir); });
  return 0;
}
