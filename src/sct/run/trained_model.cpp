#include "sct/run/trained_model.h"

#include <torch/csrc/autograd/grad_mode.h>

#include "sct/core/error.h"
#include "sct/io/checkpoint.h"
#include "sct/model/backbone_fingerprint.h"

namespace sct {

VisionTransformer copy_of_backbone(const Backbone& backbone, const VitConfig& config) {
  VisionTransformer model(config);
  torch::NoGradGuard no_grad;
  VisionTransformer pretrained = backbone.model;  // a handle: the const backbone holds it
  const auto from = pretrained->backbone_tensors();
  const auto to = model->backbone_tensors();
  if (from.size() != to.size())
    throw Error(backbone.name + ": " + std::to_string(from.size()) + " backbone tensors, the model " + config.name +
                " has " + std::to_string(to.size()));
  for (size_t i = 0; i < to.size(); ++i) {
    if (from[i].first != to[i].first || !from[i].second.sizes().equals(to[i].second.sizes()))
      throw Error(backbone.name + ": backbone tensor " + from[i].first + " does not fit " + to[i].first + " of " +
                  config.name);
    to[i].second.copy_(from[i].second);
  }
  model->to(backbone.device);
  return model;
}

Backbone load_backbone(const VitConfig& config, const std::string& checkpoint, c10::Device device) {
  Backbone b;
  b.model = VisionTransformer(config);
  if (!checkpoint.empty()) load_vit_checkpoint(*b.model, checkpoint);
  b.model->to(device);
  b.device = device;
  b.name = checkpoint.empty() ? config.name + " (random init)" : checkpoint;
  b.sha256 = backbone_fingerprint(*b.model);
  return b;
}

TrainedTask load_trained_task(const std::string& dir, const Backbone& backbone) {
  TrainedTask t;
  t.task = read_task_dir(dir);
  t.model = copy_of_backbone(backbone, t.task.info.backbone);
  t.method = apply_task(*t.model, t.task, dir);
  t.model->to(backbone.device);
  t.model->eval();
  return t;
}

}  // namespace sct
