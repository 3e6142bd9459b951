#include "sct/data/eval_stream.h"

#include <ATen/ops/empty.h>

#include <algorithm>

#include "sct/core/error.h"

namespace sct {

namespace {

const EvalStreamOptions& checked(const EvalStreamOptions& o) {
  if (o.batch_size < 1 || o.chunk_images < 1 || o.image_size < 1)
    throw Error("EvalStream: batch size, chunk size and image size must be at least 1");
  return o;
}

}  // namespace

EvalStream::EvalStream(std::vector<ImageRecord> records, EvalStreamOptions options)
    : records_(std::move(records)),
      options_(checked(options)),
      table_(options_.normalization),
      image_pool_({options_.batch_size, 3, options_.image_size, options_.image_size}, at::kFloat, 4) {
  if (records_.empty()) throw Error("EvalStream: no images to evaluate");
  const int64_t b = options_.batch_size;
  options_.chunk_images = (options_.chunk_images + b - 1) / b * b;
  start_chunk(0);
}

EvalStream::~EvalStream() {
  if (pending_.valid()) pending_.wait();
}

void EvalStream::start_chunk(int64_t begin) {
  next_begin_ = begin;
  if (begin >= num_records()) return;
  const int64_t end = std::min(begin + options_.chunk_images, num_records());
  pending_ = std::async(std::launch::async, [this, begin, end] {
    const std::vector<ImageRecord> slice(records_.begin() + begin, records_.begin() + end);
    return ImageCache::from_records(slice, options_.image_size, options_.cache);
  });
}

bool EvalStream::next(Batch& batch) {
  while (chunk_pos_ >= chunk_.num_images()) {
    if (!pending_.valid()) return false;  // every chunk consumed
    chunk_ = pending_.get();              // rethrows a decoding error
    chunk_begin_ = next_begin_;
    chunk_pos_ = 0;
    skipped_.insert(skipped_.end(), chunk_.skipped().begin(), chunk_.skipped().end());
    start_chunk(chunk_begin_ + options_.chunk_images);
  }
  const int64_t count = std::min(options_.batch_size, chunk_.num_images() - chunk_pos_);
  batch.images = image_pool_.acquire(count);
  chunk_.normalize_into(table_, chunk_pos_, count, batch.images.data_ptr<float>());
  batch.labels = chunk_.label_tensor(chunk_pos_, count);
  batch.indices = at::empty({count}, at::kLong);
  int64_t* idx = batch.indices.data_ptr<int64_t>();
  for (int64_t i = 0; i < count; ++i) idx[i] = chunk_begin_ + chunk_.source_indices()[chunk_pos_ + i];
  chunk_pos_ += count;
  return true;
}

}  // namespace sct
