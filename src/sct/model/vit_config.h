// Architecture of a Vision Transformer (Dosovitskiy et al. 2021) with timm's defaults.
#pragma once
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace sct {

struct VitConfig {
  std::string name = "custom";
  int64_t img_size = 224;
  int64_t patch_size = 16;
  int64_t in_chans = 3;
  int64_t width = 768;   // D, the residual stream's channel count
  int64_t depth = 12;    // L, number of blocks
  int64_t heads = 12;    // H
  double mlp_ratio = 4.0;
  int64_t num_classes = 1000;  // C; 0 = no head, the model returns pooled features
  double drop_path_rate = 0.0;  // stochastic depth of the last block (linear rule over blocks)
  double ln_eps = 1e-6;

  int64_t grid() const { return img_size / patch_size; }
  int64_t num_tokens() const { return grid() * grid() + 1; }  // N: patches + CLS
  int64_t mlp_hidden() const { return static_cast<int64_t>(width * mlp_ratio); }
  void validate() const;  // throws sct::Error on an impossible configuration

  // Every field but drop_path_rate (a training setting); from_json requires them all and validates.
  nlohmann::json to_json() const;
  static VitConfig from_json(const nlohmann::json& j);
};

// timm's named architectures, vit_tiny_patch16_224 ... vit_huge_patch14_224, and sct's embedded
// backbones at 32 x 32, patch 4, 12 blocks: vit_pico_patch4_32 (width 96) and vit_tiny_patch4_32
// (width 192, timm's ViT-Ti shape).
VitConfig vit_config(const std::string& name);
std::vector<std::string> vit_config_names();

}  // namespace sct
