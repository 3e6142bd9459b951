// Merging a trained method into the backbone: the hooks of LoRA and SSF fold into the weights of the
// layers they follow, BitFit's biases are backbone tensors already, so the result is a plain ViT
// checkpoint that any timm-compatible loader reads, with no inference cost for the method.
#pragma once
#include "sct/model/backbone.h"

namespace sct {

// Folds every attached hook (the model's and the blocks') into the backbone weights and detaches the
// hooks. Throws sct::Error naming the first hook that cannot be folded (SCT, Adapter, AdaptFormer, VPT),
// leaving the model unchanged.
void merge_hooks(BackboneImpl& model);

}  // namespace sct
