// Salient Channel Tuning as a PEFT method (arXiv 2309.08513 §3): the backbone is frozen; one SCT module
// (sct_adapter.h) per selected block and the new head train. The channels come from a Selection
// (channel_selector.h), made once on the training split and stored with the run.
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "sct/peft/channel_selector.h"
#include "sct/peft/peft_method.h"
#include "sct/peft/sct_adapter.h"

namespace sct {

class SctMethod : public PeftMethod {
 public:
  // The position comes from the selection (its channels were ranked at that position's sites).
  explicit SctMethod(Selection selection, std::optional<double> scale = std::nullopt, bool scale_on_x = false);

  std::string name() const override { return "sct"; }
  // Freezes all but the head, then attaches SctAdapter "sct" to each selected block (parameters
  // blocks.<i>.sct.<part>.linear.*, on the model's device and dtype). Throws if the selection was made
  // for another architecture.
  void attach(VisionTransformerImpl& model) override;
  // {"name": "sct", "scale": null | s, "scale_on_x": bool, "selection": the selection without its scores}
  nlohmann::json config() const override;
  static std::unique_ptr<SctMethod> from_config(const nlohmann::json& config);

  const Selection& selection() const { return selection_; }
  const SctAdapterOptions& options() const { return options_; }

 private:
  Selection selection_;
  SctAdapterOptions options_;
};

// Trainable SCT parameters (head excluded): sum over parts and selected blocks of K^2 + K
// (ViT-B/16, K = 96 in all 12 blocks: 12 * (96 * 96 + 96) = 111,744).
int64_t sct_parameter_count(const Selection& selection);

}  // namespace sct
