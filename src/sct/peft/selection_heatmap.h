// The paper's Fig. 3 for one selection: the class-aware score of every channel (columns) of every
// selected block (rows), each row scaled to its own range, with the kept channels marked in a strip
// under the row. One panel per SCT part (attn, mlp, q, v).
#pragma once
#include <string>

#include "sct/peft/channel_selector.h"

namespace sct {

// Writes a PNG atomically. Throws sct::Error when the selection has no scores (a random selection
// made without data) or the file cannot be written.
void write_selection_heatmap(const Selection& selection, const std::string& path);

}  // namespace sct
