// `sct features`: CLS features (and optionally every block's residual stream and the logits) of a
// normalised input tensor, so other tools can check sct's numerics against theirs.
#include <iostream>
#include <sstream>

#include <ATen/ATen.h>
#include <CLI/CLI.hpp>
#include <torch/csrc/autograd/grad_mode.h>

#include "sct/cli/commands.h"
#include "sct/cli/model_flags.h"
#include "sct/core/error.h"
#include "sct/io/safetensors.h"
#include "sct/model/stream_recorder.h"

namespace sct::cli {
namespace {

struct FeaturesFlags {
  ModelFlags model;
  std::string input, output, blocks;
  bool logits = false;
  int64_t batch = 32;
};

std::vector<int64_t> parse_blocks(const std::string& spec, int64_t depth) {
  std::vector<int64_t> out;
  if (spec.empty()) return out;
  if (spec == "all") {
    for (int64_t i = 0; i < depth; ++i) out.push_back(i);
    return out;
  }
  std::stringstream ss(spec);
  for (std::string item; std::getline(ss, item, ',');) {
    int64_t i = -1;
    try {
      i = std::stoll(item);
    } catch (const std::exception&) {
      throw Error("--blocks: '" + item + "' is not a block index (use all or i,j,...)");
    }
    if (i < 0 || i >= depth) throw Error("--blocks: block " + item + " out of range [0, " + std::to_string(depth) + ")");
    out.push_back(i);
  }
  return out;
}

void run_features(const FeaturesFlags& flags) {
  BuiltModel built = build_model(flags.model, std::cerr);
  auto& model = *built.model;
  model.eval();

  const TensorMap in = load_safetensors(flags.input);
  auto it = in.find("x");
  if (it == in.end()) throw Error("input '" + flags.input + "' has no tensor named 'x'");
  const at::Tensor x = it->second.to(at::kFloat);

  std::vector<std::shared_ptr<StreamRecorderImpl>> recorders;
  const auto blocks = parse_blocks(flags.blocks, model.depth());
  for (int64_t i : blocks) {
    recorders.push_back(std::make_shared<StreamRecorderImpl>(HookSite::BlockOutput));
    model.block(i).attach("recorder", recorders.back());
  }

  std::vector<at::Tensor> features, logits;
  torch::NoGradGuard no_grad;
  for (int64_t start = 0; start < x.size(0); start += flags.batch) {
    const at::Tensor chunk = x.narrow(0, start, std::min(flags.batch, x.size(0) - start)).to(built.device);
    const at::Tensor tokens = model.forward_features(chunk);                 // (B, N, D)
    features.push_back(tokens.select(1, 0).cpu());
    if (flags.logits) logits.push_back(model.forward_head(tokens).cpu());
  }
  TensorMap out{{"features", at::cat(features)}};
  if (flags.logits) out["logits"] = at::cat(logits);
  for (size_t r = 0; r < blocks.size(); ++r) {
    std::vector<at::Tensor> parts;
    for (const auto& t : recorders[r]->recorded) parts.push_back(t.cpu());
    out["blocks." + std::to_string(blocks[r]) + ".out"] = at::cat(parts);
  }
  save_safetensors(flags.output, out, {{"model", model.config().name}, {"checkpoint", flags.model.checkpoint}});
  std::cerr << "wrote " << flags.output << ": features " << out["features"].sizes() << "\n";
}

}  // namespace

void add_features_command(CLI::App& app) {
  auto flags = std::make_shared<FeaturesFlags>();
  CLI::App* cmd = app.add_subcommand("features", "CLS features, per-block residual streams and logits of inputs");
  flags->model.add_to(*cmd);
  cmd->add_option("--input", flags->input, "safetensors with a normalised NCHW float tensor 'x'")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", flags->output, "safetensors to write: features (B, D), blocks.<i>.out, logits")->required();
  cmd->add_option("--blocks", flags->blocks, "also store residual streams after these blocks: all or i,j,...");
  cmd->add_flag("--logits", flags->logits, "also store the logits");
  cmd->add_option("--batch", flags->batch, "images per forward pass")->capture_default_str();
  cmd->callback([flags] { run_features(*flags); });
}

}  // namespace sct::cli
