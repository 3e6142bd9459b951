// NOAH's few-shot benchmark (FGVC-Aircraft, Food-101, Oxford-Flowers-102, Oxford-Pets, Stanford Cars)
// and its ImageNet 16-shot training set for domain generalisation:
//
//   <root>/annotations/train_meta.list.num_shot_{1,2,4,8,16}.seed_{0,1,2}
//   <root>/annotations/val_meta.list, test_meta.list
//
// Lines are "relative/path label" (split on the last space). NOAH (lib/datasets.py,
// general_dataset_few_shot) resolves the paths against <root>/images for the five FGVC datasets,
// against <root> itself for Stanford Cars, and for ImageNet against <root>/train (the shot lists and
// unofficial_val_list_4_shot16seed0, its validation list) and <root>/val (val_meta.list, its test set).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sct/data/list_file.h"

namespace sct {

struct FewShotDataset {
  std::string name;                  // canonical, e.g. "fgvc-aircraft"
  std::vector<std::string> aliases;  // NOAH's folder and --data-set spellings, e.g. "fgvc_aircraft"
  int64_t num_classes = 0;
};

// The five FGVC datasets of the paper's few-shot figure, then imagenet.
const std::vector<FewShotDataset>& few_shot_datasets();
// By canonical name or alias; nullptr for a folder of another name.
const FewShotDataset* find_few_shot_dataset(const std::string& name_or_alias);
// Whether `root` holds NOAH's few-shot lists (annotations/train_meta.list.num_shot_*).
bool is_few_shot_root(const std::string& root);

std::string few_shot_train_list(const std::string& root, int shots, int seed);
std::string few_shot_val_list(const std::string& root);
std::string few_shot_test_list(const std::string& root);

struct FewShotSplits {
  std::vector<ImageRecord> train;  // K images per class (oxford-pets 1-shot: every line twice, kept)
  std::vector<ImageRecord> val;    // empty when the dataset has no validation list
  std::vector<ImageRecord> test;
};

// Reads the lists of `root`, whose folder name says which dataset it is (above); labels must lie in
// [0, num_classes). image_root "" resolves paths as NOAH does; another value resolves every list
// against it. Errors as read_image_list (a missing list names its path).
FewShotSplits open_few_shot(const std::string& root, int shots, int seed, int64_t num_classes,
                            const std::string& image_root = "");

}  // namespace sct
