#include "sct/cli/model_flags.h"

#include <ATen/ATen.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <ostream>

#include "sct/core/error.h"
#include "sct/core/json_error.h"
#include "sct/runtime/device.h"
#include "sct/runtime/threads.h"

namespace sct::cli {

void RuntimeFlags::add_to(CLI::App& cmd) {
  cmd.add_option("--device", device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd.add_option("--threads", threads, "CPU threads (default: every CPU this process may use; more are refused)")
      ->check(CLI::Range(0, available_cpus()));
  cmd.add_option("--seed", seed, "random seed")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd.add_option("--precision", precision,
                 "fp32, bf16 (mixed: bf16 GEMMs, fp32 statistics and master weights) or auto (bf16 where the "
                 "device multiplies it natively: AMX-BF16 / AVX512-BF16 CPUs, Ampere+ GPUs; else fp32)")
      ->check(CLI::IsMember({"fp32", "bf16", "auto"}))
      ->capture_default_str();
  add_max_image_pixels_flag(cmd, max_image_pixels);
}

void add_max_image_pixels_flag(CLI::App& cmd, int64_t& value) {
  cmd.add_option("--max-image-pixels", value,
                 "refuse images of more pixels than this before decoding them (decompression bombs; PIL's limit)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
}

Precision RuntimeFlags::resolved_precision(const c10::Device& dev, std::ostream& log) const {
  return resolve_precision(parse_precision(precision), dev, log);
}

c10::Device RuntimeFlags::apply() const {
  const c10::Device dev = parse_device(device);
  configure_threads(threads);
  set_max_image_pixels(max_image_pixels);
  at::manual_seed(seed);
  return dev;
}

void ModelFlags::add_to(CLI::App& cmd) {
  runtime.add_to(cmd);
  cmd.add_option("--model", model,
                 "named config (vit_tiny_patch16_224 ... vit_huge_patch14_224, swin_tiny_patch4_window7_224 ... "
                 "swin_base_patch4_window12_384) or custom (a ViT)")
      ->capture_default_str();
  cmd.add_option("--model-config", model_config,
                 "a backbone config as JSON (what a task folder's adapter_config.json holds under backbone.config): "
                 "any ViT or Swin shape, instead of --model")
      ->check(CLI::ExistingFile);
  cmd.add_option("--img-size", img_size, "input resolution (default: the config's)")->check(CLI::PositiveNumber);
  cmd.add_option("--num-classes", num_classes, "classifier size; 0 = no head (default: the config's)")
      ->check(CLI::NonNegativeNumber);
  cmd.add_option("--patch", patch, "custom: patch size")->check(CLI::PositiveNumber);
  cmd.add_option("--width", width, "custom: embedding width D")->check(CLI::PositiveNumber);
  cmd.add_option("--depth", depth, "custom: number of blocks")->check(CLI::PositiveNumber);
  cmd.add_option("--heads", heads, "custom: attention heads")->check(CLI::PositiveNumber);
  cmd.add_option("--mlp-ratio", mlp_ratio, "custom: MLP hidden size / width")->capture_default_str();
  cmd.add_option("--checkpoint", checkpoint, "weights: Google .npz, timm/HF .safetensors or a torch.save .pth")
      ->check(CLI::ExistingFile);
  cmd.add_flag("--allow-unexpected", allow_unexpected, "ignore checkpoint tensors the model has no place for");
}

nlohmann::json ModelFlags::config() const {
  nlohmann::json cfg;
  if (!model_config.empty()) {
    if (patch || width || depth || heads) throw Error("--patch/--width/--depth/--heads do not apply with --model-config");
    std::ifstream in(model_config);
    try {
      cfg = checked_backbone_config(nlohmann::json::parse(in, refuse_huge_numbers));
    } catch (const nlohmann::json::exception& e) {
      throw Error(model_config + ": " + json_error_text(e));
    } catch (const Error& e) {
      throw Error(model_config + ": " + e.what());
    }
  } else if (model == "custom") {
    if (patch <= 0 || width <= 0 || depth <= 0 || heads <= 0)
      throw Error("--model custom needs --patch, --width, --depth and --heads");
    VitConfig vit;
    vit.patch_size = patch;
    vit.width = width;
    vit.depth = depth;
    vit.heads = heads;
    vit.mlp_ratio = mlp_ratio;
    cfg = vit.to_json();
    cfg["arch"] = "vit";
  } else {
    if (patch || width || depth || heads) throw Error("--patch/--width/--depth/--heads only apply to --model custom");
    cfg = named_backbone_config(model);
  }
  if (img_size > 0) cfg["img_size"] = img_size;
  if (num_classes >= 0) cfg["num_classes"] = num_classes;
  return checked_backbone_config(cfg);
}

BuiltModel build_model(const ModelFlags& flags, std::ostream& log) {
  BuiltModel built;
  built.device = flags.runtime.apply();
  built.precision = flags.runtime.resolved_precision(built.device, log);
  const nlohmann::json cfg = flags.config();
  built.model = make_backbone(cfg);
  nlohmann::json shape = cfg;
  for (const char* k : {"name", "num_classes", "img_size"}) shape.erase(k);
  log << "model " << cfg.at("name").get<std::string>() << ": " << cfg.at("img_size") << "px, " << shape.dump()
      << ", classes " << cfg.at("num_classes") << "; device " << built.device << ", " << at::get_num_threads()
      << " threads, " << to_string(built.precision) << "\n";
  if (!flags.checkpoint.empty()) {
    LoadOptions opts;
    opts.allow_unexpected = flags.allow_unexpected;
    built.load = load_checkpoint(*built.model, flags.checkpoint, opts);
    log << "loaded " << built.load.loaded.size() << " tensors from " << flags.checkpoint << " (" << built.load.format
        << ")";
    if (built.load.pos_embed_resampled) {
      const int64_t grid = cfg.at("img_size").get<int64_t>() / cfg.at("patch_size").get<int64_t>();
      log << ", position embedding resampled to " << grid << "x" << grid;
    }
    if (!built.load.head_loaded) log << ", new head";
    log << "\n";
    for (const auto& s : built.load.ignored) log << "  ignored " << s << "\n";
    // One line: a Swin-B from Microsoft's release holds 35 of them.
    if (!built.load.checked.empty())
      log << "  checked " << built.load.checked.size() << " computed buffers (" << built.load.checked.front()
          << ", ...) against the model's own: equal, not loaded\n";
    for (const auto& s : built.load.unexpected) log << "  unexpected (ignored) " << s << "\n";
  } else {
    log << "no checkpoint: random initialisation (seed " << flags.runtime.seed << ")\n";
  }
  built.model->to(built.device);
  return built;
}

}  // namespace sct::cli
