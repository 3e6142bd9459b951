// The fixture ViTs of tools/make_fixtures.py and the fixture Swin of tools/make_swin_fixtures.py, built
// and loaded for tests that need their weights, and the small random ViT most unit tests build.
#pragma once
#include "sct/io/checkpoint.h"
#include "sct/model/swin_transformer.h"
#include "sct/model/vision_transformer.h"
#include "test_util.h"

namespace sct::test {

// A small random ViT for unit tests: 16 px, patch 4, width 32, 3 blocks, 2 heads, 4 classes.
inline VitConfig tiny_vit_config(double drop_path = 0.0) {
  VitConfig cfg;
  cfg.name = "tiny";
  cfg.img_size = 16;
  cfg.patch_size = 4;
  cfg.width = 32;
  cfg.depth = 3;
  cfg.heads = 2;
  cfg.num_classes = 4;
  cfg.drop_path_rate = drop_path;
  return cfg;
}

inline int64_t parameter_count(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

// vit_d2_w32_h4: 32 px, patch 8, width 32, 2 blocks, 4 heads, MLP ratio 2, 3 classes, in eval mode.
inline VisionTransformer d2_fixture_model() {
  VitConfig cfg;
  cfg.name = "vit_d2_w32_h4";
  cfg.img_size = 32;
  cfg.patch_size = 8;
  cfg.width = 32;
  cfg.depth = 2;
  cfg.heads = 4;
  cfg.mlp_ratio = 2.0;
  cfg.num_classes = 3;
  VisionTransformer model(cfg);
  load_vit_checkpoint(*model, fixture("vit_d2_w32_h4.safetensors"));
  model->eval();
  return model;
}

// vit_d12_w24_h3: 32 px, patch 8, width 24, 12 blocks, 3 heads, 5 classes, in training mode.
inline VisionTransformer d12_fixture_model() {
  VitConfig cfg;
  cfg.name = "vit_d12_w24_h3";
  cfg.img_size = 32;
  cfg.patch_size = 8;
  cfg.width = 24;
  cfg.depth = 12;
  cfg.heads = 3;
  cfg.num_classes = 5;
  VisionTransformer model(cfg);
  load_vit_checkpoint(*model, fixture("vit_d12_w24_h3.safetensors"));
  return model;
}

// swin_s3_w16: 32 px, patch 2, three stages of 16 x 16, 8 x 8 and 4 x 4 tokens (widths 16, 32, 64),
// 4 x 4 windows, MLP ratio 2, 5 classes.
inline SwinConfig swin_fixture_config() {
  SwinConfig c;
  c.name = "swin_s3_w16";
  c.img_size = 32;
  c.patch_size = 2;
  c.embed_dim = 16;
  c.depths = {2, 2, 2};
  c.heads = {2, 4, 8};
  c.window_size = 4;
  c.mlp_ratio = 2.0;
  c.num_classes = 5;
  return c;
}

// The fixture Swin with its weights, from timm's layout (`format` "safetensors") or Microsoft's ("pth").
inline SwinTransformer swin_fixture_model(const std::string& format = "safetensors") {
  SwinTransformer model(swin_fixture_config());
  load_swin_checkpoint(*model, fixture("swin/swin_s3_w16." + format));
  return model;
}

}  // namespace sct::test
