#include "sct/cli/method_flags.h"

#include <CLI/CLI.hpp>
#include <ostream>

#include "sct/peft/channel_selector.h"
#include "sct/peft/peft_method.h"

namespace sct::cli {

void MethodFlags::add_to(CLI::App& cmd, bool with_method, bool with_module) {
  if (with_method) {
    cmd.add_option("--method", method, peft_method_list())->capture_default_str();
    cmd.add_option("--method-option", options,
                   "a method option key=value; numeric ones can be tuned (--protocol tune --set "
                   "'tune_method_options={\"length\":[1,10,50]}'). Options and defaults: " +
                       peft_method_options_help());
  }
  const std::string alias = with_method ? "sct's option " : "";
  cmd.add_option("--k", k,
                 alias + "k: channels per block, a count (96), a fraction of the width (1/8, the default), or per "
                         "block (192x4,96x8)");
  cmd.add_option("--position", position, alias + "position: where the module acts: attn (default), mlp, both, qkv");
  cmd.add_option("--strategy", strategy,
                 alias + "strategy: salient (top-K class-aware score, default), insalient, random, dataset (not "
                         "class-aware)");
  cmd.add_option("--blocks", blocks, alias + "blocks: paper (default: every block of a ViT; a Swin's last 9 of stage 3 and both of stage 4), all, last:N or i,j,... (numbered in forward order across a Swin's stages)");
  cmd.add_flag("--reference-mlp-site", reference_mlp_site,
               alias + "reference_mlp_site: position mlp ranks channels on the block output, as the public code does");
  cmd.add_option("--select-batch", select_batch, "batch size of the selection pass")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  if (!with_module) return;
  cmd.add_option("--scale", scale,
                 "sct's option scale: none (the released ViT code), recipe (the task recipe's scale and scale_on_x, "
                 "as the Swin code applies them), or a number (default: recipe on a Swin where the task has a "
                 "recipe, else none)");
  cmd.add_flag("--scale-on-x", scale_on_x, "sct's option scale_on_x: scale the selected channels (Swin code)");
  cmd.add_option("--selection", selection, "sct's option selection: a file from sct select (skips selecting)")
      ->check(CLI::ExistingFile);
}

nlohmann::json MethodFlags::config(std::ostream& log) const {
  std::vector<std::string> all = options;
  const auto takes = [&](const char* key) {
    if (peft_method_has_option(method, key)) return true;
    log << "note: method " << method << " has no option " << key << "; its flag is not used for this run\n";
    return false;
  };
  const auto alias = [&](const char* key, const std::string& value) {
    if (!value.empty() && takes(key)) all.push_back(std::string(key) + "=" + value);
  };
  alias("k", k);
  alias("position", position);
  alias("strategy", strategy);
  alias("blocks", blocks);
  if (reference_mlp_site) alias("reference_mlp_site", "true");
  alias("scale", scale == "none" ? "null" : scale);  // unset: with_paper_scale() decides
  if (scale_on_x) alias("scale_on_x", "true");
  else if (scale == "recipe") alias("scale_on_x", "recipe");
  nlohmann::json config = method_config(method, all);
  if (!selection.empty() && takes("selection")) config["selection"] = Selection::load(selection).to_json();
  return config;
}

}  // namespace sct::cli
