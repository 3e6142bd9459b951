// Many tasks on one frozen backbone in one forward pass. A TaskRouter stands in, in every block and at
// the model's own sites, for the hooks of every task served; a batch is ordered by task, and each
// task's hooks see only the rows of its own images: the same (b, N, D) tensors they would see in a
// batch of their own. For SCT that is each image's own K x K linear on its own task's channels.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "sct/model/block_hook.h"

namespace sct {

// Rows [begin, begin + count) of a batch belong to task `task` (an id of MultiTaskModel).
struct RowRange {
  int64_t task = 0;
  int64_t begin = 0, count = 0;
};
// The batch being run: ranges in row order, covering every row once. Shared by all routers of a model.
using TaskRouting = std::vector<RowRange>;

class TaskRouterImpl : public BlockHookImpl {
 public:
  explicit TaskRouterImpl(std::shared_ptr<const TaskRouting> routing) : routing_(std::move(routing)) {}

  // The hooks task `task` attached at this place, in attachment order. Re-attach the router after a
  // change, so that its owner's chain sees the new sites().
  void set_hooks(int64_t task, const std::vector<std::shared_ptr<BlockHookImpl>>& hooks);
  void remove(int64_t task) { chains_.erase(task); }
  bool empty() const { return chains_.empty(); }

  uint32_t sites() const override;
  // A routing of one range hands the whole tensor to that task's hooks (which may then change the
  // token count, as VPT's do); with several ranges, each range's rows go through its task's hooks and the
  // results are joined in row order.
  at::Tensor apply(HookSite site, const at::Tensor& input, at::Tensor output) override;

 private:
  std::shared_ptr<const TaskRouting> routing_;
  std::map<int64_t, HookChain> chains_;
};
TORCH_MODULE(TaskRouter);

}  // namespace sct
