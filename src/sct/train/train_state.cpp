#include "sct/train/train_state.h"

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <cstring>
#include <mutex>
#include <set>
#include <sstream>

#include "sct/core/error.h"
#include "sct/core/shape.h"
#include "sct/io/safetensors.h"

namespace sct {
namespace {

constexpr char kFormat[] = "sct-train-state/1";

at::Device model_device(BackboneImpl& model) {
  const std::vector<at::Tensor> params = model.parameters();
  return params.empty() ? at::Device(at::kCPU) : params.front().device();
}

std::string generator_key(at::Device device) {
  return "rng." + c10::DeviceTypeName(device.type(), /*lower_case=*/true);
}

// Generators are shared with every thread of the process: read and write them under their mutex.
at::Tensor generator_state(at::Device device) {
  at::Generator gen = at::globalContext().defaultGenerator(device);
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void set_generator_state(at::Device device, const at::Tensor& state) {
  at::Generator gen = at::globalContext().defaultGenerator(device);
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

at::Tensor bytes_tensor(const std::string& bytes) {
  at::Tensor t = at::empty({static_cast<int64_t>(bytes.size())}, at::kByte);
  std::memcpy(t.data_ptr(), bytes.data(), bytes.size());
  return t;
}

TrainStateInfo parse_info(const StringMap& meta, const std::string& path) {
  const auto get = [&](const std::string& key) -> const std::string& {
    const auto it = meta.find(key);
    if (it == meta.end()) throw Error(path + ": not a training state (metadata '" + key + "' missing)");
    return it->second;
  };
  if (get("format") != kFormat) throw Error(path + ": unsupported training state format '" + get("format") + "'");
  TrainStateInfo info;
  try {
    info.epochs_done = std::stoll(get("epochs_done"));
    info.config = nlohmann::json::parse(get("config"));
    info.metrics = nlohmann::json::parse(get("metrics"));
  } catch (const std::exception& e) {  // std::invalid_argument or nlohmann's parse_error
    throw Error(path + ": corrupt training state metadata: " + e.what());
  }
  return info;
}

}  // namespace

void save_train_state(const std::string& path, BackboneImpl& model, const torch::optim::Optimizer& optimizer,
                      const TrainStateInfo& info) {
  const at::Device device = model_device(model);
  TensorMap tensors;
  for (const auto& kv : model.named_parameters(/*recurse=*/true))
    if (kv.value().requires_grad()) tensors["param." + kv.key()] = kv.value().detach();
  for (const auto& kv : model.named_buffers(/*recurse=*/true)) tensors["buffer." + kv.key()] = kv.value();

  torch::serialize::OutputArchive archive;
  optimizer.save(archive);
  std::ostringstream bytes;
  archive.save_to(bytes);
  tensors["optimizer"] = bytes_tensor(bytes.str());

  tensors["rng.cpu"] = generator_state(at::kCPU);
  if (device.type() != at::kCPU) tensors[generator_key(device)] = generator_state(device);

  const StringMap meta = {{"format", kFormat},
                          {"epochs_done", std::to_string(info.epochs_done)},
                          {"device", device.str()},
                          {"config", info.config.dump()},
                          {"metrics", info.metrics.dump()}};
  save_safetensors(path, tensors, meta);
}

TrainStateInfo read_train_state_info(const std::string& path) {
  StringMap meta;
  load_safetensors(path, &meta);
  return parse_info(meta, path);
}

TrainStateInfo load_train_state(const std::string& path, BackboneImpl& model,
                                torch::optim::Optimizer& optimizer) {
  StringMap meta;
  TensorMap tensors = load_safetensors(path, &meta);
  TrainStateInfo info = parse_info(meta, path);
  const at::Device device = model_device(model);

  // Strict: the model must hold exactly the saved trainable tensors and buffers.
  std::vector<std::pair<at::Tensor, at::Tensor>> copies;  // (destination, source)
  std::set<std::string> expected;
  std::string problems;
  const auto match = [&](const std::string& key, const at::Tensor& dst) {
    expected.insert(key);
    const auto it = tensors.find(key);
    if (it == tensors.end()) {
      problems += "\n  missing " + key;
    } else if (it->second.sizes() != dst.sizes()) {
      problems += "\n  " + key + ": saved " + shape_str(it->second.sizes()) + ", model " + shape_str(dst.sizes());
    } else {
      copies.emplace_back(dst, it->second);
    }
  };
  for (const auto& kv : model.named_parameters(true))
    if (kv.value().requires_grad()) match("param." + kv.key(), kv.value());
  for (const auto& kv : model.named_buffers(true)) match("buffer." + kv.key(), kv.value());
  for (const auto& kv : tensors)
    if ((kv.first.rfind("param.", 0) == 0 || kv.first.rfind("buffer.", 0) == 0) && !expected.count(kv.first))
      problems += "\n  unexpected " + kv.first + " (trained in the saved run, not trainable here)";
  if (!problems.empty()) throw Error(path + ": the training state does not fit the model:" + problems);
  {
    torch::NoGradGuard no_grad;
    for (auto& [dst, src] : copies) dst.copy_(src);
  }

  const auto blob = tensors.find("optimizer");
  if (blob == tensors.end()) throw Error(path + ": optimizer state missing");
  torch::serialize::InputArchive archive;
  archive.load_from(static_cast<const char*>(blob->second.data_ptr()), static_cast<size_t>(blob->second.numel()),
                    device);
  optimizer.load(archive);

  const auto cpu_rng = tensors.find("rng.cpu");
  if (cpu_rng == tensors.end()) throw Error(path + ": CPU generator state missing");
  set_generator_state(at::kCPU, cpu_rng->second);
  // A state saved on another device type has no generator for this one: the run continues, but its
  // drop-path draws are not those of an uninterrupted run.
  if (device.type() != at::kCPU)
    if (const auto it = tensors.find(generator_key(device)); it != tensors.end())
      set_generator_state(device, it->second);
  return info;
}

}  // namespace sct
