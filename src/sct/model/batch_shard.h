// Random draws per sample in training (drop path, dropout) as a function of the sample's place in
// the global batch. A data-parallel rank that holds rows [offset, offset + B) of a global batch of
// `global` rows draws the noise of all of them and keeps its own rows, so every sample gets the draws
// it gets in one process, however many ranks share the batch. The trainer sets the shard for its
// steps; by default (global 0) a batch is whole.
//
// Process-wide rather than per thread: autograd may recompute a block's forward on another thread.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace sct {

struct BatchShard {
  int64_t offset = 0;
  int64_t global = 0;  // 0: the batch is the global batch
};

void set_batch_shard(const BatchShard& shard);
BatchShard batch_shard();

// Sets the shard while it lives and restores the previous one after.
class BatchShardScope {
 public:
  explicit BatchShardScope(const BatchShard& shard) : previous_(batch_shard()) { set_batch_shard(shard); }
  ~BatchShardScope() { set_batch_shard(previous_); }
  BatchShardScope(const BatchShardScope&) = delete;
  BatchShardScope& operator=(const BatchShardScope&) = delete;

 private:
  BatchShard previous_;
};

// Inverted-dropout noise of `shape` (rows first): Bernoulli(keep) / keep, drawn as PyTorch's dropout
// draws it (empty, bernoulli_, div_) over the global batch's rows, this rank's rows returned.
at::Tensor keep_noise(std::vector<int64_t> shape, double keep, const at::TensorOptions& options);

}  // namespace sct
