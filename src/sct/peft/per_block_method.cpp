#include "sct/peft/per_block_method.h"

namespace sct {

PerBlockMethod::PerBlockMethod(nlohmann::json config, HookFactory make_hook, ModelHookFactory make_model_hook)
    : config_(std::move(config)), make_hook_(std::move(make_hook)), make_model_hook_(std::move(make_model_hook)) {}

void PerBlockMethod::attach(VisionTransformerImpl& model) {
  freeze_all_but_head(model);
  const auto options = at::TensorOptions().device(model.pos_embed.device()).dtype(model.pos_embed.scalar_type());
  if (make_model_hook_) model.attach(name(), make_model_hook_(model.config(), options));
  for (int64_t i = 0; i < model.depth(); ++i) model.block(i).attach(name(), make_hook_(model.config(), i, options));
}

}  // namespace sct
