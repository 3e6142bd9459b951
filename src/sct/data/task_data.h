// The data of one task, from what the user has:
//   - a VTAB-1K root as NOAH extracts it (--data ROOT --task NAME; vtab_task.h), or one such task
//     folder (--data ROOT/NAME);
//   - NOAH's few-shot roots (few_shot.h): --data ROOT/<dataset> --shots K --shot-seed S;
//   - list files: ROOT/{train,val,test}.{txt,csv,list} ("path label", or CSV "path,label"), paths
//     relative to ROOT, other split names mapped by TaskSource::lists; class names from ROOT/classes.txt
//     (one per line) when present;
//   - image folders with splits: ROOT/train/<class>/*, and optionally ROOT/val/<class>/* and
//     ROOT/test/<class>/* (torchvision's ImageFolder per split; classes are train's folder names);
//   - image folders without splits: ROOT/<class>/*, split per class by seeded fractions
//     (TaskSource::split, default 0.8 train, 0.1 val, 0.1 test);
//   - nothing: fashion-mnist-1k, or the whole fashion-mnist, from Debian's Fashion-MNIST, in memory.
// Splits map onto VTAB-1K's: train800 = train, val200 = val, train800val200 = train + val, test = test.
// With shots K (outside NOAH's roots, which list their own draws) the training splits become K images
// per class drawn from train, seeded by shot_seed; val and test stay.
// Every file must lie inside the data root (absolute paths, "../" and symlinks out of it are refused
// unless allow_outside_root); files in both a training split and test are warned about.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sct/data/eval_source.h"
#include "sct/data/image_cache.h"
#include "sct/data/vtab_task.h"
#include "sct/data/vtab_task_writer.h"

namespace sct {

struct TaskSource {
  std::string task;         // a VTAB task under `data`, or a built-in one; "" when `data` is one dataset
  std::string data;         // where the data is (above); "" for the built-in tasks
  int64_t num_classes = 0;  // > 0: a VTAB task outside the registry, or a check of the data's count
  std::vector<double> split = {0.8, 0.1, 0.1};  // train, val, test fractions of an unsplit class folder
  uint64_t split_seed = 0;                      // which images of each class go where
  bool skip_bad_images = false;                 // leave out unreadable images (counted) instead of failing
  int64_t shots = 0;                            // > 0: K training images per class
  int64_t shot_seed = 0;                        // which K: NOAH's list seed, or the draw's seed
  std::vector<std::string> lists = {"train", "val", "test"};  // list-file stems of train, val, test
  bool allow_outside_root = false;                            // files outside --data may be read
  bool check_data = true;  // stat every file of every split at the start (a missing test image is found
                           // before training, not after it)
};

// Whether `root` holds VTAB task `task` (under its name or an alias).
bool has_vtab_task(const std::string& root, const std::string& task);

class TaskData {
 public:
  // Detects the layout and says what it found on `log`. Throws sct::Error naming the folder or list
  // for data it cannot read (no classes, an empty class, a class only in val or test, a count other
  // than source.num_classes, fractions that leave a class no training image, too few images for the
  // shots, a file outside the root, and with check_data a file that is missing or not a regular file,
  // unless skip_bad_images).
  TaskData(const TaskSource& source, std::ostream& log);

  const std::string& name() const { return name_; }
  // Where the images come from, for a run's record: the absolute --data (and --task), or the built-in
  // task's name, with the shots.
  const std::string& origin() const { return origin_; }
  int64_t num_classes() const { return int64_t(class_names_.size()); }
  const std::vector<std::string>& class_names() const { return class_names_; }  // "0", "1", ... if unnamed

  // A split decoded and resized to `size` (PIL bicubic), held in memory.
  std::shared_ptr<const ImageCache> cache(VtabSplit split, int64_t size) const;
  // A split for evaluation: in memory for the built-in tasks, streamed from disk otherwise.
  std::shared_ptr<EvalSource> eval_source(VtabSplit split, int64_t size, const Normalization& normalization,
                                          int64_t batch_size) const;
  // Images left out so far by skip_bad_images: every cache made, and the last pass of every stream.
  int64_t skipped_images() const;

  using Splits = std::map<VtabSplit, std::vector<ImageRecord>>;

 private:
  const std::vector<ImageRecord>& records(VtabSplit split) const;

  std::string name_, data_, origin_;
  std::vector<std::string> class_names_;
  Splits splits_;                        // disk data
  std::shared_ptr<TaskSplits> builtin_;  // the built-in tasks
  bool skip_bad_images_ = false;
  std::ostream* log_ = nullptr;
  mutable int64_t skipped_in_caches_ = 0;
  mutable std::vector<std::shared_ptr<StreamEvalSource>> streams_;
};

}  // namespace sct
