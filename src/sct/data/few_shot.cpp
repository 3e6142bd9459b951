#include "sct/data/few_shot.h"

#include <filesystem>

namespace fs = std::filesystem;

namespace sct {

std::string few_shot_train_list(const std::string& root, int shots, int seed) {
  return (fs::path(root) / "annotations" /
          ("train_meta.list.num_shot_" + std::to_string(shots) + ".seed_" + std::to_string(seed)))
      .string();
}

std::string few_shot_val_list(const std::string& root) {
  return (fs::path(root) / "annotations" / "val_meta.list").string();
}

std::string few_shot_test_list(const std::string& root) {
  return (fs::path(root) / "annotations" / "test_meta.list").string();
}

FewShotSplits open_few_shot(const std::string& root, int shots, int seed, int64_t num_classes,
                            const std::string& image_root) {
  const std::string images = image_root.empty() ? (fs::path(root) / "images").string() : image_root;
  const ListOptions options{num_classes};
  FewShotSplits s;
  s.train = read_image_list(few_shot_train_list(root, shots, seed), images, options);
  s.val = read_image_list(few_shot_val_list(root), images, options);
  s.test = read_image_list(few_shot_test_list(root), images, options);
  return s;
}

}  // namespace sct
