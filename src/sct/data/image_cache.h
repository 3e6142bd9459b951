// Every image of a split decoded and resized once, kept as uint8 at model resolution:
// N x S x S x 3 bytes (1000 images at 224: 150 MB), so that each training epoch only gathers,
// augments and normalises, instead of decoding JPEGs again.
//
// Building decodes and resizes (PIL-exact bicubic, pil_resize.h) on a thread pool; image i always lands
// in slot i, so the cache is identical for any thread count.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <opencv2/core/mat.hpp>
#include <string>
#include <vector>

#include "sct/data/image_set.h"
#include "sct/data/list_file.h"
#include "sct/data/normalize.h"

namespace sct {

struct CacheOptions {
  int threads = 0;  // decode / resize threads; <= 0: every available CPU
  // Leave out images that cannot be read or decoded (missing, corrupt, truncated), keeping one message
  // per image in skipped(), instead of throwing. Other errors (labels, lists) are never skipped.
  bool skip_bad_images = false;
};

class ImageCache {
 public:
  ImageCache() = default;

  // Decodes records[i].path, converts to RGB and resizes to size x size. Throws sct::Error naming the
  // image and its list line for the first (lowest-index) bad image, unless skip_bad_images (then the
  // cache may even be empty: callers decide whether that is an error; BatchLoader refuses it).
  static ImageCache from_records(const std::vector<ImageRecord>& records, int64_t size,
                                 const CacheOptions& options = {});

  // Resizes in-memory RGB images (already decoded) to size x size.
  static ImageCache from_images(const ImageSet& set, int64_t size, int threads = 0);

  int64_t num_images() const { return static_cast<int64_t>(labels_.size()); }
  int64_t image_size() const { return size_; }  // S
  size_t bytes() const { return pixels_.size(); }

  // Image i: S x S x 3 bytes, RGB, row-major. Valid while the cache lives.
  const uint8_t* pixels(int64_t i) const { return pixels_.data() + static_cast<size_t>(i) * image_bytes(); }
  // A read-only CV_8UC3 view of image i (RGB order; do not write through it).
  cv::Mat view(int64_t i) const;

  int64_t label(int64_t i) const { return labels_[i]; }
  const std::vector<int64_t>& labels() const { return labels_; }
  // Index of image i in the records / ImageSet it was built from (differs once images were skipped).
  const std::vector<int64_t>& source_indices() const { return sources_; }
  // One message per image left out by skip_bad_images (empty otherwise).
  const std::vector<std::string>& skipped() const { return skipped_; }

  // Images [begin, begin + count) normalised to a float32 (count, 3, S, S) tensor.
  at::Tensor normalized(const Normalization& norm, int64_t begin, int64_t count) const;
  // The same into `out`: count * 3 * S * S floats, e.g. a recycled batch tensor (tensor_pool.h).
  void normalize_into(const NormalizeTable& table, int64_t begin, int64_t count, float* out) const;
  // Labels [begin, begin + count) as an int64 (count,) tensor.
  at::Tensor label_tensor(int64_t begin, int64_t count) const;

 private:
  size_t image_bytes() const { return static_cast<size_t>(size_ * size_ * 3); }

  int64_t size_ = 0;
  std::vector<uint8_t> pixels_;   // (N, S, S, 3)
  std::vector<int64_t> labels_;   // (N)
  std::vector<int64_t> sources_;  // (N)
  std::vector<std::string> skipped_;
};

}  // namespace sct
