// Task folders for the serve tests: several methods, each "trained" (every trainable tensor moved away
// from its initialisation) on the tiny random backbone of seed 1, with its own class count.
#pragma once
#include <torch/csrc/autograd/grad_mode.h>

#include <string>
#include <vector>

#include "fixture_models.h"
#include "sct/model/vision_transformer.h"
#include "sct/model/backbone_fingerprint.h"
#include "sct/peft/channel_selector.h"
#include "sct/peft/sct_method.h"
#include "sct/peft/task_dir.h"
#include "test_util.h"

namespace sct::test {

inline VisionTransformer served_backbone(uint64_t seed = 1) {
  at::manual_seed(seed);
  return VisionTransformer(tiny_vit_config());
}

struct ServeFixtureTask {
  std::string name, method;  // method: a registry name, or "sct"
  int64_t classes;
};

// sct (random channels in two blocks), lora and linear share batches; vpt runs alone on the shared
// backbone; bias needs a backbone of its own; ssf adds hooks at the model's own sites.
inline std::vector<ServeFixtureTask> serve_fixture_tasks() {
  return {{"sct", "sct", 4}, {"lora", "lora", 3}, {"linear", "linear", 5},
          {"vpt", "vpt", 4}, {"bias", "bias", 2}, {"ssf", "ssf", 6}};
}

// Writes task `t` to `dir` and returns nothing; seed `perturb` makes its trained values.
inline void write_serve_task(const ServeFixtureTask& t, const std::string& dir, uint64_t perturb) {
  VisionTransformer model = served_backbone();
  const std::string sha = backbone_fingerprint(*model);
  model->reset_head(t.classes);
  std::unique_ptr<PeftMethod> method;
  if (t.method == "sct") {
    SelectionOptions opt;
    opt.strategy = ChannelStrategy::Random;
    opt.k = KSpec::count(5);
    opt.blocks = {0, 2};
    ChannelSelector selector(opt);
    selector.attach(model, t.classes);
    method = std::make_unique<SctMethod>(selector.finish());
  } else {
    method = make_peft_method(t.method == "vpt" ? method_config("vpt", {"length=2"}) : method_config(t.method, {}));
  }
  method->attach(*model);
  {
    torch::NoGradGuard no_grad;
    at::manual_seed(perturb);
    for (auto& p : model->parameters())
      if (p.requires_grad()) p.add_(at::randn_like(p), 0.5);
  }
  TaskInfo info;
  info.method = method->config();
  info.backbone = model->config_json();
  info.backbone_sha256 = sha;
  for (int64_t c = 0; c < t.classes; ++c) info.class_names.push_back(t.name + "-" + std::to_string(c));
  info.task = "toy-" + t.name;
  info.normalization = Normalization::inception();
  save_task_dir(dir, info, *model);
}

// What `sct predict` computes for a task folder: its own model, built and loaded alone.
inline at::Tensor predict_alone(const std::string& dir, const at::Tensor& images, Precision precision) {
  VisionTransformer model = served_backbone();
  const TaskDir task = read_task_dir(dir);
  apply_task(*model, task, dir);
  model->freeze();
  model->set_precision(precision);
  model->eval();
  torch::NoGradGuard no_grad;
  return model->forward(images).softmax(1);
}

}  // namespace sct::test
