#include "sct/data/image_cache.h"

#include <ATen/ops/empty.h>

#include <algorithm>
#include <cstring>

#include "sct/core/error.h"
#include "sct/data/image_decode.h"
#include "sct/data/parallel_for.h"
#include "sct/data/pil_resize.h"

namespace sct {
namespace {

void check_size(int64_t size) {
  if (size <= 0 || size > 8192) throw Error("image size must be in [1, 8192], got " + std::to_string(size));
}

// Resizes an RGB image straight into its cache slot `dst` (size x size x 3 bytes).
void resize_into(const cv::Mat& rgb, int64_t size, uint8_t* dst) {
  const int s = static_cast<int>(size);
  cv::Mat slot(s, s, CV_8UC3, dst);
  pil_resize_bicubic(rgb, slot);
}

}  // namespace

ImageCache ImageCache::from_records(const std::vector<ImageRecord>& records, int64_t size,
                                    const CacheOptions& options) {
  check_size(size);
  const int64_t n = static_cast<int64_t>(records.size());
  ImageCache cache;
  cache.size_ = size;
  cache.pixels_.resize(static_cast<size_t>(n) * cache.image_bytes());
  std::vector<std::string> failures(n);  // empty: image i decoded
  parallel_for(n, options.threads, [&](int64_t i) {
    const ImageRecord& r = records[i];
    try {
      const cv::Mat rgb = decode_image_rgb(r.path, r.origin.empty() ? "" : "listed at " + r.origin);
      resize_into(rgb, size, cache.pixels_.data() + static_cast<size_t>(i) * cache.image_bytes());
    } catch (const Error& e) {
      if (!options.skip_bad_images) throw;
      failures[i] = e.what();
    }
  });

  // Compact in place: image i moves to slot kept (<= i), so one forward pass suffices.
  int64_t kept = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (!failures[i].empty()) {
      cache.skipped_.push_back(std::move(failures[i]));
      continue;
    }
    if (kept != i)
      std::memmove(cache.pixels_.data() + static_cast<size_t>(kept) * cache.image_bytes(),
                   cache.pixels_.data() + static_cast<size_t>(i) * cache.image_bytes(), cache.image_bytes());
    cache.labels_.push_back(records[i].label);
    cache.sources_.push_back(i);
    ++kept;
  }
  cache.pixels_.resize(static_cast<size_t>(kept) * cache.image_bytes());
  cache.pixels_.shrink_to_fit();
  return cache;
}

ImageCache ImageCache::from_images(const ImageSet& set, int64_t size, int threads) {
  check_size(size);
  if (set.images.size() != set.labels.size())
    throw Error("ImageSet has " + std::to_string(set.images.size()) + " images but " +
                std::to_string(set.labels.size()) + " labels");
  const int64_t n = static_cast<int64_t>(set.images.size());
  ImageCache cache;
  cache.size_ = size;
  cache.pixels_.resize(static_cast<size_t>(n) * cache.image_bytes());
  parallel_for(n, threads, [&](int64_t i) {
    const cv::Mat& img = set.images[i];
    if (img.type() != CV_8UC3) throw Error("ImageSet image " + std::to_string(i) + " is not 8-bit RGB (CV_8UC3)");
    resize_into(img, size, cache.pixels_.data() + static_cast<size_t>(i) * cache.image_bytes());
  });
  cache.labels_ = set.labels;
  cache.sources_.resize(n);
  for (int64_t i = 0; i < n; ++i) cache.sources_[i] = i;
  return cache;
}

cv::Mat ImageCache::view(int64_t i) const {
  const int s = static_cast<int>(size_);
  return cv::Mat(s, s, CV_8UC3, const_cast<uint8_t*>(pixels(i)));
}

void ImageCache::normalize_into(const NormalizeTable& table, int64_t begin, int64_t count, float* out) const {
  if (begin < 0 || count < 0 || begin + count > num_images())
    throw Error("ImageCache: range [" + std::to_string(begin) + ", " + std::to_string(begin + count) +
                ") outside the " + std::to_string(num_images()) + " cached images");
  for (int64_t i = 0; i < count; ++i)
    normalize_to_chw(pixels(begin + i), size_, size_, table, out + i * 3 * size_ * size_);
}

at::Tensor ImageCache::normalized(const Normalization& norm, int64_t begin, int64_t count) const {
  at::Tensor x = at::empty({std::max<int64_t>(count, 0), 3, size_, size_}, at::kFloat);
  normalize_into(NormalizeTable(norm), begin, count, x.data_ptr<float>());
  return x;
}

at::Tensor ImageCache::label_tensor(int64_t begin, int64_t count) const {
  if (begin < 0 || count < 0 || begin + count > num_images())
    throw Error("ImageCache::label_tensor: range outside the cached images");
  at::Tensor y = at::empty({count}, at::kLong);
  std::memcpy(y.data_ptr<int64_t>(), labels_.data() + begin, static_cast<size_t>(count) * sizeof(int64_t));
  return y;
}

}  // namespace sct
