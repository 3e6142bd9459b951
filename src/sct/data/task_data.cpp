#include "sct/data/task_data.h"

#include "sct/core/error.h"

namespace sct {

TaskData::TaskData(const TaskSource& source) {
  if (source.task.empty()) throw Error("no task given");
  if (source.data.empty()) {
    if (source.task != kFashionMnist1kName)
      throw Error("task " + source.task + " needs a data root (--data; only " + kFashionMnist1kName +
                  " is built in, from Debian's Fashion-MNIST)");
    builtin_ = std::make_shared<FashionMnist1k>(load_fashion_mnist_1k());
    name_ = kFashionMnist1kName;
    num_classes_ = 10;
  } else {
    disk_ = open_vtab_task(source.data, source.task, source.num_classes);
    name_ = disk_->name;
    num_classes_ = disk_->num_classes;
  }
}

std::vector<std::string> TaskData::class_names() const {
  std::vector<std::string> names;
  if (name_ == kFashionMnist1kName && num_classes_ == 10) {
    const auto& fm = fashion_mnist_class_names();
    return {fm.begin(), fm.end()};
  }
  for (int64_t c = 0; c < num_classes_; ++c) names.push_back(std::to_string(c));
  return names;
}

std::shared_ptr<const ImageCache> TaskData::cache(VtabSplit split, int64_t size) const {
  if (builtin_) return std::make_shared<const ImageCache>(ImageCache::from_images(builtin_->split(split), size));
  return std::make_shared<const ImageCache>(ImageCache::from_records(disk_->read_split(split), size));
}

std::shared_ptr<EvalSource> TaskData::eval_source(VtabSplit split, int64_t size, const Normalization& normalization,
                                                  int64_t batch_size) const {
  if (builtin_) return std::make_shared<CacheEvalSource>(cache(split, size), normalization, batch_size);
  EvalStreamOptions options;
  options.image_size = size;
  options.batch_size = batch_size;
  options.normalization = normalization;
  return std::make_shared<StreamEvalSource>(disk_->read_split(split), options);
}

}  // namespace sct
