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
#include "sct/io/swin_checkpoint.h"
#include "sct/io/torch_checkpoint.h"
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

TensorMap read_checkpoint(const std::string& path, LoadReport* report) {
  require_regular_file(path, "checkpoint");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot open checkpoint '" + path + "'");
  char magic[4] = {0, 0, 0, 0};
  f.read(magic, 4);
  const bool zip = magic[0] == 'P' && magic[1] == 'K';
  // torch.save before PyTorch 1.6 wrote a bare pickle (protocol 2) that starts with a magic number.
  if (uint8_t(magic[0]) == 0x80 && magic[1] == 0x02)
    throw Error("checkpoint '" + path + "' is in PyTorch's legacy (pre-1.6) format, which sct does not read: re-save "
                "it with PyTorch >= 1.6 (torch.save(torch.load(f, map_location='cpu'), g)) and pass the new file");
  if (zip && is_torch_checkpoint(path)) {
    if (report) report->format = "pth";
    return load_torch_checkpoint(path);
  }
  if (report) report->format = zip ? "npz" : "safetensors";
  if (!zip) return load_safetensors(path, report ? &report->metadata : nullptr);
  std::vector<std::string> ignored;
  TensorMap state = google_vit_to_timm(load_npz(path), &ignored);
  if (report) report->ignored.insert(report->ignored.end(), ignored.begin(), ignored.end());
  return state;
}

namespace {

// Checkpoints saved from DistributedDataParallel carry a "module." prefix.
TensorMap without_ddp_prefix(TensorMap state) {
  TensorMap renamed;
  for (auto& kv : state) renamed[starts_with(kv.first, "module.") ? kv.first.substr(7) : kv.first] = kv.second;
  return renamed;
}

// The strict copy shared by every backbone: each backbone tensor and, when the class counts agree, the
// head. A model's buffers (Swin's relative position index and attention mask) are computed from its
// config: a checkpoint's copies are compared with them, never loaded.
LoadReport load_state(BackboneImpl& model, TensorMap state, const std::string& head_prefix, int64_t num_classes,
                      const std::string& source, const std::string& model_description, const LoadOptions& options) {
  LoadReport report;
  const std::string head_w_name = head_prefix + "weight", head_b_name = head_prefix + "bias";
  auto head_w = state.find(head_w_name);
  if (head_w != state.end() && (num_classes == 0 || head_w->second.size(0) != num_classes)) {
    // A pretraining head (e.g. 21843 ImageNet-21k classes) is useless for a new task: keep ours.
    for (const std::string& k : {head_w_name, head_b_name}) {
      if (!state.count(k)) continue;
      report.ignored.push_back(k + " (" + std::to_string(head_w->second.size(0)) + " classes; model has " +
                               std::to_string(num_classes) + ")");
    }
    state.erase(head_w_name);
    state.erase(head_b_name);
  }

  std::vector<std::string> missing, mismatched;
  std::set<std::string> used;
  std::set<std::string> buffers;
  for (const auto& kv : model.named_buffers(true)) buffers.insert(kv.key());
  torch::NoGradGuard no_grad;
  auto targets = model.backbone_tensors();
  for (const auto& kv : model.named_parameters(true))
    if (starts_with(kv.key(), head_prefix)) targets.emplace_back(kv.key(), kv.value());
  for (auto& [name, dst] : targets) {
    auto it = state.find(name);
    if (it == state.end()) {
      if (!starts_with(name, "head.") && !buffers.count(name)) missing.push_back(name);  // a new head is expected to be fresh
      continue;
    }
    if (!it->second.sizes().equals(dst.sizes())) {
      mismatched.push_back("'" + name + "': model expects " + shape_str(dst.sizes()) + ", checkpoint has " +
                           shape_str(it->second.sizes()));
      continue;
    }
    used.insert(name);
    if (buffers.count(name)) {
      if (!at::equal(it->second.to(dst.dtype()), dst.cpu()))
        mismatched.push_back("'" + name + "': differs from the one the model computes from its config");
      else
        report.checked.push_back(name);
      continue;
    }
    dst.copy_(it->second);
    report.loaded.push_back(name);
    if (name == head_w_name) report.head_loaded = true;
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
    throw Error("checkpoint '" + source + "' does not fit model " + model_description + ":" + problems);
  return report;
}

}  // namespace

LoadReport load_vit_state(VisionTransformerImpl& model, TensorMap state, const std::string& source,
                          const LoadOptions& options) {
  const VitConfig& cfg = model.config();
  state = without_ddp_prefix(std::move(state));
  auto pos = state.find("pos_embed");
  const bool resample = pos != state.end() && pos->second.dim() == 3 && pos->second.size(2) == cfg.width &&
                        pos->second.size(1) != cfg.num_tokens();
  if (resample) pos->second = resample_pos_embed(pos->second, cfg.grid(), cfg.grid());
  LoadReport report = load_state(model, std::move(state), "head.", cfg.num_classes, source,
                                 "'" + cfg.name + "' (width " + std::to_string(cfg.width) + ", depth " +
                                     std::to_string(cfg.depth) + ")",
                                 options);
  report.pos_embed_resampled = resample;
  return report;
}

LoadReport load_swin_state(SwinTransformerImpl& model, TensorMap state, const std::string& source,
                           const LoadOptions& options) {
  const SwinConfig& cfg = model.config();
  std::vector<std::string> renamed;
  state = swin_state_to_timm(without_ddp_prefix(std::move(state)), &renamed);
  check_swin_window(state, cfg, source);
  LoadReport report = load_state(model, std::move(state), "head.fc.", cfg.num_classes, source,
                                 "'" + cfg.name + "' (width " + std::to_string(cfg.embed_dim) + ", " +
                                     std::to_string(cfg.num_blocks()) + " blocks, window " +
                                     std::to_string(cfg.window_size) + ", " + std::to_string(cfg.img_size) + " px)",
                                 options);
  report.ignored.insert(report.ignored.begin(), renamed.begin(), renamed.end());
  return report;
}

namespace {

// A file's reading report (format, what the reader already set aside) joined to its loading report.
LoadReport joined(const LoadReport& read, LoadReport report) {
  report.format = read.format;
  report.metadata = read.metadata;
  report.ignored.insert(report.ignored.begin(), read.ignored.begin(), read.ignored.end());
  return report;
}

}  // namespace

LoadReport load_vit_checkpoint(VisionTransformerImpl& model, const std::string& path, const LoadOptions& options) {
  LoadReport read;
  TensorMap state = read_checkpoint(path, &read);
  return joined(read, load_vit_state(model, std::move(state), path, options));
}

LoadReport load_swin_checkpoint(SwinTransformerImpl& model, const std::string& path, const LoadOptions& options) {
  LoadReport read;
  TensorMap state = read_checkpoint(path, &read);
  return joined(read, load_swin_state(model, std::move(state), path, options));
}

LoadReport load_checkpoint(BackboneImpl& model, const std::string& path, const LoadOptions& options) {
  if (auto* vit = dynamic_cast<VisionTransformerImpl*>(&model)) return load_vit_checkpoint(*vit, path, options);
  if (auto* swin = dynamic_cast<SwinTransformerImpl*>(&model)) return load_swin_checkpoint(*swin, path, options);
  throw Error("load_checkpoint: a backbone of unknown kind ('" + model.name() + "')");
}

LoadReport convert_checkpoint(const std::string& input, const std::string& output) {
  LoadReport report;
  TensorMap state = read_checkpoint(input, &report);
  if (is_swin_state(state)) {
    state = swin_state_to_timm(std::move(state), &report.ignored);
    // Computed from the config by every loader (timm's too): not weights, not written.
    for (auto it = state.begin(); it != state.end();) {
      const bool derived = it->first.find("relative_position_index") != std::string::npos ||
                           it->first.find("attn_mask") != std::string::npos;
      if (derived) report.ignored.push_back(it->first + " (a buffer the model computes)");
      it = derived ? state.erase(it) : std::next(it);
    }
  }
  StringMap metadata = report.metadata;
  metadata.emplace("format", "pt");  // Hugging Face's loaders expect it
  metadata["converted_from"] = std::filesystem::path(input).filename().string();
  metadata["converted_by"] = "sct";
  save_safetensors(output, state, metadata);
  for (const auto& kv : state) report.loaded.push_back(kv.first);
  return report;
}

}  // namespace sct
