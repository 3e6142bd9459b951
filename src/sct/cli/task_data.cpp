#include "sct/cli/task_data.h"

#include <CLI/CLI.hpp>

#include "sct/core/error.h"

namespace sct::cli {

void TaskFlags::add_to(CLI::App& cmd, bool required) {
  auto* opt = cmd.add_option("--task", task,
                             "VTAB-1K task (e.g. cifar100, caltech101) or fashion-mnist-1k, which needs no --data");
  if (required) opt->required();
  cmd.add_option("--data", data, "root folder of the VTAB-1K tasks as NOAH extracts them (<root>/<task>/*.txt)");
  cmd.add_option("--classes", num_classes, "class count, for a task outside the registry");
}

TaskData::TaskData(const TaskFlags& flags) {
  if (flags.task.empty()) throw Error("--task is required");
  if (flags.data.empty()) {
    if (flags.task != kFashionMnist1kName)
      throw Error("--task " + flags.task + " needs --data ROOT (only " + kFashionMnist1kName +
                  " is built in, from Debian's Fashion-MNIST)");
    builtin_ = std::make_shared<FashionMnist1k>(load_fashion_mnist_1k());
    name_ = kFashionMnist1kName;
    num_classes_ = 10;
  } else {
    disk_ = open_vtab_task(flags.data, flags.task, flags.num_classes);
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

}  // namespace sct::cli
