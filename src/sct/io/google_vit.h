// Google's original ViT checkpoints (.npz, big_vision / vision_transformer layout) -> timm names.
#pragma once
#include <string>
#include <vector>

#include "sct/core/tensor_map.h"

namespace sct {

// Maps the arrays of a Google ViT .npz to timm parameter names (timm's _load_weights), dropping the
// optional "opt/target/" prefix. `pre_logits/*` are not part of a timm ViT and go to `ignored`;
// arrays this mapping does not know keep their names, so a strict load lists them as unexpected.
TensorMap google_vit_to_timm(const TensorMap& npz, std::vector<std::string>* ignored = nullptr);

}  // namespace sct
