#include "sct/data/task_data.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <ostream>
#include <random>
#include <set>

#include "sct/core/deterministic_random.h"
#include "sct/core/error.h"
#include "sct/data/fashion_mnist_1k.h"
#include "sct/data/few_shot.h"
#include "sct/data/image_folder.h"

namespace sct {

namespace {

namespace fs = std::filesystem;

using Splits = TaskData::Splits;

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
Splits read_split_folders(const fs::path& root, std::vector<std::string>& classes, int64_t& ignored,
                          std::string& first_ignored) {
  const ImageFolder train = read_image_folder((root / "train").string());
  classes = train.classes;
  ignored = train.ignored_files;
  first_ignored = train.first_ignored;
  Splits s;
  s[VtabSplit::Train800] = train.records;
  for (const auto& [split, name] : {std::pair{VtabSplit::Val200, "val"}, std::pair{VtabSplit::Test, "test"}}) {
    if (!fs::is_directory(root / name)) continue;
    const ImageFolder f = read_image_folder((root / name).string());
    ignored += f.ignored_files;
    if (first_ignored.empty()) first_ignored = f.first_ignored;
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
                           std::vector<std::string>& classes, int64_t& ignored, std::string& first_ignored) {
  if (fractions.size() != 3 || fractions[0] <= 0.0 || fractions[1] < 0.0 || fractions[2] < 0.0 ||
      std::abs(fractions[0] + fractions[1] + fractions[2] - 1.0) > 1e-6)
    throw Error("split fractions must be three numbers train,val,test >= 0 that sum to 1, with train > 0");
  const ImageFolder folder = read_image_folder(root.string());
  classes = folder.classes;
  ignored = folder.ignored_files;
  first_ignored = folder.first_ignored;
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

// The list file of split `stem` in `root`: <stem>.txt, .csv or .list, or "" when none exists.
std::string find_list(const fs::path& root, const std::string& stem) {
  for (const char* ext : {".txt", ".csv", ".list"})
    if (fs::is_regular_file(root / (stem + ext))) return (root / (stem + ext)).string();
  return "";
}

// Class names, one per line, from a classes.txt beside the lists.
std::vector<std::string> read_class_names(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read " + path.string());
  std::vector<std::string> names;
  std::string line;
  int blank_line = 0;  // blank lines may only end the file
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    if (line_no == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // a UTF-8 byte-order mark
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    if (line.empty()) {
      if (blank_line == 0) blank_line = line_no;
      continue;
    }
    if (blank_line != 0)
      throw Error(path.string() + ":" + std::to_string(blank_line) + ": an empty class name");
    if (std::find(names.begin(), names.end(), line) != names.end())
      throw Error(path.string() + ":" + std::to_string(line_no) + ": class name '" + line + "' appears twice");
    names.push_back(line);
  }
  if (names.empty()) throw Error(path.string() + " names no class");
  return names;
}

// ROOT/{train,val,test}.{txt,csv,list} (stems from `lists`), paths relative to ROOT.
Splits read_list_folder(const fs::path& root, const std::vector<std::string>& lists, int64_t num_classes) {
  if (lists.size() != 3) throw Error("--lists takes three list names: train,val,test");
  Splits s;
  const VtabSplit splits[] = {VtabSplit::Train800, VtabSplit::Val200, VtabSplit::Test};
  for (size_t i = 0; i < 3; ++i) {
    const std::string path = find_list(root, lists[i]);
    if (path.empty()) continue;
    ListOptions options{num_classes};
    if (fs::path(path).extension() == ".csv") options.separator = ',';
    s[splits[i]] = read_image_list(path, root.string(), options);
  }
  join_train_val(s);
  return s;
}

// A class scored in val or test but never trained on cannot be learned: named, not trained around.
void check_no_class_only_in_eval(const Splits& s, const std::vector<std::string>& classes, const std::string& where) {
  std::vector<bool> trained(classes.size(), false);
  for (const ImageRecord& r : s.at(VtabSplit::Train800Val200)) trained[size_t(r.label)] = true;
  for (const auto& [split, records] : s)
    for (const ImageRecord& r : records)
      if (!trained[size_t(r.label)])
        throw Error(r.origin + ": class " + std::to_string(r.label) + " (" + classes[size_t(r.label)] + ") is in " +
                    vtab_split_name(split) + " but has no training image in " + where + ": it cannot be learned");
}

// K of each class's items, drawn from their labels (seeded per class): the indices kept. Classes are
// named by `names` where given.
std::vector<int64_t> draw_shot_indices(const std::vector<int64_t>& labels, int64_t classes, int64_t shots,
                                       uint64_t seed, const std::string& where,
                                       const std::vector<std::string>& names = {}) {
  std::vector<std::vector<int64_t>> by_class(static_cast<size_t>(classes));
  for (size_t i = 0; i < labels.size(); ++i) by_class[size_t(labels[i])].push_back(int64_t(i));
  std::vector<int64_t> kept;
  for (size_t c = 0; c < by_class.size(); ++c) {
    if (int64_t(by_class[c].size()) < shots)
      throw Error(where + ": class " + (c < names.size() ? names[c] : std::to_string(c)) + " has " +
                  std::to_string(by_class[c].size()) + " training images, fewer than --shots " +
                  std::to_string(shots));
    std::mt19937_64 rng(derive_seed(seed, c));
    deterministic_shuffle(by_class[c], rng);
    kept.insert(kept.end(), by_class[c].begin(), by_class[c].begin() + shots);
  }
  return kept;
}

// K records per class drawn from train800; they become both training splits.
void draw_shots(Splits& s, int64_t classes, int64_t shots, uint64_t seed, const std::vector<std::string>& names,
                const std::string& where) {
  const std::vector<ImageRecord>& train = s[VtabSplit::Train800];
  std::vector<int64_t> labels;
  for (const ImageRecord& r : train) labels.push_back(r.label);
  std::vector<ImageRecord> drawn;
  for (int64_t i : draw_shot_indices(labels, classes, shots, seed, where, names)) drawn.push_back(train[size_t(i)]);
  s[VtabSplit::Train800] = drawn;
  s[VtabSplit::Train800Val200] = std::move(drawn);
}

ImageSet subset(const ImageSet& set, const std::vector<int64_t>& indices) {
  ImageSet out;
  for (int64_t i : indices) {
    out.images.push_back(set.images[size_t(i)]);
    out.labels.push_back(set.labels[size_t(i)]);
  }
  return out;
}

// `path` resolved (links, "..", a trailing "/"), or made absolute when it cannot be.
std::string real_path(const fs::path& path) {
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::absolute(path), ec);
  if (ec) p = fs::absolute(path).lexically_normal();
  std::string s = p.string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

// A file outside the data root (absolute path, "../", a symlink) is refused: a list should not make
// sct read files the user did not hand it.
void check_inside_root(const Splits& s, const fs::path& root) {
  const std::string base = real_path(root) + "/";
  std::set<std::string> seen;
  for (const auto& [split, records] : s)
    for (const ImageRecord& r : records) {
      if (!seen.insert(r.path).second) continue;
      const std::string real = real_path(r.path);
      if (real.compare(0, base.size(), base) != 0)
        throw Error(r.origin + ": " + r.path + " lies outside the data root " + root.string() + " (it resolves to " +
                    real + "); --allow-outside-root reads it anyway");
    }
}

// Files both trained on and tested on inflate the test score: warned, not refused (some datasets do).
void warn_duplicates(const Splits& s, std::ostream& log) {
  std::set<std::string> train;
  for (const ImageRecord& r : s.at(VtabSplit::Train800Val200)) train.insert(fs::path(r.path).lexically_normal().string());
  const auto it = s.find(VtabSplit::Test);
  if (it == s.end()) return;
  int64_t both = 0;
  std::string first;
  for (const ImageRecord& r : it->second)
    if (train.count(fs::path(r.path).lexically_normal().string())) {
      if (both++ == 0) first = r.path;
    }
  if (both > 0)
    log << "data: warning: " << both << " test files are also training files (the first: " << first
        << "): the test score will be optimistic\n";
}

std::string counts(const Splits& s) {
  const auto n = [&](VtabSplit k) { return s.count(k) ? std::to_string(s.at(k).size()) : std::string("0"); };
  return n(VtabSplit::Train800) + " train, " + n(VtabSplit::Val200) + " val, " + n(VtabSplit::Test) + " test images";
}

std::string shots_text(int64_t shots, int64_t seed) {
  return std::to_string(shots) + " per class (shot seed " + std::to_string(seed) + ")";
}

// Every file of every split exists and is a regular file: a stat each, no decoding, so that a missing
// test image stops the run at its start instead of after the training. With skip_bad_images the
// files are counted and left to the decoder to skip.
void check_files_exist(const TaskData::Splits& splits, bool skip_bad_images, const std::string& data,
                       std::ostream& log) {
  std::set<std::string> seen;
  std::vector<std::string> bad;
  int64_t count = 0;
  for (const auto& [split, records] : splits)
    for (const ImageRecord& r : records) {
      if (!seen.insert(r.path).second) continue;
      struct stat info {};
      const bool found = ::stat(r.path.c_str(), &info) == 0;
      const int err = found ? 0 : errno;
      if (found && S_ISREG(info.st_mode)) continue;
      ++count;
      if (bad.size() < 5)
        bad.push_back(r.path + (r.origin.empty() ? "" : " (listed at " + r.origin + ")") +
                      (err == ENOENT ? ": no such file" : ": not a readable regular file"));
    }
  if (count == 0) return;
  std::string list;
  for (const auto& b : bad) list += "\n  " + b;
  if (count > int64_t(bad.size())) list += "\n  ... and " + std::to_string(count - int64_t(bad.size())) + " more";
  if (skip_bad_images) {
    log << "data: " << count << " listed files of " << data << " are missing or not regular files; "
        << "--skip-bad-images leaves them out:" << list << "\n";
    return;
  }
  throw Error(std::to_string(count) + " files of " + (data.empty() ? std::string("the data") : data) +
              " are missing or not regular files:" + list +
              "\n(--skip-bad-images leaves unreadable images out; --no-check-data skips this check)");
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
    : data_(source.data), skip_bad_images_(source.skip_bad_images), log_(&log) {
  if (source.shots < 0) throw Error("--shots must be positive, got " + std::to_string(source.shots));
  if (source.shots > std::numeric_limits<int>::max()) throw Error("--shots " + std::to_string(source.shots) + " is too large");
  origin_ = source.data.empty() ? "built-in " + source.task : real_path(source.data) +
                                                                  (source.task.empty() ? "" : ", task " + source.task);
  if (source.shots > 0) origin_ += ", " + shots_text(source.shots, source.shot_seed);
  std::string layout;
  if (source.data.empty()) {
    if (source.task.empty()) throw Error("no task given: name one with --task, or point --data at a dataset");
    if (source.task == kFashionMnist1kName) {
      builtin_ = std::make_shared<TaskSplits>(load_fashion_mnist_1k());
      layout = "fashion-mnist-1k, drawn from Debian's Fashion-MNIST";
    } else if (source.task == kFashionMnistName) {
      builtin_ = std::make_shared<TaskSplits>(load_fashion_mnist());
      layout = "Debian's Fashion-MNIST (50,000 train, 10,000 val, 10,000 test)";
    } else {
      throw Error("task " + source.task + " needs a data root (--data; built in are " + kFashionMnist1kName + " and " +
                  kFashionMnistName + ", from Debian's Fashion-MNIST)");
    }
    name_ = source.task;
    const auto& fm = fashion_mnist_class_names();
    class_names_.assign(fm.begin(), fm.end());
    if (source.num_classes > 0 && source.num_classes != num_classes())
      throw Error(name_ + " has 10 classes, --classes says " + std::to_string(source.num_classes));
    if (source.shots > 0) {
      const auto kept = draw_shot_indices(builtin_->train800.labels, num_classes(), source.shots,
                                          uint64_t(source.shot_seed), name_);
      builtin_->train800 = subset(builtin_->train800, kept);
      builtin_->train800val200 = builtin_->train800;
      layout += "; training images " + shots_text(source.shots, source.shot_seed) + " drawn from train";
    }
    log << "data: " << name_ << ": " << layout << "\n";
    return;
  }

  const fs::path root = source.data;
  if (!fs::is_directory(root)) throw Error("--data " + source.data + " is not a folder");
  bool shots_drawn = false;  // NOAH's roots list their own draws
  const bool vtab = !source.task.empty() || is_vtab_task_folder(root);
  if (vtab) {
    // A VTAB root and a task in it, or one VTAB task folder.
    const bool one = source.task.empty();
    const VtabTask task = open_vtab_task(one ? root.parent_path().string() : source.data,
                                         one ? root.filename().string() : source.task, source.num_classes);
    name_ = task.name;
    class_names_ = numbered(task.num_classes);
    for (VtabSplit s : {VtabSplit::Train800, VtabSplit::Val200, VtabSplit::Train800Val200, VtabSplit::Test})
      splits_[s] = task.read_split(s);
    layout = "VTAB-1K task folder " + task.dir + " (NOAH's layout)";
  } else {
    for (const auto& entry : fs::directory_iterator(root))
      if (is_vtab_task_folder(entry.path()))
        throw Error(source.data + " is a VTAB-1K root (" + entry.path().filename().string() +
                    " is one of its tasks): name the task with --task");
    name_ = root.filename().string();
    if (name_.empty()) name_ = root.parent_path().filename().string();  // "data/" names "data"
    int64_t ignored = 0;
    std::string first_ignored;
    if (is_few_shot_root(source.data)) {
      if (source.shots <= 0)
        throw Error(source.data + " holds NOAH's few-shot lists: choose one with --shots (1, 2, 4, 8 or 16) and "
                    "--shot-seed (0, 1 or 2)");
      const FewShotDataset* known = find_few_shot_dataset(name_);
      int64_t classes = source.num_classes;
      if (known != nullptr) {
        if (classes > 0 && classes != known->num_classes)
          throw Error(name_ + " has " + std::to_string(known->num_classes) + " classes, --classes says " +
                      std::to_string(classes));
        name_ = known->name;
        classes = known->num_classes;
      }
      const FewShotSplits fs_splits = open_few_shot(source.data, int(source.shots), int(source.shot_seed), classes);
      if (classes <= 0)
        classes = std::max({count_classes(fs_splits.train), count_classes(fs_splits.val), count_classes(fs_splits.test)});
      class_names_ = numbered(classes);
      splits_[VtabSplit::Train800] = splits_[VtabSplit::Train800Val200] = fs_splits.train;
      splits_[VtabSplit::Val200] = fs_splits.val;
      splits_[VtabSplit::Test] = fs_splits.test;
      layout = "NOAH's few-shot lists " + source.data + "/annotations, " + shots_text(source.shots, source.shot_seed);
      shots_drawn = true;
    } else if (!find_list(root, source.lists.at(0)).empty()) {
      const fs::path names = root / "classes.txt";
      if (fs::exists(names)) class_names_ = read_class_names(names);
      int64_t classes = int64_t(class_names_.size());
      if (classes > 0 && source.num_classes > 0 && classes != source.num_classes)
        throw Error(names.string() + " names " + std::to_string(classes) + " classes, --classes says " +
                    std::to_string(source.num_classes));
      if (classes == 0) classes = source.num_classes;
      splits_ = read_list_folder(root, source.lists, classes);
      if (class_names_.empty()) {
        int64_t n = 0;
        for (const auto& [split, records] : splits_) n = std::max(n, count_classes(records));
        class_names_ = numbered(n);
      }
      layout = "list files " + find_list(root, source.lists[0]) + " (and " + source.lists[1] + ", " + source.lists[2] +
               ")" + (fs::exists(names) ? ", class names from classes.txt" : "");
    } else if (fs::is_directory(root / "train")) {
      splits_ = read_split_folders(root, class_names_, ignored, first_ignored);
      layout = "image folders " + source.data + "/{train,val,test}/<class>";
    } else {
      splits_ = split_class_folders(root, source.split, source.split_seed, class_names_, ignored, first_ignored);
      layout = "image folders " + source.data + "/<class>, split per class " + std::to_string(source.split[0]) + "/" +
               std::to_string(source.split[1]) + "/" + std::to_string(source.split[2]) + " (seed " +
               std::to_string(source.split_seed) + ")";
    }
    if (ignored > 0)
      layout += "; " + std::to_string(ignored) + " non-image files ignored (the first: " + first_ignored + ")";
    if (source.num_classes > 0 && source.num_classes != num_classes())
      throw Error(source.data + " holds " + std::to_string(class_names_.size()) + " classes, --classes says " +
                  std::to_string(source.num_classes));
  }
  if (!source.allow_outside_root) check_inside_root(splits_, root);
  if (!vtab) check_no_class_only_in_eval(splits_, class_names_, source.data);
  if (source.shots > 0 && !shots_drawn) {
    draw_shots(splits_, num_classes(), source.shots, uint64_t(source.shot_seed), class_names_, source.data);
    layout += "; training images " + shots_text(source.shots, source.shot_seed) + " drawn from train";
  }
  if (source.check_data) check_files_exist(splits_, source.skip_bad_images, source.data, log);
  warn_duplicates(splits_, log);
  log << "data: " << name_ << ": " << layout << ": " << class_names_.size() << " classes, " << counts(splits_) << "\n";
}

const std::vector<ImageRecord>& TaskData::records(VtabSplit split) const {
  const auto it = splits_.find(split);
  if (it == splits_.end() || it->second.empty())
    throw Error(data_ + " has no " + vtab_split_name(split) + " images");
  return it->second;
}

std::shared_ptr<const ImageCache> TaskData::cache(VtabSplit split, int64_t size) const {
  if (builtin_) return std::make_shared<const ImageCache>(ImageCache::from_images(builtin_->split(split), size));
  CacheOptions options;
  options.skip_bad_images = skip_bad_images_;
  auto cache = std::make_shared<const ImageCache>(ImageCache::from_records(records(split), size, options));
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
  streams_.push_back(std::make_shared<StreamEvalSource>(records(split), options));
  return streams_.back();
}

}  // namespace sct
