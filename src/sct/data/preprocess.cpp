#include "sct/data/preprocess.h"

#include "sct/core/error.h"
#include "sct/data/image_cache.h"
#include "sct/data/image_decode.h"
#include "sct/data/image_set.h"

namespace sct {

at::Tensor preprocess_image_files(const std::vector<std::string>& paths, int64_t size,
                                  const Normalization& normalization, int threads) {
  if (paths.empty()) throw Error("no images to preprocess");
  std::vector<ImageRecord> records;
  records.reserve(paths.size());
  for (const auto& p : paths) records.push_back({p, 0, ""});
  CacheOptions options;
  options.threads = threads;
  const ImageCache cache = ImageCache::from_records(records, size, options);
  return cache.normalized(normalization, 0, cache.num_images());
}

at::Tensor preprocess_image_bytes(const uint8_t* data, size_t bytes, const std::string& name, int64_t size,
                                  const Normalization& normalization) {
  ImageSet set;
  set.images.push_back(decode_image_rgb(data, bytes, name));
  set.labels.push_back(0);
  const ImageCache cache = ImageCache::from_images(set, size, /*threads=*/1);
  return cache.normalized(normalization, 0, 1)[0];
}

}  // namespace sct
