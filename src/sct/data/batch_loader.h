// Training batches from an ImageCache, prepared by background threads while the model computes.
//
// How a trainer uses it:
//
//   auto cache = std::make_shared<const ImageCache>(
//       ImageCache::from_records(task.read_split(VtabSplit::Train800Val200), 224));
//   BatchLoaderOptions opt;                       // batch 64, shuffle, drop_last: the reference recipe
//   opt.seed = 42;
//   opt.hflip = true;                             // tasks with train_aug = 1
//   opt.augment = RandAugment(RandAugmentConfig::parse("rand-m9-mstd0.5-inc1"));   // rand_augment.h
//   BatchLoader loader(cache, opt);
//   for (int64_t epoch = 0; epoch < 100; ++epoch) {
//     loader.start_epoch(epoch);                  // 1000 images -> 15 batches
//     Batch batch;
//     while (loader.next(batch)) train_step(batch.images, batch.labels);   // (64,3,224,224), (64)
//   }
//
// Determinism: the order of epoch e is a shuffle seeded by (seed, e); the sample at position p of the
// epoch gets its own std::mt19937_64 seeded by (seed, e, p), which decides the flip (first draw) and
// then drives the augmentation. Nothing depends on which thread builds which batch, so the batches of
// (seed, epoch) are bit-identical across runs and across `workers` settings.
//
// Batch tensors are recycled (tensor_pool.h) only once nothing references them any more, so a caller
// may keep a batch (or autograd may keep it alive) for as long as it likes.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <opencv2/core/mat.hpp>
#include <random>

#include "sct/data/image_cache.h"
#include "sct/data/normalize.h"
#include "sct/data/shard.h"

namespace sct {

struct Batch {
  at::Tensor images;   // (B, 3, S, S) float32, normalised
  at::Tensor labels;   // (B) int64
  at::Tensor indices;  // (B) int64: positions of the samples in their ImageCache (or record list)
  // A data-parallel shard holds rows [first_row, first_row + B) of a global batch of global_rows.
  int64_t first_row = 0;
  int64_t global_rows = 0;
};

// Augments one image in place: `rgb` is an S x S CV_8UC3 RGB image the callee may modify (it must stay
// S x S x 3); draw every random number from `rng`. Called concurrently from several threads.
using AugmentFn = std::function<void(cv::Mat& rgb, std::mt19937_64& rng)>;

struct BatchLoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = true;    // false: cache order every epoch
  bool drop_last = true;  // drop the final incomplete batch (the reference's 15 steps on 1000 images)
  bool hflip = false;     // mirror each image with probability 0.5, before `augment`
  AugmentFn augment;      // optional, after the flip
  Normalization normalization;
  uint64_t seed = 42;
  int workers = 0;   // background threads; <= 0: min(4, available CPUs)
  int prefetch = 4;  // batches prepared ahead of the consumer (at least `workers`)
  // Data parallelism: every rank walks the same global batches and takes its shard's rows of each;
  // the order and each sample's draws are those of one process.
  Shard shard;
};

class BatchLoader {
 public:
  // Shares ownership of the cache. Throws sct::Error for an empty cache, batch_size < 1, drop_last
  // with fewer images than one batch, or a shard of a batch smaller than its number of ranks.
  BatchLoader(std::shared_ptr<const ImageCache> cache, BatchLoaderOptions options);
  ~BatchLoader();  // stops and joins the workers
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  int64_t batches_per_epoch() const;

  // Starts (or restarts) epoch `epoch`: batches still in flight for a previous epoch are discarded.
  void start_epoch(int64_t epoch);

  // Moves the next batch of the current epoch into `batch`; false once the epoch is exhausted.
  // Blocks only while that batch is still being prepared. Rethrows an exception of the augmentation.
  bool next(Batch& batch);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace sct
