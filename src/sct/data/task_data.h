// The data of one task, from what the user has:
//   - a VTAB-1K root as NOAH extracts it (--data ROOT --task NAME; vtab_task.h), or one such task
//     folder (--data ROOT/NAME);
//   - image folders with splits: ROOT/train/<class>/*, and optionally ROOT/val/<class>/* and
//     ROOT/test/<class>/* (torchvision's ImageFolder per split; classes are train's folder names);
//   - image folders without splits: ROOT/<class>/*, split per class by seeded fractions
//     (TaskSource::split, default 0.8 train, 0.1 val, 0.1 test);
//   - nothing: fashion-mnist-1k, drawn in memory from Debian's Fashion-MNIST.
// Splits map onto VTAB-1K's: train800 = train, val200 = val, train800val200 = train + val, test = test.
#pragma once
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "sct/data/eval_source.h"
#include "sct/data/fashion_mnist_1k.h"
#include "sct/data/image_cache.h"
#include "sct/data/vtab_task.h"

namespace sct {

struct TaskSource {
  std::string task;         // a VTAB task under `data`, fashion-mnist-1k; "" when `data` is one dataset
  std::string data;         // where the data is (above); "" for fashion-mnist-1k
  int64_t num_classes = 0;  // > 0: a VTAB task outside the registry, or a check of the folders' count
  std::vector<double> split = {0.8, 0.1, 0.1};  // train, val, test fractions of an unsplit class folder
  uint64_t split_seed = 0;                      // which images of each class go where
  bool skip_bad_images = false;                 // leave out unreadable images (counted) instead of failing
};

// Whether `root` holds VTAB task `task` (under its name or an alias).
bool has_vtab_task(const std::string& root, const std::string& task);

class TaskData {
 public:
  // Detects the layout and says what it found on `log`. Throws sct::Error naming the folder for data
  // it cannot read (no classes, an empty class, a class only in val or test, a count other than
  // source.num_classes, fractions that leave a class no training image).
  TaskData(const TaskSource& source, std::ostream& log);

  const std::string& name() const { return name_; }
  int64_t num_classes() const { return int64_t(class_names_.size()); }
  const std::vector<std::string>& class_names() const { return class_names_; }  // "0", "1", ... if unnamed
  const std::string& layout() const { return layout_; }  // what was detected, in words

  // A split decoded and resized to `size` (PIL bicubic), held in memory.
  std::shared_ptr<const ImageCache> cache(VtabSplit split, int64_t size) const;
  // A split for evaluation: in memory for the built-in task, streamed from disk otherwise.
  std::shared_ptr<EvalSource> eval_source(VtabSplit split, int64_t size, const Normalization& normalization,
                                          int64_t batch_size) const;
  // Images left out so far by skip_bad_images: every cache made, and the last pass of every stream.
  int64_t skipped_images() const;

 private:
  std::string name_, layout_;
  std::vector<std::string> class_names_;
  std::function<std::vector<ImageRecord>(VtabSplit)> records_;  // disk tasks: a split's images
  std::shared_ptr<FashionMnist1k> builtin_;                      // fashion-mnist-1k without --data
  bool skip_bad_images_ = false;
  std::ostream* log_ = nullptr;
  mutable int64_t skipped_in_caches_ = 0;
  mutable std::vector<std::shared_ptr<StreamEvalSource>> streams_;
};

}  // namespace sct
