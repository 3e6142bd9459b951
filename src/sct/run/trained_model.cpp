#include "sct/run/trained_model.h"

#include <torch/csrc/autograd/grad_mode.h>

#include "sct/core/error.h"
#include "sct/io/checkpoint.h"
#include "sct/model/backbone_fingerprint.h"

namespace sct {

Backbone copy_of_backbone(const PretrainedBackbone& backbone, const nlohmann::json& config, double drop_path_rate) {
  Backbone model = make_backbone(config, drop_path_rate);
  torch::NoGradGuard no_grad;
  Backbone pretrained = backbone.model;  // a handle: the const backbone holds it
  const auto from = pretrained->backbone_tensors();
  const auto to = model->backbone_tensors();
  if (from.size() != to.size())
    throw Error(backbone.name + ": " + std::to_string(from.size()) + " backbone tensors, the model " + model->name() +
                " has " + std::to_string(to.size()));
  for (size_t i = 0; i < to.size(); ++i) {
    if (from[i].first != to[i].first || !from[i].second.sizes().equals(to[i].second.sizes()))
      throw Error(backbone.name + ": backbone tensor " + from[i].first + " does not fit " + to[i].first + " of " +
                  model->name());
    to[i].second.copy_(from[i].second);
  }
  model->to(backbone.device);
  return model;
}

PretrainedBackbone load_backbone(const nlohmann::json& config, const std::string& checkpoint, c10::Device device) {
  PretrainedBackbone b;
  b.model = make_backbone(config);
  if (!checkpoint.empty()) load_checkpoint(*b.model, checkpoint);
  b.model->to(device);
  b.device = device;
  b.name = checkpoint.empty() ? b.model->name() + " (random init)" : checkpoint;
  b.sha256 = backbone_fingerprint(*b.model);
  return b;
}

TrainedTask load_trained_task(const std::string& dir, const PretrainedBackbone& backbone) {
  TrainedTask t;
  t.task = read_task_dir(dir);
  t.model = copy_of_backbone(backbone, t.task.info.backbone);
  t.method = apply_task(*t.model, t.task, dir);
  t.model->to(backbone.device);
  t.model->eval();
  return t;
}

}  // namespace sct
