#include "sct/peft/task_dir.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include "sct/core/error.h"
#include "sct/core/fault_point.h"
#include "sct/core/json_error.h"
#include "sct/core/shape.h"
#include "sct/io/atomic_file.h"
#include "sct/io/safetensors.h"
#include "sct/model/backbone_fingerprint.h"

namespace sct {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kFormat = "sct-task";
constexpr int kVersion = 1;
constexpr const char* kConfigFile = "adapter_config.json";
constexpr const char* kModelFile = "adapter_model.safetensors";

// What a task file holds of a model: trainable parameters and the attached modules' buffers.
TensorMap task_tensors(BackboneImpl& model) {
  TensorMap out;
  for (const auto& kv : model.named_parameters(true))
    if (kv.value().requires_grad()) out[kv.key()] = kv.value().detach();
  for (const auto& kv : model.named_buffers(true))
    if (model.is_hook_tensor(kv.key())) out[kv.key()] = kv.value();
  return out;
}

}  // namespace

int64_t TaskInfo::num_classes() const { return backbone.at("num_classes").get<int64_t>(); }
int64_t TaskInfo::img_size() const { return backbone.at("img_size").get<int64_t>(); }

json TaskInfo::to_json() const {
  return {{"format", kFormat},
          {"version", kVersion},
          {"method", method},
          {"backbone", {{"sha256", backbone_sha256}, {"config", backbone}}},
          {"num_classes", num_classes()},
          {"class_names", class_names},
          {"preprocessing",
           {{"img_size", img_size()},
            {"resize", "pil-bicubic"},
            {"mean", normalization.mean},
            {"std", normalization.std}}},
          {"task", task},
          {"result", result}};
}

TaskInfo TaskInfo::from_json(const json& j) {
  TaskInfo t;
  try {
    if (j.value("format", "") != kFormat) throw Error(std::string("not an '") + kFormat + "' document");
    if (j.at("version").get<int>() != kVersion)
      throw Error("version " + j.at("version").dump() + ", this build reads " + std::to_string(kVersion));
    t.method = j.at("method");
    t.backbone = checked_backbone_config(j.at("backbone").at("config"));
    t.backbone_sha256 = j.at("backbone").at("sha256").get<std::string>();
    t.class_names = j.at("class_names").get<std::vector<std::string>>();
    t.normalization.mean = j.at("preprocessing").at("mean").get<std::array<float, 3>>();
    t.normalization.std = j.at("preprocessing").at("std").get<std::array<float, 3>>();
    t.task = j.at("task").get<std::string>();
    t.result = j.value("result", json());
  } catch (const json::exception& e) {
    throw Error(json_error_text(e));
  }
  if (static_cast<int64_t>(t.class_names.size()) != t.num_classes())
    throw Error(std::to_string(t.class_names.size()) + " class names for " + std::to_string(t.num_classes()) +
                " classes");
  return t;
}

void save_task_dir(const std::string& dir, const TaskInfo& info, BackboneImpl& model) {
  const std::string text = info.to_json().dump(2);
  // Both files or neither: a task folder is never half written.
  write_folder_atomically(dir, [&](const std::string& temp) {
    save_safetensors((fs::path(temp) / kModelFile).string(), task_tensors(model), {{"format", kFormat}});
    fault_point("task-write");
    write_file_atomically((fs::path(temp) / kConfigFile).string(), [&](std::ostream& out) { out << text << '\n'; });
  });
}

TaskDir read_task_dir(const std::string& dir) {
  const std::string config_path = (fs::path(dir) / kConfigFile).string();
  std::ifstream in(config_path);
  if (!in) throw Error("cannot open " + config_path + " (is '" + dir + "' a task folder written by sct train?)");
  TaskDir task;
  try {
    task.info = TaskInfo::from_json(json::parse(in, refuse_huge_numbers));
  } catch (const json::exception& e) {
    throw Error(config_path + ": " + json_error_text(e));
  } catch (const Error& e) {
    throw Error(config_path + ": " + e.what());
  }
  task.tensors = load_safetensors((fs::path(dir) / kModelFile).string());
  return task;
}

void check_task_backbone(const TaskDir& task, const std::string& dir, const std::string& sha256, bool force) {
  if (sha256 == task.info.backbone_sha256) return;
  const std::string msg = "the task in " + dir + " was trained on backbone " + task.info.backbone_sha256 +
                          " but the checkpoint given has fingerprint " + sha256;
  if (!force) throw Error(msg + "; load the same pretrained checkpoint, or pass --force to apply it anyway");
  std::cerr << "warning: " << msg << " (forced)\n";
}

std::unique_ptr<PeftMethod> apply_task(BackboneImpl& model, const TaskDir& task, const std::string& dir,
                                       bool force) {
  check_task_backbone(task, dir, backbone_fingerprint(model), force);
  return attach_task(model, task, dir);
}

std::unique_ptr<PeftMethod> attach_task(BackboneImpl& model, const TaskDir& task, const std::string& dir) {
  const std::string model_path = (fs::path(dir) / kModelFile).string();
  if (model.num_classes() != task.info.num_classes()) model.reset_head(task.info.num_classes());
  std::unique_ptr<PeftMethod> method;
  try {
    method = make_peft_method(task.info.method);
  } catch (const Error& e) {
    throw Error((fs::path(dir) / kConfigFile).string() + ": " + e.what());
  }
  method->attach(model);

  TensorMap expected = task_tensors(model);
  std::set<std::string> missing;
  for (const auto& kv : expected)
    if (!task.tensors.count(kv.first)) missing.insert(kv.first);
  std::string problems;
  for (const auto& name : missing) problems += "\n  missing: " + name;
  for (const auto& kv : task.tensors) {
    const auto it = expected.find(kv.first);
    if (it == expected.end())
      problems += "\n  unexpected: " + kv.first;
    else if (it->second.sizes() != kv.second.sizes())
      problems +=
          "\n  " + kv.first + ": expected " + shape_str(it->second.sizes()) + ", found " + shape_str(kv.second.sizes());
    else if (it->second.is_floating_point() != kv.second.is_floating_point())
      problems += "\n  " + kv.first + ": expected a " + (it->second.is_floating_point() ? "float" : "integer") +
                  " tensor, found " + std::string(c10::toString(kv.second.scalar_type()));
    else if (kv.second.is_floating_point() && !kv.second.isfinite().all().item<bool>())
      problems += "\n  " + kv.first + ": holds NaN or infinite values";
    else if (!kv.second.is_floating_point() && !it->second.cpu().equal(kv.second.cpu().to(it->second.scalar_type())))
      // Integer tensors are the method's own bookkeeping (SCT's channel indices), set from the config.
      problems += "\n  " + kv.first + ": differs from what adapter_config.json describes";
  }
  if (!problems.empty()) throw Error(model_path + " does not fit its adapter_config.json:" + problems);
  torch::NoGradGuard no_grad;
  for (auto& kv : expected) kv.second.copy_(task.tensors.at(kv.first));
  return method;
}

}  // namespace sct
