#include "sct/data/task_data.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <ostream>
#include <random>

#include "sct/core/deterministic_random.h"
#include "sct/core/error.h"
#include "sct/data/image_folder.h"

namespace sct {

namespace {

namespace fs = std::filesystem;

using Splits = std::map<VtabSplit, std::vector<ImageRecord>>;

std::vector<std::string> numbered(int64_t n) {
  std::vector<std::string> names;
  for (int64_t c = 0; c < n; ++c) names.push_back(std::to_string(c));
  return names;
}

bool is_vtab_task_folder(const fs::path& dir) { return fs::is_regular_file(dir / "train800val200.txt"); }

// train800val200 = train800 + val200, as in VTAB-1K.
void join_train_val(Splits& s) {
  std::vector<ImageRecord> all = s[VtabSplit::Train800];
  const auto& val = s[VtabSplit::Val200];
  all.insert(all.end(), val.begin(), val.end());
  s[VtabSplit::Train800Val200] = std::move(all);
}

// ROOT/{train,val,test}/<class>/*: train's classes; val and test may hold fewer, never others.
Splits read_split_folders(const fs::path& root, std::vector<std::string>& classes) {
  const ImageFolder train = read_image_folder((root / "train").string());
  classes = train.classes;
  Splits s;
  s[VtabSplit::Train800] = train.records;
  for (const auto& [split, name] : {std::pair{VtabSplit::Val200, "val"}, std::pair{VtabSplit::Test, "test"}}) {
    if (!fs::is_directory(root / name)) continue;
    const ImageFolder f = read_image_folder((root / name).string());
    std::vector<ImageRecord>& out = s[split];
    for (const ImageRecord& r : f.records) {
      const std::string& cls = f.classes[size_t(r.label)];
      const auto it = std::find(classes.begin(), classes.end(), cls);
      if (it == classes.end())
        throw Error("class folder " + (root / name / cls).string() + " has no counterpart in " +
                    (root / "train").string() + ": a class only in " + name + " cannot be learned");
      out.push_back({r.path, int64_t(it - classes.begin()), r.origin});
    }
  }
  join_train_val(s);
  return s;
}

// ROOT/<class>/*, each class split by `fractions` (train, val, test) after a seeded shuffle.
Splits split_class_folders(const fs::path& root, const std::vector<double>& fractions, uint64_t seed,
                           std::vector<std::string>& classes) {
  if (fractions.size() != 3 || fractions[0] <= 0.0 || fractions[1] < 0.0 || fractions[2] < 0.0 ||
      std::abs(fractions[0] + fractions[1] + fractions[2] - 1.0) > 1e-6)
    throw Error("split fractions must be three numbers train,val,test >= 0 that sum to 1, with train > 0");
  const ImageFolder folder = read_image_folder(root.string());
  classes = folder.classes;
  std::vector<std::vector<ImageRecord>> by_class(classes.size());
  for (const ImageRecord& r : folder.records) by_class[size_t(r.label)].push_back(r);
  Splits s;
  for (size_t c = 0; c < by_class.size(); ++c) {
    std::vector<ImageRecord>& images = by_class[c];
    std::mt19937_64 rng(derive_seed(seed, c));
    deterministic_shuffle(images, rng);
    const auto n = double(images.size());
    const auto n_val = size_t(std::llround(n * fractions[1]));
    const auto n_test = size_t(std::llround(n * fractions[2]));
    if (n_val + n_test >= images.size())
      throw Error("class folder " + (root / classes[c]).string() + " has " + std::to_string(images.size()) +
                  " images: too few to keep one for training after the val and test fractions");
    auto at = images.begin();
    s[VtabSplit::Test].insert(s[VtabSplit::Test].end(), at, at + std::ptrdiff_t(n_test));
    at += std::ptrdiff_t(n_test);
    s[VtabSplit::Val200].insert(s[VtabSplit::Val200].end(), at, at + std::ptrdiff_t(n_val));
    at += std::ptrdiff_t(n_val);
    s[VtabSplit::Train800].insert(s[VtabSplit::Train800].end(), at, images.end());
  }
  join_train_val(s);
  return s;
}

std::string counts(const Splits& s) {
  const auto n = [&](VtabSplit k) { return s.count(k) ? std::to_string(s.at(k).size()) : std::string("0"); };
  return n(VtabSplit::Train800) + " train, " + n(VtabSplit::Val200) + " val, " + n(VtabSplit::Test) + " test images";
}

}  // namespace

bool has_vtab_task(const std::string& root, const std::string& task) {
  try {
    open_vtab_task(root, task);
    return true;
  } catch (const Error&) {
    return false;
  }
}

TaskData::TaskData(const TaskSource& source, std::ostream& log)
    : skip_bad_images_(source.skip_bad_images), log_(&log) {
  if (source.data.empty()) {
    if (source.task.empty()) throw Error("no task given: name one with --task, or point --data at a dataset");
    if (source.task != kFashionMnist1kName)
      throw Error("task " + source.task + " needs a data root (--data; only " + kFashionMnist1kName +
                  " is built in, from Debian's Fashion-MNIST)");
    builtin_ = std::make_shared<FashionMnist1k>(load_fashion_mnist_1k());
    name_ = kFashionMnist1kName;
    const auto& fm = fashion_mnist_class_names();
    class_names_.assign(fm.begin(), fm.end());
    layout_ = "fashion-mnist-1k, drawn from Debian's Fashion-MNIST";
  } else {
    const fs::path root = source.data;
    if (!fs::is_directory(root)) throw Error("--data " + source.data + " is not a folder");
    if (!source.task.empty() || is_vtab_task_folder(root)) {
      // A VTAB root and a task in it, or one VTAB task folder.
      const bool one = source.task.empty();
      const VtabTask task = open_vtab_task(one ? root.parent_path().string() : source.data,
                                           one ? root.filename().string() : source.task, source.num_classes);
      name_ = task.name;
      class_names_ = numbered(task.num_classes);
      records_ = [task](VtabSplit split) { return task.read_split(split); };
      layout_ = "VTAB-1K task folder " + task.dir + " (NOAH's layout)";
    } else {
      for (const auto& entry : fs::directory_iterator(root))
        if (is_vtab_task_folder(entry.path()))
          throw Error(source.data + " is a VTAB-1K root (" + entry.path().filename().string() +
                      " is one of its tasks): name the task with --task");
      name_ = root.filename().string();
      if (name_.empty()) name_ = root.parent_path().filename().string();  // "data/" names "data"
      Splits splits;
      if (fs::is_directory(root / "train")) {
        splits = read_split_folders(root, class_names_);
        layout_ = "image folders " + source.data + "/{train,val,test}/<class>";
      } else {
        splits = split_class_folders(root, source.split, source.split_seed, class_names_);
        layout_ = "image folders " + source.data + "/<class>, split per class " + std::to_string(source.split[0]) +
                  "/" + std::to_string(source.split[1]) + "/" + std::to_string(source.split[2]) + " (seed " +
                  std::to_string(source.split_seed) + ")";
      }
      layout_ += ": " + std::to_string(class_names_.size()) + " classes, " + counts(splits);
      if (source.num_classes > 0 && source.num_classes != int64_t(class_names_.size()))
        throw Error(source.data + " holds " + std::to_string(class_names_.size()) + " class folders, --classes says " +
                    std::to_string(source.num_classes));
      records_ = [splits, data = source.data](VtabSplit split) {
        const auto it = splits.find(split);
        if (it == splits.end() || it->second.empty())
          throw Error(data + " has no " + (split == VtabSplit::Test ? "test" : "val") + " images (" +
                      (split == VtabSplit::Test ? "test/<class>" : "val/<class>") +
                      " folders, or an unsplit class-folder dataset)");
        return it->second;
      };
    }
  }
  log << "data: " << name_ << ": " << layout_ << "\n";
}

std::shared_ptr<const ImageCache> TaskData::cache(VtabSplit split, int64_t size) const {
  if (builtin_) return std::make_shared<const ImageCache>(ImageCache::from_images(builtin_->split(split), size));
  CacheOptions options;
  options.skip_bad_images = skip_bad_images_;
  auto cache = std::make_shared<const ImageCache>(ImageCache::from_records(records_(split), size, options));
  if (!cache->skipped().empty()) {
    skipped_in_caches_ += int64_t(cache->skipped().size());
    *log_ << "data: left out " << cache->skipped().size() << " unreadable images of " << vtab_split_name(split)
          << " (--skip-bad-images), the first: " << cache->skipped().front() << "\n";
  }
  return cache;
}

int64_t TaskData::skipped_images() const {
  int64_t n = skipped_in_caches_;
  for (const auto& s : streams_) n += int64_t(s->skipped().size());
  return n;
}

std::shared_ptr<EvalSource> TaskData::eval_source(VtabSplit split, int64_t size, const Normalization& normalization,
                                                  int64_t batch_size) const {
  if (builtin_) return std::make_shared<CacheEvalSource>(cache(split, size), normalization, batch_size);
  EvalStreamOptions options;
  options.image_size = size;
  options.batch_size = batch_size;
  options.normalization = normalization;
  options.cache.skip_bad_images = skip_bad_images_;
  streams_.push_back(std::make_shared<StreamEvalSource>(records_(split), options));
  return streams_.back();
}

}  // namespace sct
