#include "sct/data/eval_source.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <string>
#include <utility>

#include "sct/core/error.h"

namespace sct {

CacheEvalSource::CacheEvalSource(std::shared_ptr<const ImageCache> cache, const Normalization& normalization,
                                 int64_t batch_size)
    : cache_(std::move(cache)), normalization_(normalization), batch_size_(batch_size) {
  if (!cache_ || cache_->num_images() == 0) throw Error("evaluation set is empty");
  if (batch_size_ < 1) throw Error("evaluation batch size must be >= 1, got " + std::to_string(batch_size_));
}

void CacheEvalSource::for_each_batch(const std::function<void(const Batch&)>& visit, const Shard& shard) {
  const auto [first, n] = shard.range(cache_->num_images());
  for (int64_t begin = first; begin < n; begin += batch_size_) {
    const int64_t count = std::min(batch_size_, n - begin);
    Batch batch;
    batch.images = cache_->normalized(normalization_, begin, count);
    batch.labels = cache_->label_tensor(begin, count);
    batch.indices = at::arange(begin, begin + count, at::kLong);
    visit(batch);
  }
}

StreamEvalSource::StreamEvalSource(std::vector<ImageRecord> records, EvalStreamOptions options)
    : records_(std::move(records)), options_(std::move(options)) {
  if (records_.empty()) throw Error("evaluation list is empty");
}

void StreamEvalSource::for_each_batch(const std::function<void(const Batch&)>& visit, const Shard& shard) {
  const auto [first, end] = shard.range(num_images());
  skipped_.clear();
  if (first == end) return;
  // Copies the list: each pass decodes from the start.
  EvalStream stream(std::vector<ImageRecord>(records_.begin() + first, records_.begin() + end), options_);
  Batch batch;
  while (stream.next(batch)) visit(batch);
  skipped_ = stream.skipped();
}

}  // namespace sct
