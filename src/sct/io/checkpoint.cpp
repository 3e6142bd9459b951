#include "sct/io/checkpoint.h"

#include <filesystem>
#include <fstream>
#include <set>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include "sct/core/error.h"
#include "sct/io/atomic_file.h"
#include "sct/core/shape.h"
#include "sct/io/google_vit.h"
#include "sct/io/npz.h"
#include "sct/io/safetensors.h"
#include "sct/model/pos_embed.h"

namespace sct {
namespace {

std::string join(const std::vector<std::string>& v, size_t max_items = 12) {
  std::string s;
  for (size_t i = 0; i < v.size() && i < max_items; ++i) s += (i ? ", " : "") + v[i];
  if (v.size() > max_items) s += ", ... (" + std::to_string(v.size() - max_items) + " more)";
  return s;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

TensorMap read_vit_checkpoint(const std::string& path, LoadReport* report) {
  require_regular_file(path, "checkpoint");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot open checkpoint '" + path + "'");
  char magic[4] = {0, 0, 0, 0};
  f.read(magic, 4);
  const bool zip = magic[0] == 'P' && magic[1] == 'K';
  if (report) report->format = zip ? "npz" : "safetensors";
  if (!zip) return load_safetensors(path, report ? &report->metadata : nullptr);
  std::vector<std::string> ignored;
  TensorMap state = google_vit_to_timm(load_npz(path), &ignored);
  if (report) report->ignored.insert(report->ignored.end(), ignored.begin(), ignored.end());
  return state;
}

LoadReport load_vit_state(VisionTransformerImpl& model, TensorMap state, const std::string& source,
                          const LoadOptions& options) {
  LoadReport report;
  const VitConfig& cfg = model.config();
  // Checkpoints saved from DistributedDataParallel carry a "module." prefix.
  TensorMap renamed;
  for (auto& kv : state) renamed[starts_with(kv.first, "module.") ? kv.first.substr(7) : kv.first] = kv.second;
  state.swap(renamed);

  auto pos = state.find("pos_embed");
  if (pos != state.end() && pos->second.dim() == 3 && pos->second.size(2) == cfg.width &&
      pos->second.size(1) != cfg.num_tokens()) {
    pos->second = resample_pos_embed(pos->second, cfg.grid(), cfg.grid());
    report.pos_embed_resampled = true;
  }
  auto head_w = state.find("head.weight");
  if (head_w != state.end() && (!model.head || head_w->second.size(0) != cfg.num_classes)) {
    // A pretraining head (e.g. 21843 ImageNet-21k classes) is useless for a new task: keep ours.
    for (const char* k : {"head.weight", "head.bias"}) {
      if (!state.count(k)) continue;
      report.ignored.push_back(std::string(k) + " (" + std::to_string(head_w->second.size(0)) +
                               " classes; model has " + std::to_string(cfg.num_classes) + ")");
    }
    state.erase("head.weight");
    state.erase("head.bias");
  }

  std::vector<std::string> missing, mismatched;
  std::set<std::string> used;
  torch::NoGradGuard no_grad;
  auto targets = model.backbone_tensors();
  if (model.head)
    for (const auto& kv : model.head->named_parameters()) targets.emplace_back("head." + kv.key(), kv.value());
  for (auto& [name, dst] : targets) {
    auto it = state.find(name);
    if (it == state.end()) {
      if (!starts_with(name, "head.")) missing.push_back(name);  // a new head is expected to be fresh
      continue;
    }
    if (!it->second.sizes().equals(dst.sizes())) {
      mismatched.push_back("'" + name + "': model expects " + shape_str(dst.sizes()) + ", checkpoint has " +
                           shape_str(it->second.sizes()));
      continue;
    }
    dst.copy_(it->second);
    used.insert(name);
    report.loaded.push_back(name);
    if (name == "head.weight") report.head_loaded = true;
  }
  for (const auto& kv : state)
    if (!used.count(kv.first) && !model.is_hook_tensor(kv.first)) report.unexpected.push_back(kv.first);

  std::string problems;
  if (!mismatched.empty()) problems += "\n  shape mismatch: " + join(mismatched);
  if (!missing.empty()) problems += "\n  missing " + std::to_string(missing.size()) + ": " + join(missing);
  if (!report.unexpected.empty() && !options.allow_unexpected)
    problems += "\n  unexpected " + std::to_string(report.unexpected.size()) + ": " + join(report.unexpected) +
                " (allow with --allow-unexpected)";
  if (!problems.empty())
    throw Error("checkpoint '" + source + "' does not fit model '" + cfg.name + "' (width " +
                std::to_string(cfg.width) + ", depth " + std::to_string(cfg.depth) + "):" + problems);
  return report;
}

LoadReport load_vit_checkpoint(VisionTransformerImpl& model, const std::string& path, const LoadOptions& options) {
  LoadReport read;
  TensorMap state = read_vit_checkpoint(path, &read);
  LoadReport report = load_vit_state(model, std::move(state), path, options);
  report.format = read.format;
  report.ignored.insert(report.ignored.begin(), read.ignored.begin(), read.ignored.end());
  return report;
}

LoadReport convert_vit_checkpoint(const std::string& input, const std::string& output) {
  LoadReport report;
  const TensorMap state = read_vit_checkpoint(input, &report);
  StringMap metadata = report.metadata;
  metadata.emplace("format", "pt");  // Hugging Face's loaders expect it
  metadata["converted_from"] = std::filesystem::path(input).filename().string();
  metadata["converted_by"] = "sct";
  save_safetensors(output, state, metadata);
  for (const auto& kv : state) report.loaded.push_back(kv.first);
  return report;
}

}  // namespace sct
