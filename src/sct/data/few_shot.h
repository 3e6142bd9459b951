// NOAH's few-shot benchmark (FGVC-Aircraft, Food-101, Oxford-Flowers-102, Oxford-Pets, Stanford Cars):
//
//   <root>/annotations/train_meta.list.num_shot_{1,2,4,8,16}.seed_{0,1,2}
//   <root>/annotations/val_meta.list, test_meta.list
//
// Lines are "relative/path label" (split on the last space). NOAH resolves the paths against
// <root>/images for these datasets, against <root> itself for Stanford Cars, and against <root>/train
// and <root>/val for ImageNet -- hence the explicit image root.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sct/data/list_file.h"

namespace sct {

std::string few_shot_train_list(const std::string& root, int shots, int seed);
std::string few_shot_val_list(const std::string& root);
std::string few_shot_test_list(const std::string& root);

struct FewShotSplits {
  std::vector<ImageRecord> train;  // K images per class (oxford-pets 1-shot: every line twice, kept)
  std::vector<ImageRecord> val;
  std::vector<ImageRecord> test;
};

// Reads the three lists; labels must lie in [0, num_classes). image_root "" means <root>/images.
// Errors as read_image_list (a missing list names its path).
FewShotSplits open_few_shot(const std::string& root, int shots, int seed, int64_t num_classes,
                            const std::string& image_root = "");

}  // namespace sct
