#include "sct/serve/task_router.h"

#include <ATen/ATen.h>

namespace sct {

void TaskRouterImpl::set_hooks(int64_t task, const std::vector<std::shared_ptr<BlockHookImpl>>& hooks) {
  HookChain chain;
  for (const auto& h : hooks) chain.add(h);
  chains_[task] = std::move(chain);
}

uint32_t TaskRouterImpl::sites() const {
  uint32_t mask = 0;
  for (const auto& [task, chain] : chains_)
    for (int s = 0; s < static_cast<int>(HookSite::kCount); ++s)
      if (chain.has(static_cast<HookSite>(s))) mask |= site_bit(static_cast<HookSite>(s));
  return mask;
}

at::Tensor TaskRouterImpl::apply(HookSite site, const at::Tensor& input, at::Tensor output) {
  const TaskRouting& routing = *routing_;
  if (routing.size() == 1) {
    const auto it = chains_.find(routing.front().task);
    return it == chains_.end() ? output : it->second(site, input, std::move(output));
  }
  std::vector<at::Tensor> parts;
  parts.reserve(routing.size());
  bool changed = false;
  for (const RowRange& r : routing) {
    at::Tensor rows = output.narrow(0, r.begin, r.count);
    const auto it = chains_.find(r.task);
    if (it != chains_.end() && it->second.has(site)) {
      at::Tensor result = it->second(site, input.narrow(0, r.begin, r.count), rows);
      changed = changed || !result.is_same(rows);
      rows = std::move(result);
    }
    parts.push_back(std::move(rows));
  }
  return changed ? at::cat(parts, 0) : output;
}

}  // namespace sct
