// Loading backbone weights into a VisionTransformer or a SwinTransformer, whatever format the user has:
// Google .npz (mapped to timm names), timm / Hugging Face safetensors (timm names already), PyTorch's
// torch.save files (.pth: timm or DeiT state dicts, Microsoft's Swin releases, renamed).
// Strict by default, as timm: every backbone tensor must be found with the right shape, and tensors
// the model does not have are listed, not silently dropped.
#pragma once
#include <string>
#include <vector>

#include "sct/core/tensor_map.h"
#include "sct/model/swin_transformer.h"
#include "sct/model/vision_transformer.h"

namespace sct {

struct LoadOptions {
  bool allow_unexpected = false;  // tolerate (and report) tensors the model has no place for
};

struct LoadReport {
  std::string format;                   // "npz", "safetensors" or "pth"
  std::vector<std::string> loaded;      // model tensors filled from the checkpoint
  std::vector<std::string> ignored;     // present but deliberately unused (pre_logits, mismatched head)
  std::vector<std::string> checked;     // buffers the model computes (a Swin's relative_position_index and
                                        // attn_mask): compared with the model's own, equal, not loaded
  std::vector<std::string> unexpected;  // only non-empty with allow_unexpected
  bool pos_embed_resampled = false;
  bool head_loaded = false;             // false: the model keeps its freshly initialised head
  StringMap metadata;                   // the file's own metadata (safetensors' __metadata__)
};

// Reads a checkpoint (format detected from the content) and returns its tensors: a Google .npz under
// timm names, the others under their own.
TensorMap read_checkpoint(const std::string& path, LoadReport* report = nullptr);

// Copies `state` into `model` (any device). The position embedding is resampled when the grid
// differs; the head is loaded only when its class count matches the model's. Parameters of attached
// hooks (PEFT modules) are not backbone tensors and are left alone. `source` names the file in errors.
LoadReport load_vit_state(VisionTransformerImpl& model, TensorMap state, const std::string& source,
                          const LoadOptions& options = {});

LoadReport load_vit_checkpoint(VisionTransformerImpl& model, const std::string& path,
                               const LoadOptions& options = {});

// The same for Swin: Microsoft's names are mapped to timm's (swin_checkpoint.h), a checkpoint for
// another window size is refused, and the relative position index and attention masks a checkpoint
// carries are checked against the model's own.
LoadReport load_swin_state(SwinTransformerImpl& model, TensorMap state, const std::string& source,
                           const LoadOptions& options = {});
LoadReport load_swin_checkpoint(SwinTransformerImpl& model, const std::string& path, const LoadOptions& options = {});

// Whichever of the two the model is.
LoadReport load_checkpoint(BackboneImpl& model, const std::string& path, const LoadOptions& options = {});

// `sct convert`: any readable checkpoint -> safetensors under timm names (written atomically); a
// Microsoft Swin .pth is renamed and loses the buffers every loader computes. The
// source's metadata is kept (a backbone's recipe and command line, for one), with "format": "pt"
// where it has none, and "converted_from" and "converted_by" added.
LoadReport convert_checkpoint(const std::string& input, const std::string& output);

}  // namespace sct
