// One frozen backbone serving many trained task folders (sct serve): each task costs its own few
// hundred KB, not a backbone. Tasks whose method only attaches hooks (sct, linear, lora, adapter,
// adaptformer, ssf, vpt) share the backbone through TaskRouters; the images of tasks whose hooks keep
// the token count share forward passes too. A method that changes backbone tensors (bias, full)
// needs a backbone of its own, built and loaded again for that task.
#pragma once
#include <c10/core/Device.h>
#include <torch/nn/modules/linear.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "sct/model/backbone.h"
#include "sct/peft/task_dir.h"
#include "sct/runtime/precision.h"
#include "sct/serve/task_router.h"

namespace sct {

struct ServedTask {
  std::string name, dir;
  TaskInfo info;
  std::string method;          // the method's name
  int64_t trainable = 0;       // its trainable parameters, head included
  bool shares_batches = true;  // its images may share a forward pass with other tasks' images
  bool own_backbone = false;   // bias, full: a backbone of its own
};

class MultiTaskModel {
 public:
  // `build_backbone` returns a fresh pretrained backbone (fp32, on its device, any head): called once
  // for the shared backbone and again for each task that needs its own. `precision` as set_precision.
  MultiTaskModel(std::function<Backbone()> build_backbone, Precision precision, bool force = false);

  // Reads task folder `dir` and serves it as `name`. Throws sct::Error naming the folder when it is
  // unreadable, was trained on another backbone (fingerprint or architecture; unless `force`), or its
  // name is taken. Not thread-safe: the caller serialises it with predict().
  void add_task(const std::string& name, const std::string& dir);
  void remove_task(const std::string& name);  // throws for an unknown name
  bool has_task(const std::string& name) const { return tasks_.count(name) > 0; }
  const ServedTask& task(const std::string& name) const;  // throws for an unknown name
  std::vector<std::string> task_names() const;

  int64_t img_size() const { return backbone_->img_size(); }
  const std::string& backbone_sha256() const { return sha256_; }
  Precision precision() const { return precision_; }
  c10::Device device() const { return device_; }

  // Class probabilities of images[i] (a (B, 3, S, S) float batch, preprocessed for its task) under task
  // tasks[i]: one fp32 CPU tensor of the task's C classes per image. Images of tasks that share
  // batches run in one forward pass; each other task in one of its own.
  std::vector<at::Tensor> predict(const at::Tensor& images, const std::vector<std::string>& tasks);

 private:
  struct Entry {
    ServedTask info;
    int64_t id = 0;
    torch::nn::Linear head{nullptr};
    Backbone own{nullptr};  // own_backbone only
  };
  // Rows of `images` for `rows` (indices into the batch), run through the shared backbone under
  // `routing`, each range through its task's head; probabilities written into `out` at those rows.
  void run_shared(const at::Tensor& images, const std::vector<int64_t>& rows, const std::vector<Entry*>& tasks,
                  std::vector<at::Tensor>& out);
  void attach_routers();
  TaskRouter& router(int64_t block);  // block -1: the model's own sites

  std::function<Backbone()> build_backbone_;
  Precision precision_;
  bool force_;
  Backbone backbone_{nullptr};
  c10::Device device_{c10::kCPU};  // the backbone's, read once: BackboneImpl::device() walks every parameter
  std::string sha256_;
  std::unordered_set<std::string> backbone_names_;  // a task folder holding one of these needs its own backbone
  std::shared_ptr<TaskRouting> routing_ = std::make_shared<TaskRouting>();
  std::vector<TaskRouter> routers_;  // one per block, then the model's
  std::map<std::string, Entry> tasks_;
  int64_t next_id_ = 0;
};

}  // namespace sct
