// Salient Channel Tuning as a PEFT method (arXiv 2309.08513 §3): the backbone is frozen; one SCT module
// (sct_adapter.h) per selected block and the new head train. prepare() selects the channels
// (channel_selector.h) once on the task's training split; the selection is stored with the run and
// in the task folder, and a method built from it is ready to attach.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "sct/peft/channel_selector.h"
#include "sct/peft/peft_method.h"
#include "sct/peft/sct_adapter.h"

namespace sct {

// sct's method options (its keys in the method registry; `sct train --k` and the like are aliases).
struct SctOptions {
  // What the selection decides: K per block (KSpec::parse), the module's position, which channels,
  // which blocks (parse_blocks, or "paper": sct_paper_blocks()), and where the mlp part is ranked.
  std::string k = "1/8";
  SctPosition position = SctPosition::Attn;
  ChannelStrategy strategy = ChannelStrategy::Salient;
  std::string blocks = "paper";
  bool reference_mlp_site = false;
  // The module's output scale (none: the released ViT code), or the selected channels' (scale_on_x).
  std::optional<double> scale;
  bool scale_on_x = false;

  nlohmann::json to_json() const;
  bool same_selection_options(const SctOptions& other) const;
};

class SctMethod : public PeftMethod {
 public:
  // Unprepared: prepare() selects the channels.
  explicit SctMethod(SctOptions options);
  // Prepared: the position comes from the selection (its channels were ranked at that position's sites).
  explicit SctMethod(Selection selection, std::optional<double> scale = std::nullopt, bool scale_on_x = false);

  std::string name() const override { return "sct"; }
  bool needs_data() const override { return !selection_; }
  // The CAIS pass over data.train (no augmentation) with a progress line; without data, a seeded random
  // selection of the same K (what sct bench times). A prepared method warns when its selection was
  // measured on another backbone.
  void prepare(const MethodData& data) override;
  // Freezes all but the head, then attaches SctAdapter "sct" to each selected block (parameters
  // blocks.<i>.sct.<part>.linear.*, on the model's device and dtype). Throws if unprepared or if the
  // selection was made for another architecture.
  void attach(BackboneImpl& model) override;
  // Prepared: {"name": "sct", "scale": null | s, "scale_on_x": bool, "selection": the selection without
  // its scores}; unprepared: {"name": "sct", every SctOptions key}.
  nlohmann::json config() const override;
  // <dir>/selection.json (with the scores) and, when there are scores, <dir>/selection.png.
  void write_outputs(const std::string& dir) const override;
  // From config() or registry-completed options; a selection with options it decides throws.
  static std::unique_ptr<SctMethod> from_config(const nlohmann::json& config);

  const Selection& selection() const;  // throws if unprepared
  const SctOptions& options() const { return options_; }

 private:
  SctOptions options_;
  std::optional<Selection> selection_;
};

// The blocks the paper adapts: every block of a ViT; on a Swin the last 9 blocks of the third stage and
// both of the fourth (Swin-B: blocks 13-23 of 0-23, numbered in forward order across stages; a shallower
// third stage gives all of its blocks).
std::vector<int64_t> sct_paper_blocks(const BackboneImpl& model);

// `method` (a registry config, {"name": ..., options}) with the paper's scale where the user set none: on
// a Swin with a task recipe, the recipe's scale and scale_on_x ("recipe", resolved by the task run), as
// the paper's Swin code applies them; unchanged for a ViT (the released ViT code never applies its
// configs' scale), for a task without a recipe, and for any other method. `arch` is a backbone config's.
nlohmann::json with_paper_scale(nlohmann::json method, const std::string& arch, bool task_has_recipe);

// Trainable SCT parameters (head excluded): sum over parts and selected blocks of K^2 + K
// (ViT-B/16, K = 96 in all 12 blocks: 12 * (96 * 96 + 96) = 111,744).
int64_t sct_parameter_count(const Selection& selection);

}  // namespace sct
