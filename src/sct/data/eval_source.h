// A labelled evaluation set that can be walked from its start any number of times (every
// eval_every epochs): a decoded ImageCache (small sets: val200, VTAB test lists) or an image list
// streamed through a fresh EvalStream per pass (sets too large to hold: ImageNet-Sketch).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "sct/data/batch_loader.h"
#include "sct/data/eval_stream.h"
#include "sct/data/image_cache.h"
#include "sct/data/list_file.h"
#include "sct/data/normalize.h"
#include "sct/data/shard.h"

namespace sct {

class EvalSource {
 public:
  virtual ~EvalSource() = default;
  virtual int64_t num_images() const = 0;
  // Calls `visit` with every batch in order (CPU tensors: images (B, 3, S, S) float, labels (B) int64);
  // of a data-parallel shard's contiguous piece of the set only.
  virtual void for_each_batch(const std::function<void(const Batch&)>& visit, const Shard& shard = Shard{}) = 0;
};

class CacheEvalSource : public EvalSource {
 public:
  // Throws sct::Error for an empty cache or batch_size < 1.
  CacheEvalSource(std::shared_ptr<const ImageCache> cache, const Normalization& normalization, int64_t batch_size);
  int64_t num_images() const override { return cache_->num_images(); }
  void for_each_batch(const std::function<void(const Batch&)>& visit, const Shard& shard = Shard{}) override;

 private:
  std::shared_ptr<const ImageCache> cache_;
  Normalization normalization_;
  int64_t batch_size_;
};

class StreamEvalSource : public EvalSource {
 public:
  StreamEvalSource(std::vector<ImageRecord> records, EvalStreamOptions options);
  int64_t num_images() const override { return static_cast<int64_t>(records_.size()); }
  void for_each_batch(const std::function<void(const Batch&)>& visit, const Shard& shard = Shard{}) override;
  // Images the last complete pass left out (options.cache.skip_bad_images), one message each.
  const std::vector<std::string>& skipped() const { return skipped_; }

 private:
  std::vector<ImageRecord> records_;
  EvalStreamOptions options_;
  std::vector<std::string> skipped_;
};

}  // namespace sct
