// A set of classes inside a larger label space. ImageNet-A and ImageNet-R label their images in
// ImageNet-1K's 1000-class index space but cover only 200 classes; they are scored by taking the
// argmax over those 200 logits only (mask the others to -inf, or index_select the kept columns).
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sct/data/list_file.h"

namespace sct {

struct ClassSubset {
  int64_t num_classes = 0;       // size of the full label space, e.g. 1000
  std::vector<int64_t> indices;  // the kept classes: ascending, unique, each in [0, num_classes)

  bool contains(int64_t c) const;
  at::Tensor mask() const;          // (num_classes,) bool, true for kept classes
  at::Tensor index_tensor() const;  // (K,) int64 = indices, for logits.index_select(1, ...)
};

// Every class of the label space (ImageNet-V2, -Sketch: scored on all 1000).
ClassSubset all_classes(int64_t num_classes);

// The classes that occur as labels in `records`. Throws sct::Error if a label is outside
// [0, num_classes) (naming the record's origin).
ClassSubset classes_present(const std::vector<ImageRecord>& records, int64_t num_classes);

// Reads class indices from a text file: integers separated by spaces, tabs, commas or newlines; '#'
// starts a comment. Throws sct::Error naming the file and line for a token that is not an integer or
// is out of range, and for a file without any index.
ClassSubset read_class_subset(const std::string& path, int64_t num_classes);

}  // namespace sct
