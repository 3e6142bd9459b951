// Supervised pretraining of a ViT from scratch on the formula-driven source task (fractal_db.h), with
// the same trainer as every fine-tuning run (AdamW, warmup + cosine, label smoothing, RandAugment,
// resumable state). Writes the backbone without its source head, as a timm-named safetensors
// checkpoint every command loads with --checkpoint, with the recipe in its metadata, and the curve.
#pragma once
#include <c10/core/Device.h>

#include <iosfwd>
#include <optional>
#include <string>

#include "sct/data/fractal_db.h"
#include <nlohmann/json.hpp>
#include "sct/train/train_config.h"

namespace sct {

// The pretraining recipe: DeiT-style from-scratch settings scaled to a small model and a short run.
TrainConfig pretrain_defaults();

struct PretrainSpec {
  nlohmann::json model;  // the architecture (a backbone config); its classes and drop path come from source and config
  FractalDbSpec source;  // its image size is the model's
  TrainConfig config = pretrain_defaults();
  c10::Device device = c10::kCPU;
  int threads = 0;       // for drawing the source
  std::string out;       // run folder: state, metrics, preview, curve, pretrain.json
  std::string backbone;  // "" = <out>/backbone.safetensors
  bool resume = false;
  std::string command;   // the command line, recorded in the backbone's metadata
};

struct PretrainResult {
  std::string model_name, backbone, curve;
  double seconds = 0.0;
  std::optional<double> val_acc;
};

// Draws the source, trains, writes the outputs. In a data-parallel group every rank calls it and rank
// 0 alone writes (the others return an empty result). Throws sct::Error for an invalid config or a
// run stopped before its last epoch (resume continues it).
PretrainResult run_pretrain(const PretrainSpec& spec, std::ostream& log);

}  // namespace sct
