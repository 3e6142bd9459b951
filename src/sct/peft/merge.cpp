#include "sct/peft/merge.h"

#include <memory>

#include "sct/core/error.h"

namespace sct {

void merge_hooks(VisionTransformerImpl& model) {
  std::vector<std::pair<BlockImpl*, std::shared_ptr<BlockHookImpl>>> hooks;
  for (int64_t i = 0; i < model.depth(); ++i) {
    BlockImpl& block = model.block(i);
    const auto children = block.named_children();
    for (const std::string& name : block.hook_names()) {
      auto hook = std::dynamic_pointer_cast<BlockHookImpl>(children[name]);
      if (!hook || !hook->mergeable())
        throw Error("block " + std::to_string(i) + ": the '" + name +
                    "' modules cannot be merged into the backbone (lora, ssf and bias can)");
      hooks.emplace_back(&block, std::move(hook));
    }
  }
  for (auto& [block, hook] : hooks) hook->merge_into(*block);
  for (int64_t i = 0; i < model.depth(); ++i) model.block(i).detach_all();
}

}  // namespace sct
