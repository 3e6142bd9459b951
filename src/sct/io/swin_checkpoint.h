// Swin checkpoints in the names users have them: timm / Hugging Face (`layers.<s>.downsample` at the
// start of stage s, `head.fc`) and Microsoft's released .pth (`{"model": state_dict}`, the downsample at
// the end of stage s - 1, `head`, plus the relative_position_index and attn_mask buffers).
#pragma once
#include <string>
#include <vector>

#include "sct/core/tensor_map.h"
#include "sct/model/swin_config.h"

namespace sct {

// Whether `state` is a Swin's (it has "layers.<s>." tensors) and in Microsoft's layout.
bool is_swin_state(const TensorMap& state);
bool is_microsoft_swin_state(const TensorMap& state);

// Microsoft's names -> timm's (a timm state comes back unchanged). `renamed`, when given, gets one
// line per renaming rule applied.
TensorMap swin_state_to_timm(TensorMap state, std::vector<std::string>* renamed = nullptr);

// Refuses, naming the file and both sizes, a checkpoint made for another window size (its relative
// position tables have (2w - 1)^2 rows): windows cannot be resized without retraining the tables.
void check_swin_window(const TensorMap& state, const SwinConfig& cfg, const std::string& source);

}  // namespace sct
