// PyTorch's own checkpoint files (torch.save since PyTorch 1.6: a zip of `data.pkl` and one entry
// per tensor storage), read without Python. LibTorch 1.13's unpickler turns every OrderedDict into
// None, and a state dict is one, so sct reads the pickle itself: a small interpreter of the opcodes
// torch.save emits that builds dicts, lists, tuples, scalars and tensors, and never calls anything.
// Unknown classes (an argparse Namespace, a yacs config beside the weights) become opaque values.
#pragma once
#include <string>

#include "sct/core/tensor_map.h"

namespace sct {

// Whether `path` is a torch.save zip (it holds `<archive>/data.pkl`).
bool is_torch_checkpoint(const std::string& path);

// The state dict of a torch.save file: the top-level dict itself when its values are tensors, else its
// "model", "state_dict" or "model_ema" entry (Microsoft's Swin releases: {"model": state_dict}).
// Non-tensor entries of the state dict are skipped. Tensors come back contiguous, on the CPU, in the
// file's dtype. Throws sct::Error naming the file (and the tensor or pickle offset) on anything
// corrupt, on the legacy pre-1.6 format and on files with no state dict.
TensorMap load_torch_checkpoint(const std::string& path);

}  // namespace sct
