// The shape of a Swin Transformer (Liu et al. 2021): four stages of shifted-window blocks, each stage
// after the first halving the resolution and doubling the width by patch merging.
#pragma once
#include <algorithm>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace sct {

struct SwinConfig {
  std::string name = "custom";
  int64_t img_size = 224;
  int64_t patch_size = 4;
  int64_t embed_dim = 96;                 // stage 0's width; stage s has embed_dim * 2^s
  std::vector<int64_t> depths{2, 2, 6, 2};  // blocks per stage
  std::vector<int64_t> heads{3, 6, 12, 24};
  int64_t window_size = 7;
  double mlp_ratio = 4.0;
  int64_t num_classes = 1000;  // 0: no head
  double ln_eps = 1e-5;        // nn.LayerNorm's default, as timm's and Microsoft's Swin
  double drop_path_rate = 0.0;

  int64_t stages() const { return int64_t(depths.size()); }
  int64_t stage_width(int64_t s) const { return embed_dim << s; }
  int64_t stage_resolution(int64_t s) const { return (img_size / patch_size) >> s; }  // tokens per side
  // A stage no larger than the window attends over the whole stage, unshifted (Microsoft's and timm's rule).
  int64_t stage_window(int64_t s) const { return std::min(window_size, stage_resolution(s)); }
  int64_t num_blocks() const;
  int64_t num_features() const { return stage_width(stages() - 1); }
  void validate() const;  // throws sct::Error on an impossible configuration

  // Every field but drop_path_rate (a training setting); from_json requires them all and validates.
  nlohmann::json to_json() const;
  static SwinConfig from_json(const nlohmann::json& j);
};

// timm's swin_tiny_patch4_window7_224, swin_small_patch4_window7_224, swin_base_patch4_window7_224,
// swin_base_patch4_window12_384. Throws sct::Error naming the known ones for any other name.
SwinConfig swin_config(const std::string& name);
std::vector<std::string> swin_config_names();
bool is_swin_config_name(const std::string& name);

}  // namespace sct
