#include "sct/data/fashion_mnist_1k.h"

#include <filesystem>
#include <numeric>
#include <opencv2/imgproc.hpp>

#include "sct/core/deterministic_random.h"
#include "sct/core/error.h"
#include "sct/data/idx_file.h"
#include "sct/data/vtab_task_writer.h"

namespace fs = std::filesystem;

namespace sct {
namespace {

constexpr int kClasses = 10;
constexpr int kTrainPerClass = 80;
constexpr int kValPerClass = 20;
// Random streams derived from the seed: one per class for the draw, then one per list order.
constexpr uint64_t kTrainOrderStream = 100;
constexpr uint64_t kValOrderStream = 101;

// Debian ships the files gzipped; accept them unpacked too.
std::string idx_path(const std::string& dir, const std::string& stem) {
  const fs::path gz = fs::path(dir) / (stem + ".gz");
  const fs::path plain = fs::path(dir) / stem;
  if (fs::exists(gz) || !fs::exists(plain)) return gz.string();
  return plain.string();
}

struct IdxImages {
  IdxArray images;  // (N, 28, 28)
  IdxArray labels;  // (N)
};

IdxImages read_pair(const std::string& dir, const std::string& prefix) {
  IdxImages d;
  const std::string images = idx_path(dir, prefix + "-images-idx3-ubyte");
  const std::string labels = idx_path(dir, prefix + "-labels-idx1-ubyte");
  d.images = read_idx_file(images);
  d.labels = read_idx_file(labels);
  if (d.images.dims.size() != 3) throw Error(images + ": expected a 3-D (N, H, W) array");
  if (d.labels.dims.size() != 1 || d.labels.dims[0] != d.images.dims[0])
    throw Error(labels + ": expected " + std::to_string(d.images.dims[0]) + " labels to match " + images);
  for (size_t i = 0; i < d.labels.data.size(); ++i)
    if (d.labels.data[i] >= kClasses)
      throw Error(labels + ": label " + std::to_string(d.labels.data[i]) + " of item " + std::to_string(i) +
                  " out of range [0, 10)");
  return d;
}

cv::Mat rgb_image(const IdxArray& images, int64_t i) {
  const int h = static_cast<int>(images.dims[1]), w = static_cast<int>(images.dims[2]);
  const cv::Mat gray(h, w, CV_8UC1, const_cast<uint8_t*>(images.data.data() + static_cast<size_t>(i) * h * w));
  cv::Mat rgb;
  cv::cvtColor(gray, rgb, cv::COLOR_GRAY2RGB);
  return rgb;
}

void append(ImageSet& set, const IdxImages& d, int64_t i) {
  set.images.push_back(rgb_image(d.images, i));
  set.labels.push_back(d.labels.data[i]);
}

}  // namespace

const std::array<std::string, 10>& fashion_mnist_class_names() {
  static const std::array<std::string, 10> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

FashionMnist1k load_fashion_mnist_1k(const std::string& dir, uint64_t seed) {
  const IdxImages train = read_pair(dir, "train");
  const IdxImages test = read_pair(dir, "t10k");

  std::vector<std::vector<int64_t>> by_class(kClasses);
  for (size_t i = 0; i < train.labels.data.size(); ++i)
    by_class[train.labels.data[i]].push_back(static_cast<int64_t>(i));
  std::vector<int64_t> train_idx, val_idx;
  for (int c = 0; c < kClasses; ++c) {
    std::vector<int64_t>& pool = by_class[c];
    if (pool.size() < static_cast<size_t>(kTrainPerClass + kValPerClass))
      throw Error("fashion-mnist: class " + std::to_string(c) + " has only " + std::to_string(pool.size()) +
                  " training images (need 100)");
    std::mt19937_64 rng(derive_seed(seed, static_cast<uint64_t>(c)));
    deterministic_shuffle(pool, rng);
    train_idx.insert(train_idx.end(), pool.begin(), pool.begin() + kTrainPerClass);
    val_idx.insert(val_idx.end(), pool.begin() + kTrainPerClass, pool.begin() + kTrainPerClass + kValPerClass);
  }
  std::mt19937_64 train_rng(derive_seed(seed, kTrainOrderStream)), val_rng(derive_seed(seed, kValOrderStream));
  deterministic_shuffle(train_idx, train_rng);
  deterministic_shuffle(val_idx, val_rng);

  FashionMnist1k task;
  task.seed = seed;
  for (int64_t i : train_idx) append(task.train800, train, i);
  for (int64_t i : val_idx) append(task.val200, train, i);
  task.train800val200 = task.train800;
  task.train800val200.images.insert(task.train800val200.images.end(), task.val200.images.begin(),
                                    task.val200.images.end());
  task.train800val200.labels.insert(task.train800val200.labels.end(), task.val200.labels.begin(),
                                    task.val200.labels.end());
  task.train800val200_source = train_idx;
  task.train800val200_source.insert(task.train800val200_source.end(), val_idx.begin(), val_idx.end());
  for (int64_t i = 0; i < test.images.dims[0]; ++i) append(task.test, test, i);
  return task;
}

TaskSplits load_fashion_mnist(const std::string& dir) {
  const IdxImages train = read_pair(dir, "train");
  const IdxImages test = read_pair(dir, "t10k");
  constexpr int64_t kVal = 10000;
  if (train.images.dims[0] <= kVal)
    throw Error(dir + ": fashion-mnist: " + std::to_string(train.images.dims[0]) + " training images, need more than " +
                std::to_string(kVal));
  TaskSplits task;
  for (int64_t i = 0; i < train.images.dims[0]; ++i) {
    const cv::Mat image = rgb_image(train.images, i);  // shared by both splits, not copied
    for (ImageSet* set : {&task.train800val200, i < train.images.dims[0] - kVal ? &task.train800 : &task.val200}) {
      set->images.push_back(image);
      set->labels.push_back(train.labels.data[size_t(i)]);
    }
  }
  for (int64_t i = 0; i < test.images.dims[0]; ++i) append(task.test, test, i);
  return task;
}

std::string write_fashion_mnist_1k(const FashionMnist1k& task, const std::string& root, int threads) {
  const std::string stamp = std::string(kFashionMnist1kName) + " version 1 seed " + std::to_string(task.seed) + "\n";
  return write_vtab_task(kFashionMnist1kName, task, stamp, root, threads);
}

}  // namespace sct
