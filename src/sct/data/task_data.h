// The data of one task: a VTAB-1K-style task read from NOAH's folder layout (root/name) or, for
// fashion-mnist-1k without a root, drawn in memory from Debian's Fashion-MNIST.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sct/data/fashion_mnist_1k.h"
#include "sct/data/image_cache.h"
#include "sct/data/vtab_task.h"
#include "sct/data/eval_source.h"

namespace sct {

struct TaskSource {
  std::string task;
  std::string data;         // root of the VTAB-1K folders; optional for fashion-mnist-1k
  int64_t num_classes = 0;  // > 0: a task outside the registry, or an override
};

class TaskData {
 public:
  explicit TaskData(const TaskSource& source);

  const std::string& name() const { return name_; }
  int64_t num_classes() const { return num_classes_; }
  std::vector<std::string> class_names() const;  // "0", "1", ... where the task has no names

  // A split decoded and resized to `size` (PIL bicubic), held in memory.
  std::shared_ptr<const ImageCache> cache(VtabSplit split, int64_t size) const;
  // A split for evaluation: in memory for the built-in task, streamed from disk otherwise.
  std::shared_ptr<EvalSource> eval_source(VtabSplit split, int64_t size, const Normalization& normalization,
                                          int64_t batch_size) const;

 private:
  std::string name_;
  int64_t num_classes_ = 0;
  std::optional<VtabTask> disk_;
  std::shared_ptr<FashionMnist1k> builtin_;  // fashion-mnist-1k without --data
};

}  // namespace sct
