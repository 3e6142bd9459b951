#include "sct/data/preprocess.h"

#include "sct/core/error.h"
#include "sct/data/image_cache.h"

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

}  // namespace sct
