// fashion-mnist-1k: a VTAB-1K-shaped task built from Debian's Fashion-MNIST (package fashion-mnist),
// so the whole pipeline can be exercised on real images without downloading anything.
//
// - train800 / val200: for each of the 10 classes, 100 of the 6,000 training images of that class,
//   drawn with a fixed seed; the first 80 go to train800, the other 20 to val200. Each list is then
//   shuffled (seeded too), so no prefix of it is class-sorted.
// - train800val200 = train800 followed by val200 (1,000 images, 100 per class).
// - test = the 10,000 official test images, in file order.
// Images are 28 x 28 grey, replicated to RGB.
//
// The same task can be written to disk in NOAH's VTAB-1K layout (write_fashion_mnist_1k) and read back
// with open_vtab_task(root, "fashion-mnist-1k"); both paths give identical pixels.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "sct/data/image_set.h"
#include "sct/data/vtab_task.h"
#include "sct/data/vtab_task_writer.h"

namespace sct {

inline constexpr char kFashionMnist1kName[] = "fashion-mnist-1k";
inline constexpr char kFashionMnistName[] = "fashion-mnist";
inline constexpr char kDebianFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";
inline constexpr uint64_t kFashionMnist1kSeed = 42;

// The class names of labels 0..9.
const std::array<std::string, 10>& fashion_mnist_class_names();

struct FashionMnist1k : TaskSplits {
  uint64_t seed = kFashionMnist1kSeed;
  // Index into train-images-idx3 of each train800val200 image (its first 800 = train800's).
  std::vector<int64_t> train800val200_source;
};

// Reads {train,t10k}-{images-idx3,labels-idx1}-ubyte(.gz) from `dir` and draws the splits.
// Throws sct::Error naming a missing or malformed file.
FashionMnist1k load_fashion_mnist_1k(const std::string& dir = kDebianFashionMnistDir,
                                     uint64_t seed = kFashionMnist1kSeed);

// The whole of Fashion-MNIST as a task ("fashion-mnist"; with --shots, its few-shot draws): train800 =
// the first 50,000 training images, val200 = the last 10,000, train800val200 = all 60,000, test = the
// 10,000 official test images, each in file order.
TaskSplits load_fashion_mnist(const std::string& dir = kDebianFashionMnistDir);

// Writes <root>/fashion-mnist-1k/{train800,val200,train800val200,test}.txt and
// images/<split>/NNNNNN.png (8-bit grey PNGs, as NOAH's extraction writes one file per split entry),
// plus a stamp file naming the seed. The folder is built under a temporary name and renamed into place,
// so it is either complete or absent. If it already exists with the same stamp, nothing is written;
// with a different or no stamp, throws sct::Error rather than mixing two drawings. Returns the folder.
std::string write_fashion_mnist_1k(const FashionMnist1k& task, const std::string& root, int threads = 0);

}  // namespace sct
