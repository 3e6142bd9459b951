// Per-sample noise under data parallelism: a rank's rows of a global batch get exactly the draws those
// rows get when one process holds the whole batch, and outside a shard the draws are PyTorch's dropout's.
#include "sct/model/batch_shard.h"

#include <gtest/gtest.h>

#include "sct/core/error.h"
#include "sct/data/shard.h"
#include "sct/model/drop_path.h"

namespace sct {
namespace {

TEST(BatchShard, RanksDrawTheirRowsOfTheWholeBatchsNoise) {
  const std::vector<int64_t> shape = {10, 4, 3};
  at::manual_seed(5);
  const at::Tensor whole = keep_noise(shape, 0.7, at::kFloat);
  // PyTorch's dropout: noise = empty_like(x).bernoulli_(1 - p).div_(1 - p).
  at::manual_seed(5);
  EXPECT_TRUE(whole.equal(at::empty(shape, at::kFloat).bernoulli_(0.7).div_(0.7)));
  const Shard three{0, 3};
  for (int64_t r = 0; r < 3; ++r) {
    const auto [first, end] = Shard{r, three.count}.range(10);
    std::vector<int64_t> local = shape;
    local[0] = end - first;
    at::manual_seed(5);
    const BatchShardScope scope({first, 10});
    EXPECT_TRUE(keep_noise(local, 0.7, at::kFloat).equal(whole.narrow(0, first, end - first))) << "rank " << r;
  }
  EXPECT_EQ(batch_shard().global, 0);  // the scope restored the whole batch
  const BatchShardScope outside({8, 10});
  EXPECT_THROW(keep_noise(shape, 0.7, at::kFloat), Error);
}

TEST(BatchShard, DropPathOfAShardEqualsTheWholeBatchsRows) {
  const at::Tensor branch = at::randn({6, 5, 4});
  at::manual_seed(11);
  const at::Tensor whole = drop_path(branch, 0.5, /*training=*/true);
  at::manual_seed(11);
  const BatchShardScope scope({2, 6});
  EXPECT_TRUE(drop_path(branch.narrow(0, 2, 3), 0.5, true).equal(whole.narrow(0, 2, 3)));
}

TEST(Shard, PiecesAreContiguousBalancedAndCoverEverything) {
  for (int64_t n : {0, 1, 7, 64, 1000})
    for (int64_t count : {1, 2, 3, 8}) {
      int64_t next = 0;
      for (int64_t r = 0; r < count; ++r) {
        const auto [first, end] = Shard{r, count}.range(n);
        EXPECT_EQ(first, next);
        EXPECT_LE(end - first, n / count + 1);
        EXPECT_GE(end - first, n / count);
        next = end;
      }
      EXPECT_EQ(next, n);
    }
}

}  // namespace
}  // namespace sct
