// The selection file: which channels SCT tunes in which blocks, with the scores they were ranked by
// and what they were measured on (format "sct-channel-selection", version 1). `sct select` writes it,
// `sct train --selection` reads it, and a task folder stores it without the scores.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "sct/peft/sct_adapter.h"
#include "sct/peft/selection_spec.h"

namespace sct {

// The channels of one SCT part in every selected block.
struct SelectionPart {
  std::string name;                           // attn | mlp | q | v
  std::string site;                           // norm2_input | mlp_output | block_output | qkv_q | qkv_v
  std::vector<std::vector<int64_t>> indices;  // per selected block: K channels in [0, D), ascending
  // Per selected block, (D_l) float32, CPU: the score the channels were ranked by (class-averaged Z; the
  // dataset-wide norm for the dataset strategy). Empty for the random strategy when no data was observed.
  std::vector<at::Tensor> scores;
};

struct Selection {
  // Left empty by the selector, filled by the caller: what the channels were measured on.
  std::string backbone_name, backbone_sha256, dataset;

  SctPosition position = SctPosition::Attn;
  ChannelStrategy strategy = ChannelStrategy::Salient;
  bool reference_mlp_site = false;
  uint64_t seed = 0;
  int64_t depth = 0, num_classes = 0, num_images = 0;
  std::vector<int64_t> widths;        // D of each selected block (Swin's stages differ)
  std::vector<int64_t> class_counts;  // (C) images per class
  std::vector<int64_t> blocks;        // selected blocks, ascending
  std::vector<int64_t> k;             // K per selected block
  std::vector<SelectionPart> parts;   // in sct_parts(position) order

  const SelectionPart& part(const std::string& name) const;
  // The channel sets of the `position`-th selected block, one per part, as SctAdapter takes them.
  std::vector<std::vector<int64_t>> channels(size_t position) const;

  nlohmann::json to_json() const;
  static Selection from_json(const nlohmann::json& j);  // validates; throws sct::Error
  void save(const std::string& path) const;             // atomically
  static Selection load(const std::string& path);
};

}  // namespace sct
