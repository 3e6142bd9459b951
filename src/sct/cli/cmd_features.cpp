// `sct features`: CLS features (and optionally every block's residual stream and the logits) of a
// normalised input tensor, so other tools can check sct's numerics against theirs.
#include <ATen/ATen.h>
#include <torch/csrc/autograd/grad_mode.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "sct/cli/commands.h"
#include "sct/cli/model_flags.h"
#include "sct/core/error.h"
#include "sct/data/normalize.h"
#include "sct/data/preprocess.h"
#include "sct/io/output_path.h"
#include "sct/io/safetensors.h"
#include "sct/model/stream_recorder.h"
#include "sct/peft/channel_selector.h"

namespace sct::cli {
namespace {

struct FeaturesFlags {
  ModelFlags model;
  std::string input, images, output, blocks, mean, std;
  bool logits = false;
  int64_t batch = 32;
};

// A folder (its .jpg/.jpeg/.png files, sorted) or a list file (one image per line, optionally followed by
// a label, which is ignored; relative paths are relative to the list's folder).
std::vector<std::string> image_paths(const std::string& list_or_dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> paths;
  if (fs::is_directory(list_or_dir)) {
    for (const auto& e : fs::directory_iterator(list_or_dir)) {
      std::string ext = e.path().extension().string();
      for (auto& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (e.is_regular_file() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png")) paths.push_back(e.path().string());
    }
    std::sort(paths.begin(), paths.end());
  } else {
    std::ifstream list(list_or_dir);
    if (!list) throw Error("cannot open image list '" + list_or_dir + "'");
    const fs::path base = fs::path(list_or_dir).parent_path();
    for (std::string line; std::getline(list, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      const size_t space = line.find_last_of(' ');
      if (space != std::string::npos && line.find_first_not_of("0123456789", space + 1) == std::string::npos &&
          space + 1 < line.size())
        line = line.substr(0, space);
      const fs::path p(line);
      paths.push_back((p.is_absolute() ? p : base / p).string());
    }
  }
  if (paths.empty()) throw Error("no images found in '" + list_or_dir + "'");
  return paths;
}

at::Tensor read_input(const FeaturesFlags& flags, int64_t size) {
  if (!flags.images.empty()) {
    Normalization norm;
    if (!flags.mean.empty()) norm.mean = parse_channel_triple(flags.mean, "--mean");
    if (!flags.std.empty()) norm.std = parse_channel_triple(flags.std, "--std");
    return preprocess_image_files(image_paths(flags.images), size, norm);
  }
  const TensorMap in = load_safetensors(flags.input);
  auto it = in.find("x");
  if (it == in.end()) throw Error("input '" + flags.input + "' has no tensor named 'x'");
  return it->second.to(at::kFloat);
}

void run_features(const FeaturesFlags& flags) {
  check_outputs_are_new({{"--out", flags.output}},
                        {{"--checkpoint", flags.model.checkpoint}, {"--input", flags.input}, {"--images", flags.images}});
  BuiltModel built = build_model(flags.model, std::cerr);
  auto& model = *built.model;
  model.eval();
  model.freeze();
  model.set_precision(built.precision);
  const at::Tensor x = read_input(flags, model.img_size());

  std::vector<std::shared_ptr<StreamRecorderImpl>> recorders;
  const auto blocks = flags.blocks.empty() ? std::vector<int64_t>{} : parse_blocks(flags.blocks, model.depth(), "--blocks");
  for (int64_t i : blocks) {
    recorders.push_back(std::make_shared<StreamRecorderImpl>(HookSite::BlockOutput));
    model.block(i).attach("recorder", recorders.back());
  }

  std::vector<at::Tensor> features, logits;
  torch::NoGradGuard no_grad;
  for (int64_t start = 0; start < x.size(0); start += flags.batch) {
    const at::Tensor chunk = x.narrow(0, start, std::min(flags.batch, x.size(0) - start)).to(built.device);
    const at::Tensor tokens = model.forward_features(chunk);  // (B, N, D)
    features.push_back(model.pool(tokens).cpu());
    if (flags.logits) logits.push_back(model.forward_head(tokens).cpu());
  }
  TensorMap out{{"features", at::cat(features)}};
  if (flags.logits) out["logits"] = at::cat(logits);
  for (size_t r = 0; r < blocks.size(); ++r) {
    std::vector<at::Tensor> parts;
    for (const auto& t : recorders[r]->recorded) parts.push_back(t.cpu());
    out[model.block_path(blocks[r]) + ".out"] = at::cat(parts);
  }
  save_safetensors(flags.output, out, {{"model", model.name()}, {"checkpoint", flags.model.checkpoint}});
  std::cerr << "wrote " << flags.output << ": features " << out["features"].sizes() << "\n";
}

}  // namespace

void add_features_command(CLI::App& app) {
  auto flags = std::make_shared<FeaturesFlags>();
  CLI::App* cmd = app.add_subcommand("features", "CLS features, per-block residual streams and logits of inputs");
  flags->model.add_to(*cmd);
  auto* input = cmd->add_option("--input", flags->input, "safetensors with a normalised NCHW float tensor 'x'")
                    ->check(CLI::ExistingFile);
  auto* images =
      cmd->add_option("--images", flags->images, "image folder, or list file (one path per line, optional label)")
          ->check(CLI::ExistingPath);
  input->excludes(images);
  cmd->add_option("--mean", flags->mean, "--images: per-channel mean (default ImageNet)");
  cmd->add_option("--std", flags->std, "--images: per-channel std (default ImageNet)");
  cmd->add_option("--out", flags->output, "safetensors to write: features (B, D), blocks.<i>.out, logits")->required();
  cmd->add_option("--blocks", flags->blocks, "also store residual streams after these blocks: all or i,j,...");
  cmd->add_flag("--logits", flags->logits, "also store the logits");
  cmd->add_option("--batch", flags->batch, "images per forward pass")->capture_default_str();
  cmd->callback([flags, input, images] {
    if (input->count() + images->count() != 1) throw Error("features needs --input or --images");
    run_features(*flags);
  });
}

}  // namespace sct::cli
