#include "sct/peft/sct_method.h"

#include <nlohmann/json.hpp>

#include "sct/core/error.h"

namespace sct {

SctMethod::SctMethod(Selection selection, std::optional<double> scale, bool scale_on_x)
    : selection_(std::move(selection)) {
  options_.position = selection_.position;
  options_.scale = scale;
  options_.scale_on_x = scale_on_x;
  options_.validate();
  if (selection_.parts.size() != sct_parts(options_.position).size())
    throw Error("sct: the selection holds " + std::to_string(selection_.parts.size()) + " parts, position '" +
                options_.position + "' needs " + std::to_string(sct_parts(options_.position).size()));
}

void SctMethod::attach(VisionTransformerImpl& model) {
  const VitConfig& cfg = model.config();
  if (selection_.width != cfg.width || selection_.depth != cfg.depth)
    throw Error("sct: the channel selection was made on a backbone of width " + std::to_string(selection_.width) +
                " and depth " + std::to_string(selection_.depth) + ", the model '" + cfg.name + "' has " +
                std::to_string(cfg.width) + " and " + std::to_string(cfg.depth));
  freeze_all_but_head(model);
  const auto tensor_options = at::TensorOptions().device(model.pos_embed.device()).dtype(model.pos_embed.scalar_type());
  for (size_t b = 0; b < selection_.blocks.size(); ++b)
    model.block(selection_.blocks[b])
        .attach("sct", SctAdapter(cfg.width, selection_.channels(b), options_, tensor_options).ptr());
}

nlohmann::json SctMethod::config() const {
  nlohmann::json selection = selection_.to_json();
  for (auto& part : selection["parts"]) part.erase("scores");  // measurements, not needed to rebuild
  return {{"name", name()},
          {"scale", options_.scale ? nlohmann::json(*options_.scale) : nlohmann::json(nullptr)},
          {"scale_on_x", options_.scale_on_x},
          {"selection", std::move(selection)}};
}

std::unique_ptr<SctMethod> SctMethod::from_config(const nlohmann::json& config) {
  try {
    const nlohmann::json& scale = config.at("scale");
    return std::make_unique<SctMethod>(Selection::from_json(config.at("selection")),
                                       scale.is_null() ? std::nullopt : std::optional<double>(scale.get<double>()),
                                       config.at("scale_on_x").get<bool>());
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("sct method configuration: ") + e.what());
  }
}

int64_t sct_parameter_count(const Selection& selection) {
  int64_t n = 0;
  for (size_t p = 0; p < selection.parts.size(); ++p)
    for (int64_t k : selection.k) n += k * k + k;
  return n;
}

}  // namespace sct
