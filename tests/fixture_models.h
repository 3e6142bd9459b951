// The fixture ViTs of tools/make_fixtures.py, built and loaded for tests that need their weights.
#pragma once
#include "sct/io/checkpoint.h"
#include "sct/model/vision_transformer.h"
#include "test_util.h"

namespace sct::test {

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

}  // namespace sct::test
