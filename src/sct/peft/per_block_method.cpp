#include "sct/peft/per_block_method.h"

namespace sct {

PerBlockMethod::PerBlockMethod(nlohmann::json config, HookFactory make_hook, ModelHookFactory make_model_hook)
    : config_(std::move(config)), make_hook_(std::move(make_hook)), make_model_hook_(std::move(make_model_hook)) {}

void PerBlockMethod::attach(BackboneImpl& model) {
  freeze_all_but_head(model);
  const auto options = at::TensorOptions().device(model.device()).dtype(at::kFloat);  // fp32 master tensors
  if (make_model_hook_) model.attach(name(), make_model_hook_(model, options));
  for (int64_t i = 0; i < model.depth(); ++i) model.block(i).attach(name(), make_hook_(model, i, options));
}

}  // namespace sct
