#include "sct/model/batch_shard.h"

#include <atomic>
#include <string>

#include "sct/core/error.h"

namespace sct {
namespace {

std::atomic<int64_t> g_offset{0};
std::atomic<int64_t> g_global{0};

}  // namespace

void set_batch_shard(const BatchShard& shard) {
  g_offset = shard.offset;
  g_global = shard.global;
}

BatchShard batch_shard() { return BatchShard{g_offset.load(), g_global.load()}; }

at::Tensor keep_noise(std::vector<int64_t> shape, double keep, const at::TensorOptions& options) {
  const BatchShard shard = batch_shard();
  const int64_t rows = shape.at(0);
  if (shard.global == 0) return at::empty(shape, options).bernoulli_(keep).div_(keep);
  if (shard.offset < 0 || shard.offset + rows > shard.global)
    throw Error("batch shard: rows [" + std::to_string(shard.offset) + ", " + std::to_string(shard.offset + rows) +
                ") are outside a global batch of " + std::to_string(shard.global));
  shape[0] = shard.global;
  return at::empty(shape, options).bernoulli_(keep).div_(keep).narrow(0, shard.offset, rows);
}

}  // namespace sct
