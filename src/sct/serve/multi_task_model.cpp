#include "sct/serve/multi_task_model.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "sct/core/error.h"
#include "sct/core/shape.h"
#include "sct/model/backbone_fingerprint.h"
#include "sct/model/parameter_count.h"

namespace sct {
namespace {

constexpr const char* kRouterName = "tasks";

// Task names travel in URLs and metric labels: keep them to characters neither needs to escape.
void check_task_name(const std::string& name) {
  const bool ok = !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.';
  });
  if (!ok) throw Error("task name '" + name + "' must be 1 to 64 characters of A-Z, a-z, 0-9, '-', '_' and '.'");
}

// The architecture a task was trained on must be the served one's; the classifier is the task's own.
void check_architecture(const nlohmann::json& served, const TaskInfo& info, const std::string& dir) {
  nlohmann::json trained = with_classes(info.backbone, served.at("num_classes").get<int64_t>());
  trained["name"] = served.at("name");
  if (trained != served)
    throw Error("the task in " + dir + " was trained on backbone " + info.backbone.dump() + ", not the served " +
                served.dump());
}

// Detaches every hook of `owner` but the router and returns them in attachment order.
template <typename Owner>
std::vector<std::shared_ptr<BlockHookImpl>> take_hooks(Owner& owner) {
  std::vector<std::shared_ptr<BlockHookImpl>> hooks;
  const std::vector<std::string> names = owner.hook_names();
  for (const auto& name : names) {
    if (name == kRouterName) continue;
    hooks.push_back(owner.hook(name));
    owner.detach(name);
  }
  return hooks;
}

}  // namespace

MultiTaskModel::MultiTaskModel(std::function<Backbone()> build_backbone, Precision precision, bool force)
    : build_backbone_(std::move(build_backbone)), precision_(precision), force_(force) {
  backbone_ = build_backbone_();
  device_ = backbone_->device();
  sha256_ = backbone_fingerprint(*backbone_);  // before bf16 rounds the weights
  backbone_->reset_head(0);                    // each task brings its own
  backbone_->freeze();
  backbone_->set_precision(precision_);
  backbone_->eval();
  for (const auto& kv : backbone_->backbone_tensors()) backbone_names_.insert(kv.first);
  for (int64_t i = 0; i <= backbone_->depth(); ++i) routers_.emplace_back(TaskRouter(routing_));
}

TaskRouter& MultiTaskModel::router(int64_t block) {
  return block < 0 ? routers_.back() : routers_[static_cast<size_t>(block)];
}

void MultiTaskModel::attach_routers() {
  const auto reattach = [&](auto& owner, TaskRouter& r) {
    const auto& names = owner.hook_names();
    if (std::find(names.begin(), names.end(), kRouterName) != names.end()) owner.detach(kRouterName);
    if (!r->empty()) owner.attach(kRouterName, r.ptr());
  };
  for (int64_t i = 0; i < backbone_->depth(); ++i) reattach(backbone_->block(i), router(i));
  reattach(*backbone_, router(-1));
}

void MultiTaskModel::add_task(const std::string& name, const std::string& dir) {
  check_task_name(name);
  if (has_task(name)) throw Error("a task named '" + name + "' is already served");
  TaskDir td = read_task_dir(dir);
  check_architecture(backbone_->config_json(), td.info, dir);
  check_task_backbone(td, dir, sha256_, force_);
  if (td.info.num_classes() <= 0) throw Error("the task in " + dir + " has no classifier (0 classes)");

  Entry e;
  e.id = next_id_++;
  e.info.name = name;
  e.info.dir = dir;
  e.info.info = td.info;
  e.info.own_backbone = std::any_of(td.tensors.begin(), td.tensors.end(),
                                    [&](const auto& kv) { return backbone_names_.count(kv.first) > 0; });

  if (e.info.own_backbone) {
    e.own = build_backbone_();
    e.info.method = attach_task(*e.own, td, dir)->name();
    e.info.trainable = count_parameters(*e.own).trainable;
    e.own->freeze();
    e.own->set_precision(precision_);
    e.own->to(device());
    e.own->eval();
    e.info.shares_batches = false;
  } else {
    // The task's modules are made on the shared backbone, loaded, then taken off it into the routers.
    backbone_->reset_head(td.info.num_classes());
    try {
      e.info.method = attach_task(*backbone_, td, dir)->name();
      e.info.trainable = count_parameters(*backbone_).trainable;
    } catch (...) {
      for (int64_t i = 0; i < backbone_->depth(); ++i) take_hooks(backbone_->block(i));
      take_hooks(*backbone_);
      backbone_->reset_head(0);
      throw;
    }
    e.head = backbone_->classifier();
    e.head->to(device());
    backbone_->reset_head(0);
    backbone_->freeze();  // a method's attach may have let backbone tensors train; none do here
    for (int64_t i = -1; i < backbone_->depth(); ++i) {
      const auto hooks = i < 0 ? take_hooks(*backbone_) : take_hooks(backbone_->block(i));
      for (const auto& h : hooks) {
        h->to(device());
        h->eval();
        e.info.shares_batches = e.info.shares_batches && h->keeps_token_count();
      }
      if (!hooks.empty()) router(i)->set_hooks(e.id, hooks);
    }
    attach_routers();
  }
  tasks_.emplace(name, std::move(e));
}

void MultiTaskModel::remove_task(const std::string& name) {
  const auto it = tasks_.find(name);
  if (it == tasks_.end()) throw Error("no task named '" + name + "' is served");
  for (auto& r : routers_) r->remove(it->second.id);
  tasks_.erase(it);
  attach_routers();
}

const ServedTask& MultiTaskModel::task(const std::string& name) const {
  const auto it = tasks_.find(name);
  if (it == tasks_.end()) throw Error("no task named '" + name + "' is served");
  return it->second.info;
}

std::vector<std::string> MultiTaskModel::task_names() const {
  std::vector<std::string> names;
  for (const auto& kv : tasks_) names.push_back(kv.first);
  return names;
}

void MultiTaskModel::run_shared(const at::Tensor& images, const std::vector<int64_t>& rows,
                                const std::vector<Entry*>& tasks, std::vector<at::Tensor>& out) {
  // Rows ordered by task (stable), so that each task's rows are one range.
  std::vector<size_t> order(rows.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return tasks[a]->id < tasks[b]->id; });
  std::vector<int64_t> batch_rows;
  TaskRouting routing;
  for (size_t i = 0; i < order.size(); ++i) {
    batch_rows.push_back(rows[order[i]]);
    const Entry* t = tasks[order[i]];
    if (routing.empty() || routing.back().task != t->id)
      routing.push_back({t->id, static_cast<int64_t>(i), 0});
    ++routing.back().count;
  }
  const at::Tensor x = images.index_select(0, at::tensor(batch_rows, at::kLong)).to(device());
  *routing_ = routing;
  const at::Tensor features = backbone_->forward_features(x);
  size_t i = 0;
  for (const RowRange& r : routing) {
    Entry* t = tasks[order[i]];
    const at::Tensor probs =
        backbone_->forward_head(features.narrow(0, r.begin, r.count), t->head).softmax(1).to(at::kCPU);
    for (int64_t j = 0; j < r.count; ++j, ++i) out[static_cast<size_t>(batch_rows[i])] = probs[j];
  }
}

std::vector<at::Tensor> MultiTaskModel::predict(const at::Tensor& images, const std::vector<std::string>& tasks) {
  if (images.dim() != 4 || images.size(0) != static_cast<int64_t>(tasks.size()))
    throw Error("predict: expected a (B, 3, S, S) batch with one task per image, got " + std::to_string(tasks.size()) +
                " tasks for a batch of shape " + shape_str(images.sizes()));
  c10::InferenceMode guard;
  std::vector<at::Tensor> out(tasks.size());
  std::vector<int64_t> shared_rows;
  std::vector<Entry*> shared_tasks;
  std::map<int64_t, std::pair<Entry*, std::vector<int64_t>>> alone;  // by id: the order tasks were added
  for (size_t i = 0; i < tasks.size(); ++i) {
    const auto it = tasks_.find(tasks[i]);
    if (it == tasks_.end()) throw Error("no task named '" + tasks[i] + "' is served");
    Entry* e = &it->second;
    if (e->info.shares_batches) {
      shared_rows.push_back(static_cast<int64_t>(i));
      shared_tasks.push_back(e);
    } else {
      auto& slot = alone[e->id];
      slot.first = e;
      slot.second.push_back(static_cast<int64_t>(i));
    }
  }
  if (!shared_rows.empty()) run_shared(images, shared_rows, shared_tasks, out);
  for (auto& [id, group] : alone) {
    auto& [e, rows] = group;
    if (!e->own) {
      run_shared(images, rows, std::vector<Entry*>(rows.size(), e), out);
      continue;
    }
    const at::Tensor probs =
        e->own->forward(images.index_select(0, at::tensor(rows, at::kLong)).to(device())).softmax(1).to(at::kCPU);
    for (size_t j = 0; j < rows.size(); ++j) out[static_cast<size_t>(rows[j])] = probs[static_cast<int64_t>(j)];
  }
  return out;
}

}  // namespace sct
