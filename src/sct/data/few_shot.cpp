#include "sct/data/few_shot.h"

#include <algorithm>
#include <filesystem>

namespace fs = std::filesystem;

namespace sct {

const std::vector<FewShotDataset>& few_shot_datasets() {
  static const std::vector<FewShotDataset> datasets = {
      {"fgvc-aircraft", {"fgvc_aircraft"}, 100},
      {"food-101", {"food101", "food_101"}, 101},
      {"oxford-flowers102", {"oxford_flowers", "oxford-flowers", "oxford_flowers102"}, 102},
      {"oxford-pets", {"oxford_pets"}, 37},
      {"stanford-cars", {"stanford_cars"}, 196},
      {"imagenet", {"imagenet-1k"}, 1000},
  };
  return datasets;
}

const FewShotDataset* find_few_shot_dataset(const std::string& name_or_alias) {
  for (const FewShotDataset& d : few_shot_datasets())
    if (d.name == name_or_alias ||
        std::find(d.aliases.begin(), d.aliases.end(), name_or_alias) != d.aliases.end())
      return &d;
  return nullptr;
}

bool is_few_shot_root(const std::string& root) {
  const fs::path annotations = fs::path(root) / "annotations";
  std::error_code ec;
  if (!fs::is_directory(annotations, ec)) return false;
  for (const auto& entry : fs::directory_iterator(annotations, ec))
    if (entry.path().filename().string().rfind("train_meta.list.num_shot_", 0) == 0) return true;
  return false;
}

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
  const ListOptions options{num_classes};
  fs::path r = fs::path(root).lexically_normal();
  if (r.filename().empty()) r = r.parent_path();  // "few-shot/oxford_pets/" names oxford_pets
  const FewShotDataset* dataset = find_few_shot_dataset(r.filename().string());
  FewShotSplits s;
  if (image_root.empty() && dataset != nullptr && dataset->name == "imagenet") {
    const std::string train = (r / "train").string();
    s.train = read_image_list(few_shot_train_list(root, shots, seed), train, options);
    const fs::path val = r / "annotations" / "unofficial_val_list_4_shot16seed0";
    if (fs::exists(val)) s.val = read_image_list(val.string(), train, options);
    s.test = read_image_list(few_shot_val_list(root), (r / "val").string(), options);
    return s;
  }
  std::string images = image_root;
  if (images.empty()) images = dataset != nullptr && dataset->name == "stanford-cars" ? root : (r / "images").string();
  s.train = read_image_list(few_shot_train_list(root, shots, seed), images, options);
  if (fs::exists(few_shot_val_list(root))) s.val = read_image_list(few_shot_val_list(root), images, options);
  s.test = read_image_list(few_shot_test_list(root), images, options);
  return s;
}

}  // namespace sct
