#include "sct/peft/merge.h"

#include <memory>

#include "sct/core/error.h"

namespace sct {

namespace {

// `module`'s hook `name`, if it can be folded; throws naming `where` otherwise.
std::shared_ptr<BlockHookImpl> mergeable_hook(const std::shared_ptr<BlockHookImpl>& hook, const std::string& name,
                                              const std::string& where) {
  if (!hook->mergeable())
    throw Error(where + ": the '" + name + "' modules cannot be merged into the backbone (lora, ssf and bias can)");
  return hook;
}

}  // namespace

void merge_hooks(BackboneImpl& model) {
  // Every hook is checked before any is folded, so that a refusal leaves the model as it was.
  std::vector<std::shared_ptr<BlockHookImpl>> model_hooks;
  for (const std::string& name : model.hook_names()) model_hooks.push_back(mergeable_hook(model.hook(name), name, "model"));
  std::vector<std::pair<BlockImpl*, std::shared_ptr<BlockHookImpl>>> hooks;
  for (int64_t i = 0; i < model.depth(); ++i) {
    BlockImpl& block = model.block(i);
    for (const std::string& name : block.hook_names())
      hooks.emplace_back(&block, mergeable_hook(block.hook(name), name, "block " + std::to_string(i)));
  }
  for (auto& hook : model_hooks) hook->merge_into_model(model);
  for (auto& [block, hook] : hooks) hook->merge_into(*block);
  model.detach_all();
}

}  // namespace sct
