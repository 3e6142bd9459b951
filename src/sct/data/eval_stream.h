// Evaluation over an image list of any size, in order, without holding it whole: images are decoded
// and resized `chunk_images` at a time (on the thread pool), and the next chunk is prepared in the
// background while the caller runs the model on the current one. Memory: two chunks of S x S x 3
// bytes (1024 images at 224: 2 x 154 MB) whatever the list length (ImageNet-Sketch: 50,889 images).
//
//   EvalStream stream(task.read_split(VtabSplit::Test), {});
//   Batch batch;
//   while (stream.next(batch)) correct += (model(batch.images).argmax(1) == batch.labels).sum().item<int64_t>();
#pragma once
#include <cstdint>
#include <future>
#include <string>
#include <vector>

#include "sct/data/batch_loader.h"
#include "sct/data/image_cache.h"
#include "sct/data/list_file.h"
#include "sct/data/normalize.h"
#include "sct/data/tensor_pool.h"

namespace sct {

struct EvalStreamOptions {
  int64_t image_size = 224;
  int64_t batch_size = 64;
  int64_t chunk_images = 1024;  // rounded up to a multiple of batch_size
  Normalization normalization;
  CacheOptions cache;  // threads, skip_bad_images
};

class EvalStream {
 public:
  // Starts decoding the first chunk at once. Throws sct::Error for an empty list or sizes < 1.
  EvalStream(std::vector<ImageRecord> records, EvalStreamOptions options);
  ~EvalStream();                           // waits for a chunk still being decoded
  EvalStream(const EvalStream&) = delete;  // the background decode refers to this object
  EvalStream& operator=(const EvalStream&) = delete;

  int64_t num_records() const { return static_cast<int64_t>(records_.size()); }

  // The next batch in list order (batch.indices: positions in the record list). Batches never span
  // two chunks, so with skipped images a chunk's last batch may be short. False after the last batch.
  // Rethrows decoding errors (naming the image and its list line) when they are reached.
  bool next(Batch& batch);

  // Messages of the images skipped so far (skip_bad_images).
  const std::vector<std::string>& skipped() const { return skipped_; }

 private:
  void start_chunk(int64_t begin);

  std::vector<ImageRecord> records_;
  EvalStreamOptions options_;
  NormalizeTable table_;
  TensorPool image_pool_;    // recycled (batch, 3, S, S) buffers
  ImageCache chunk_;         // the chunk being consumed
  int64_t chunk_begin_ = 0;  // its first record
  int64_t chunk_pos_ = 0;    // next cached image of it to hand out
  int64_t next_begin_ = 0;   // first record of the chunk being prepared
  std::future<ImageCache> pending_;
  std::vector<std::string> skipped_;
};

}  // namespace sct
