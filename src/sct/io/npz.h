// NumPy .npz archives (a zip of .npy files, stored or deflated), as Google's ViT checkpoints ship.
#pragma once
#include <string>

#include "sct/core/tensor_map.h"

namespace sct {

// Returns every array keyed by its name without the ".npy" suffix, as CPU tensors.
// Supports zip64, stored and deflated entries, npy format versions 1-3, little- and big-endian
// f2/f4/f8/i1/i2/i4/i8/u1/b1, C and Fortran order. Checks every entry's CRC-32. Directory entries
// are skipped; any other non-.npy entry is an error. Throws sct::Error naming the file and entry.
TensorMap load_npz(const std::string& path);

}  // namespace sct
