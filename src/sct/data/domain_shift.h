// NOAH's domain-generalisation test sets: a model trained on ImageNet-1K (16-shot) is evaluated on
// ImageNet-V2 (10,000 images), -Sketch (50,889), -A (7,500) and -R (30,000). Every list labels its
// images in ImageNet-1K's 1000-class index space; A and R cover 200 classes and are scored on those.
//
//   <dataset_dir>/annotations/val_meta.list      lines "imagenet-a/n07753592/0.003773_soap dispenser _ ....jpg 954"
//
// with paths relative to <dataset_dir> (NOAH's data/domain-generalization/<name>/).
#pragma once
#include <string>
#include <vector>

#include "sct/data/class_subset.h"
#include "sct/data/list_file.h"

namespace sct {

struct DomainShiftTest {
  std::string name;                 // canonical: imagenet-v2, imagenet-sketch, imagenet-a, imagenet-r
  std::vector<ImageRecord> images;  // labels in [0, 1000)
  ClassSubset classes;              // the logits to score on: all 1000, or A's / R's 200
};

// `name`: imagenet-v2 (imagenetv2), imagenet-sketch, imagenet-a (imagenet-adversarial), imagenet-r
// (imagenet-rendition). For A and R the scored classes come from `class_subset_file` when given
// (see read_class_subset; every label must be in it), else from the labels the list contains.
// Throws sct::Error for an unknown name, and as read_image_list.
DomainShiftTest open_domain_shift_test(const std::string& dataset_dir, const std::string& name,
                                       const std::string& class_subset_file = "");

}  // namespace sct
