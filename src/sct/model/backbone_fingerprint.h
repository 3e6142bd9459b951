// A checksum of a backbone's weights, independent of the file format they came from, so that a task
// file trained on one backbone is not silently applied to another.
#pragma once
#include <string>

#include "sct/model/backbone.h"

namespace sct {

// SHA-256 over every backbone tensor (name, dtype, shape, float32 little-endian bytes) in name order.
// The head and attached hooks are excluded. ViT-B/16 takes about a second.
std::string backbone_fingerprint(BackboneImpl& model);

}  // namespace sct
