// PyTorch's torch.save zip (.pth): the zip container, sct's own unpickler (every opcode torch.save
// writes, memo, marks, persistent ids, tensor views checked against their storages), then Microsoft's
// Swin names mapped to timm's.
#include "fuzz_target.h"
#include "sct/io/swin_checkpoint.h"
#include "sct/io/torch_checkpoint.h"

SCT_FUZZ_TARGET(torch_checkpoint) {
  const std::string path = sct::fuzz::bytes_file("torch_checkpoint", data, size, ".pth");
  sct::fuzz::expect_sct_errors_only("torch_checkpoint", [&] {
    const sct::TensorMap state = sct::load_torch_checkpoint(path);
    sct::swin_state_to_timm(state);
  });
  return 0;
}
