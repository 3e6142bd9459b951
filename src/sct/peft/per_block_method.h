// A PEFT method made of one hook per block (LoRA, Adapter, AdaptFormer, SSF, VPT), and optionally one
// on the model itself (SSF's patch-embedding and final-norm sites): the backbone is frozen, the head
// and the hooks train. The method's options are its config(), so a task folder
// rebuilds it; the hooks hold no state beyond their parameters.
#pragma once
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "sct/model/block_hook.h"
#include "sct/peft/peft_method.h"

namespace sct {

class PerBlockMethod : public PeftMethod {
 public:
  // Builds the hook of `model`'s block `index` (its width: model.block(index).width()), with parameters
  // placed by `options`.
  using HookFactory = std::function<std::shared_ptr<BlockHookImpl>(BackboneImpl& model, int64_t index,
                                                                   const at::TensorOptions& options)>;
  // Builds the model-level hook, for the sites around the blocks.
  using ModelHookFactory =
      std::function<std::shared_ptr<BlockHookImpl>(BackboneImpl& model, const at::TensorOptions& options)>;
  // `config`: {"name": ..., options...}; the hook is attached to every block as "<name>", and the
  // model-level hook, when there is a factory for it, to the model as "<name>".
  PerBlockMethod(nlohmann::json config, HookFactory make_hook, ModelHookFactory make_model_hook = nullptr);

  std::string name() const override { return config_.at("name").get<std::string>(); }
  void attach(BackboneImpl& model) override;
  nlohmann::json config() const override { return config_; }

 private:
  nlohmann::json config_;
  HookFactory make_hook_;
  ModelHookFactory make_model_hook_;
};

}  // namespace sct
